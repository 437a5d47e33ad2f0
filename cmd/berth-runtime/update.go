package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/container"
)

// cmdUpdate is runc's `update`: it changes a live container's cgroup limits, from a resources
// JSON file (-r, "-" for stdin) and/or flags; flags win over the file.
func cmdUpdate(g *globals, args []string) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	var resFile string
	fs.StringVar(&resFile, "resources", "", "path to a LinuxResources JSON file (- for stdin)")
	fs.StringVar(&resFile, "r", "", "path to a LinuxResources JSON file (- for stdin)")
	// Kept as strings so that "not given" differs from zero, and memory takes runc's units.
	str := map[string]*string{}
	for _, f := range []struct{ name, usage string }{
		{"memory", "memory limit in bytes (k, m, g suffixes; -1 unlimited)"},
		{"memory-reservation", "memory soft limit in bytes"},
		{"memory-swap", "memory+swap limit in bytes (-1 unlimited)"},
		{"cpu-shares", "CPU shares (relative weight)"},
		{"cpu-quota", "CPU CFS quota in microseconds (-1 unlimited)"},
		{"cpu-period", "CPU CFS period in microseconds"},
		{"cpu-rt-period", "CPU realtime period in microseconds"},
		{"cpu-rt-runtime", "CPU realtime runtime in microseconds"},
		{"cpuset-cpus", "CPUs allowed (e.g. 0-1)"},
		{"cpuset-mems", "memory nodes allowed (e.g. 0)"},
		{"pids-limit", "maximum number of processes (-1 unlimited)"},
		{"blkio-weight", "block IO weight (10-1000)"},
	} {
		str[f.name] = fs.String(f.name, "", f.usage)
	}
	var ignored string
	fs.StringVar(&ignored, "kernel-memory", "", "kernel memory limit (refused: the kernel ignores it)")
	fs.StringVar(&ignored, "kernel-memory-tcp", "", "kernel TCP memory limit (not supported by update)")
	fs.StringVar(&ignored, "l3-cache-schema", "", "Intel RDT (not supported)")
	fs.StringVar(&ignored, "mem-bw-schema", "", "Intel RDT (not supported)")
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if ignored != "" {
		return fmt.Errorf("update: --kernel-memory, --kernel-memory-tcp and Intel RDT schemas are not supported")
	}
	r := &specs.LinuxResources{}
	if resFile != "" {
		var data []byte
		if resFile == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(resFile)
		}
		if err != nil {
			return fmt.Errorf("update: read resources: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(r); err != nil {
			return fmt.Errorf("update: parse resources %s: %w", resFile, err)
		}
	}
	given := func(name string) (string, bool) {
		v := *str[name]
		return v, v != ""
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, f := range []struct {
		name string
		set  func(int64)
	}{
		{"memory", func(v int64) { mem().Limit = &v }},
		{"memory-reservation", func(v int64) { mem().Reservation = &v }},
		{"memory-swap", func(v int64) { mem().Swap = &v }},
	} {
		if s, ok := given(f.name); ok {
			v, err := parseBytes(s)
			if err != nil {
				return fmt.Errorf("update: --%s: %w", f.name, err)
			}
			f.set(v)
		}
	}
	for _, f := range []struct {
		name string
		set  func(int64) error
	}{
		{"cpu-quota", func(v int64) error { cpu().Quota = &v; return nil }},
		{"cpu-rt-runtime", func(v int64) error { cpu().RealtimeRuntime = &v; return nil }},
		{"pids-limit", func(v int64) error { r.Pids = &specs.LinuxPids{Limit: &v}; return nil }},
		{"cpu-shares", func(v int64) error {
			if v < 0 {
				return fmt.Errorf("must not be negative")
			}
			u := uint64(v)
			cpu().Shares = &u
			return nil
		}},
		{"cpu-period", func(v int64) error {
			if v < 0 {
				return fmt.Errorf("must not be negative")
			}
			u := uint64(v)
			cpu().Period = &u
			return nil
		}},
		{"cpu-rt-period", func(v int64) error {
			if v < 0 {
				return fmt.Errorf("must not be negative")
			}
			u := uint64(v)
			cpu().RealtimePeriod = &u
			return nil
		}},
		{"blkio-weight", func(v int64) error {
			if v < 10 || v > 1000 {
				return fmt.Errorf("want 10-1000")
			}
			w := uint16(v)
			r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
			return nil
		}},
	} {
		if s, ok := given(f.name); ok {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("update: --%s: invalid number %q", f.name, s)
			}
			if err := f.set(v); err != nil {
				return fmt.Errorf("update: --%s %s: %w", f.name, s, err)
			}
		}
	}
	if s, ok := given("cpuset-cpus"); ok {
		cpu().Cpus = s
	}
	if s, ok := given("cpuset-mems"); ok {
		cpu().Mems = s
	}
	c, err := container.Load(g.root, rest[0])
	if err != nil {
		return err
	}
	return c.UpdateResources(r)
}

// parseBytes reads a size as runc's flags take it: a number of bytes with an optional binary
// unit suffix (k, m, g, t, p; with or without a trailing "b"), or -1 for unlimited.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "ib")
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("kmgtp", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || t == "" {
		return 0, fmt.Errorf("invalid size %q (want bytes with an optional k, m, g suffix, or -1)", s)
	}
	b := v * float64(mult)
	if b >= 1<<63 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(b), nil
}
