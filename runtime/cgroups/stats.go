package cgroups

import (
	"math"
	"os"
	"strconv"
	"strings"
)

// Stats is the "data" object of runc's `events --stats` output; field names and JSON keys
// follow it so that tools reading runc's output (docker stats via containerd) read ours.
// Counters a host lacks stay zero.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	CPUSet  CPUSet             `json:"cpuset"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb"`
}

// CPU usage in nanoseconds.
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
}

type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

type CPUSet struct {
	CPUs []uint16 `json:"cpus,omitempty"`
	Mems []uint16 `json:"mems,omitempty"`
}

// Memory in bytes. On v2 Swap is memory+swap, as v1's memsw, so that consumers see one
// meaning.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// userHZ is the unit of cpuacct.stat; Linux reports it as 100 on every architecture.
const userHZ = 100

func u(dir, file string) uint64 {
	v, _ := readUint(dir, file)
	return v
}

func uints(dir, file string) []uint64 {
	s, err := read(dir, file)
	if err != nil {
		return nil
	}
	var out []uint64
	for _, f := range strings.Fields(s) {
		v, _ := strconv.ParseUint(f, 10, 64)
		out = append(out, v)
	}
	return out
}

// cpuList expands "0-3,6" into its numbers.
func cpuList(s string) []uint16 {
	var out []uint16
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				continue
			}
		}
		for i := a; i <= b && len(out) < 1<<16; i++ {
			out = append(out, uint16(i))
		}
	}
	return out
}

// dirExists tells a skipped hierarchy from a broken one: Stats reads what there is.
func dirExists(p string) bool {
	_, err := os.Stat(p)
	return p != "" && err == nil
}

func (m *v1Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	if d := m.paths["cpuacct"]; dirExists(d) {
		s.CPU.Usage.Total = u(d, "cpuacct.usage")
		s.CPU.Usage.Percpu = uints(d, "cpuacct.usage_percpu")
		s.CPU.Usage.PercpuKernel = uints(d, "cpuacct.usage_percpu_sys")
		s.CPU.Usage.PercpuUser = uints(d, "cpuacct.usage_percpu_user")
		if kv, err := readKV(d, "cpuacct.stat"); err == nil {
			s.CPU.Usage.User = kv["user"] * (1e9 / userHZ)
			s.CPU.Usage.Kernel = kv["system"] * (1e9 / userHZ)
		}
	}
	if d := m.paths["cpu"]; dirExists(d) {
		if kv, err := readKV(d, "cpu.stat"); err == nil {
			s.CPU.Throttling = Throttling{kv["nr_periods"], kv["nr_throttled"], kv["throttled_time"]}
		}
	}
	if d := m.paths["cpuset"]; dirExists(d) {
		c, _ := read(d, "cpuset.effective_cpus")
		mm, _ := read(d, "cpuset.effective_mems")
		s.CPUSet = CPUSet{cpuList(c), cpuList(mm)}
	}
	if d := m.paths["memory"]; dirExists(d) {
		entry := func(prefix string) MemoryEntry {
			if !exists(d, prefix+"usage_in_bytes") {
				return MemoryEntry{}
			}
			return MemoryEntry{
				Limit: u(d, prefix+"limit_in_bytes"), Usage: u(d, prefix+"usage_in_bytes"),
				Max: u(d, prefix+"max_usage_in_bytes"), Failcnt: u(d, prefix+"failcnt"),
			}
		}
		s.Memory.Usage = entry("memory.")
		s.Memory.Swap = entry("memory.memsw.")
		s.Memory.Kernel = entry("memory.kmem.")
		s.Memory.KernelTCP = entry("memory.kmem.tcp.")
		if raw, err := readKV(d, "memory.stat"); err == nil {
			s.Memory.Raw = raw
			s.Memory.Cache = raw["total_cache"]
		}
	}
	if d := m.paths["pids"]; dirExists(d) {
		s.Pids = pidsStats(d)
	}
	if d := m.paths["blkio"]; dirExists(d) {
		s.Blkio.IoServiceBytesRecursive = blkioV1(d, "blkio.throttle.io_service_bytes_recursive")
		s.Blkio.IoServicedRecursive = blkioV1(d, "blkio.throttle.io_serviced_recursive")
	}
	if d := m.paths["hugetlb"]; dirExists(d) {
		for _, size := range hugeSizes(d, ".limit_in_bytes") {
			p := "hugetlb." + size + "."
			s.Hugetlb[size] = Hugetlb{u(d, p+"usage_in_bytes"), u(d, p+"max_usage_in_bytes"), u(d, p+"failcnt")}
		}
	}
	return s, nil
}

func pidsStats(d string) Pids {
	p := Pids{Current: u(d, "pids.current"), Limit: u(d, "pids.max")}
	if p.Limit == math.MaxUint64 {
		p.Limit = 0 // runc reports "max" as 0
	}
	return p
}

// blkioV1 parses "8:0 Read 4096" lines.
func blkioV1(dir, file string) []BlkioEntry {
	s, err := read(dir, file)
	if err != nil {
		return nil
	}
	var out []BlkioEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		e := BlkioEntry{Op: f[1]}
		e.Major, _ = strconv.ParseUint(maj, 10, 64)
		e.Minor, _ = strconv.ParseUint(min, 10, 64)
		e.Value, _ = strconv.ParseUint(f[2], 10, 64)
		out = append(out, e)
	}
	return out
}

// hugeSizes lists the page sizes with a hugetlb.<size><suffix> file in dir.
func hugeSizes(dir, suffix string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "hugetlb.") && strings.HasSuffix(n, suffix) {
			size := strings.TrimSuffix(strings.TrimPrefix(n, "hugetlb."), suffix)
			if !strings.Contains(size, ".") {
				out = append(out, size)
			}
		}
	}
	return out
}

func (m *v2Manager) Stats() (*Stats, error) {
	d := m.path
	if _, err := os.Stat(d); err != nil {
		return nil, err
	}
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	if kv, err := readKV(d, "cpu.stat"); err == nil {
		s.CPU.Usage.Total = kv["usage_usec"] * 1000
		s.CPU.Usage.User = kv["user_usec"] * 1000
		s.CPU.Usage.Kernel = kv["system_usec"] * 1000
		s.CPU.Throttling = Throttling{kv["nr_periods"], kv["nr_throttled"], kv["throttled_usec"] * 1000}
	}
	if exists(d, "cpuset.cpus.effective") {
		c, _ := read(d, "cpuset.cpus.effective")
		mm, _ := read(d, "cpuset.mems.effective")
		s.CPUSet = CPUSet{cpuList(c), cpuList(mm)}
	}
	if exists(d, "memory.current") {
		ev, _ := readKV(d, "memory.events")
		s.Memory.Usage = MemoryEntry{Limit: u(d, "memory.max"), Usage: u(d, "memory.current"), Max: u(d, "memory.peak"), Failcnt: ev["max"]}
		if exists(d, "memory.swap.current") {
			swapLimit := u(d, "memory.swap.max")
			if swapLimit != math.MaxUint64 && s.Memory.Usage.Limit != math.MaxUint64 {
				swapLimit += s.Memory.Usage.Limit
			} else {
				swapLimit = math.MaxUint64
			}
			sev, _ := readKV(d, "memory.swap.events")
			s.Memory.Swap = MemoryEntry{Limit: swapLimit, Usage: u(d, "memory.swap.current") + s.Memory.Usage.Usage, Failcnt: sev["max"]}
		}
		if raw, err := readKV(d, "memory.stat"); err == nil {
			s.Memory.Raw = raw
			s.Memory.Cache = raw["file"]
			s.Memory.Kernel = MemoryEntry{Usage: raw["kernel"]}
		}
	}
	if exists(d, "pids.current") {
		s.Pids = pidsStats(d)
	}
	if st, err := read(d, "io.stat"); err == nil {
		s.Blkio = ioStatV2(st)
	}
	for _, size := range hugeSizes(d, ".max") {
		p := "hugetlb." + size + "."
		ev, _ := readKV(d, p+"events")
		s.Hugetlb[size] = Hugetlb{Usage: u(d, p+"current"), Failcnt: ev["max"]}
	}
	return s, nil
}

// ioStatV2 parses io.stat lines: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
func ioStatV2(s string) Blkio {
	var b Blkio
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		ma, _ := strconv.ParseUint(maj, 10, 64)
		mi, _ := strconv.ParseUint(min, 10, 64)
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			e := BlkioEntry{Major: ma, Minor: mi, Value: n}
			switch k {
			case "rbytes", "wbytes", "dbytes":
				e.Op = map[string]string{"rbytes": "Read", "wbytes": "Write", "dbytes": "Discard"}[k]
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "rios", "wios", "dios":
				e.Op = map[string]string{"rios": "Read", "wios": "Write", "dios": "Discard"}[k]
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
	return b
}
