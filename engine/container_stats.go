package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/oci"
)

// StatsSample is one reading of a container's counters with what Docker's
// stats computes its columns from: CPU time against the host's, memory
// usage less the inactive page cache against the limit (the host's
// memory when the cgroup has none), block I/O and pids. Networking is
// not there yet: NetRx and NetTx stay zero.
type StatsSample struct {
	Read       time.Time
	CPUTotal   uint64 // ns the container's processes ran
	SystemCPU  uint64 // ns of all host CPUs (/proc/stat), the denominator
	OnlineCPUs int
	MemUsage   uint64 // bytes, less inactive file cache, as Docker's CLI shows
	MemLimit   uint64
	BlkRead    uint64
	BlkWrite   uint64
	NetRx      uint64
	NetTx      uint64
	Pids       uint64
}

// ContainerStats reads a running container's counters through its
// runtime (the cgroup files, v1 or v2).
func (e *Engine) ContainerStats(ctx context.Context, c *Container) (StatsSample, error) {
	s := StatsSample{Read: time.Now()}
	if c.State != StateRunning {
		return s, fmt.Errorf("container %s: %w", shortID(c.ID), ErrNotRunning)
	}
	rt, err := e.ociRuntime(c)
	if err != nil {
		return s, err
	}
	var st *cgroups.Stats
	if _, lib := rt.(*oci.Library); lib {
		st, err = rt.Stats(ctx, c.ID)
	} else {
		// Another runtime's binary: its cgroups, found through the
		// init's, read here (crun has no events command; runc's costs
		// an exec a container).
		var m cgroups.Manager
		if m, err = cgroups.OfProcess(c.PID); err == nil {
			st, err = m.Stats()
		}
		if err == nil && !alive(c.PID, c.PIDStart) {
			err = ErrNotRunning
		}
	}
	if err != nil {
		return s, fmt.Errorf("stats of container %s: %w", shortID(c.ID), err)
	}
	s.SystemCPU, s.OnlineCPUs = hostCPU()
	s.CPUTotal = st.CPU.Usage.Total
	if len(st.CPUSet.CPUs) > 0 {
		s.OnlineCPUs = len(st.CPUSet.CPUs)
	}
	mem := st.Memory
	s.MemUsage = mem.Usage.Usage
	// Docker's CLI: v1 subtracts total_inactive_file, v2 inactive_file.
	inactive, ok := mem.Raw["total_inactive_file"]
	if !ok {
		inactive = mem.Raw["inactive_file"]
	}
	if inactive < s.MemUsage {
		s.MemUsage -= inactive
	}
	s.MemLimit = mem.Usage.Limit
	if host := HostMemory(); host > 0 && (s.MemLimit == 0 || s.MemLimit > host) {
		s.MemLimit = host
	}
	for _, b := range st.Blkio.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			s.BlkRead += b.Value
		case "write":
			s.BlkWrite += b.Value
		}
	}
	s.Pids = st.Pids.Current
	return s, nil
}

// hostCPU is the host's total CPU time in ns (the sum of /proc/stat's cpu
// line, in USER_HZ ticks, as Docker's daemon reads it) and its online
// CPUs.
func hostCPU() (uint64, int) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, runtime.NumCPU()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var total uint64
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cpu") {
			break
		}
		fields := strings.Fields(line)
		if fields[0] == "cpu" {
			for _, v := range fields[1:min(len(fields), 8)] {
				x, _ := strconv.ParseUint(v, 10, 64)
				total += x
			}
			continue
		}
		n++
	}
	if n == 0 {
		n = runtime.NumCPU()
	}
	return total * (1e9 / 100), n
}

// HostMemory is MemTotal of /proc/meminfo in bytes (0 if unreadable).
func HostMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
