package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type v2Manager struct {
	path string
}

func openV2(rel string, relative bool) (*v2Manager, error) {
	if relative {
		own, err := ownCgroups()
		if err != nil {
			return nil, err
		}
		base, ok := own[""]
		if !ok {
			return nil, errors.New("no cgroup v2 entry in /proc/self/cgroup")
		}
		rel = path.Join(base, rel)
	}
	return &v2Manager{path: path.Join(cgroupRoot, rel)}, nil
}

func (m *v2Manager) Version() int { return 2 }

func (m *v2Manager) Paths() map[string]string { return map[string]string{"": m.path} }

func (m *v2Manager) Create(r *specs.LinuxResources) error {
	if err := validate(r); err != nil {
		return err
	}
	rel, err := filepath.Rel(cgroupRoot, m.path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is not under %s", m.path, cgroupRoot)
	}
	// Each level's controllers come from its parent's cgroup.subtree_control: enable every
	// available one on the way down, so that any limit can be set now or by a later update.
	// Levels that already have them (the persistent parent) cost two small reads.
	cur := cgroupRoot
	for _, c := range strings.Split(rel, "/") {
		enableControllers(cur)
		cur = filepath.Join(cur, c)
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup: %w", err)
		}
	}
	return m.set(r)
}

// enableControllers enables in dir's subtree_control every controller dir has. Failures are
// left for the limit writes to report: a parent holding processes cannot enable domain
// controllers (EBUSY), and that only matters if a limit of that controller is asked for.
func enableControllers(dir string) {
	avail, err := read(dir, "cgroup.controllers")
	if err != nil || avail == "" {
		return
	}
	enabled, _ := read(dir, "cgroup.subtree_control")
	on := map[string]bool{}
	for _, c := range strings.Fields(enabled) {
		on[c] = true
	}
	var missing []string
	for _, c := range strings.Fields(avail) {
		if !on[c] {
			missing = append(missing, "+"+c)
		}
	}
	if len(missing) == 0 {
		return
	}
	if write(dir, "cgroup.subtree_control", strings.Join(missing, " ")) == nil {
		return
	}
	for _, c := range missing {
		_ = write(dir, "cgroup.subtree_control", c)
	}
}

func (m *v2Manager) Apply(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("invalid pid %d", pid)
	}
	if err := write(m.path, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("add pid %d: %w", pid, err)
	}
	return nil
}

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if err := validate(r); err != nil {
		return err
	}
	if r == nil {
		return nil
	}
	if mem := r.Memory; mem != nil && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && mem.Limit != nil && *mem.Limit > 0 {
		if usage, err := readUint(m.path, "memory.current"); err == nil && uint64(*mem.Limit) < usage {
			return fmt.Errorf("memory limit %d is below the current usage %d", *mem.Limit, usage)
		}
	}
	return m.set(r)
}

func (m *v2Manager) set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	dir := m.path
	if len(r.Devices) > 0 {
		if err := setV2Devices(dir, r.Devices); err != nil {
			return err
		}
	}
	if r.Memory != nil {
		if err := setV2Memory(dir, r.Memory); err != nil {
			return err
		}
	}
	if r.CPU != nil {
		if err := setV2CPU(dir, r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := write(dir, "pids.max", pidsMax(*r.Pids.Limit)); err != nil {
			return fmt.Errorf("pids limit: %w", err)
		}
	}
	if r.BlockIO != nil {
		if err := setV2IO(dir, r.BlockIO); err != nil {
			return err
		}
	}
	for _, h := range r.HugepageLimits {
		if err := checkPageSize(h.Pagesize); err != nil {
			return err
		}
		v := strconv.FormatUint(h.Limit, 10)
		if err := write(dir, "hugetlb."+h.Pagesize+".max", v); err != nil {
			return fmt.Errorf("hugepage limit %s: %w", h.Pagesize, err)
		}
		// The spec asks for reservation limits too where the kernel has them.
		if f := "hugetlb." + h.Pagesize + ".rsvd.max"; exists(dir, f) {
			if err := write(dir, f, v); err != nil {
				return fmt.Errorf("hugepage reservation limit %s: %w", h.Pagesize, err)
			}
		}
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		return notSupported("network class id and priorities (net_cls, net_prio) need cgroup v1")
	}
	for dev, l := range r.Rdma {
		if err := write(dir, "rdma.max", rdmaLine(dev, l)); err != nil {
			return fmt.Errorf("rdma limit: %w", err)
		}
	}
	for k, v := range r.Unified {
		if err := checkUnifiedKey(k); err != nil {
			return err
		}
		if err := write(dir, k, v); err != nil {
			return fmt.Errorf("unified resource %s: %w", k, err)
		}
	}
	return nil
}

// checkUnifiedKey keeps unified keys to interface files of this cgroup: no paths, and not the
// membership files (processes are moved by Apply, not by a resource).
func checkUnifiedKey(k string) error {
	if k == "" || strings.ContainsAny(k, "/\x00") || !strings.Contains(k, ".") || strings.HasPrefix(k, ".") {
		return fmt.Errorf("invalid unified resource key %q", k)
	}
	switch k {
	case "cgroup.procs", "cgroup.threads", "cgroup.kill":
		return fmt.Errorf("unified resource key %q is not a resource", k)
	}
	return nil
}

func setV2Memory(dir string, mem *specs.LinuxMemory) error {
	//lint:ignore SA1019 the field is deprecated, but a spec may still set it: refuse it clearly.
	if mem.Kernel != nil && *mem.Kernel != 0 {
		return notSupported("kernel memory limit (memory.kernel)")
	}
	if mem.KernelTCP != nil && *mem.KernelTCP != 0 {
		return notSupported("kernel TCP memory limit (memory.kernelTCP) on cgroup v2")
	}
	if mem.Swappiness != nil {
		return notSupported("memory swappiness on cgroup v2")
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		return notSupported("disabling the OOM killer on cgroup v2")
	}
	var limit, swap int64
	if mem.Limit != nil {
		limit = *mem.Limit
	}
	if mem.Swap != nil {
		swap = *mem.Swap
	}
	swapVal, setSwap, err := swapToV2(swap, limit)
	if err != nil {
		return err
	}
	// swap.max before max: lowering memory.max with a high swap.max first could push the
	// workload into swap it is about to be refused.
	if setSwap {
		if !exists(dir, "memory.swap.max") {
			if swapVal != "max" {
				return notSupported("memory swap limit: no swap accounting (memory.swap.max)")
			}
		} else if err := write(dir, "memory.swap.max", swapVal); err != nil {
			return fmt.Errorf("memory swap limit: %w", err)
		}
	}
	if limit != 0 {
		if err := write(dir, "memory.max", limitString(limit, true)); err != nil {
			return fmt.Errorf("memory limit: %w", err)
		}
	}
	if mem.Reservation != nil && *mem.Reservation != 0 {
		if err := write(dir, "memory.low", limitString(*mem.Reservation, true)); err != nil {
			return fmt.Errorf("memory reservation: %w", err)
		}
	}
	return nil
}

func setV2CPU(dir string, c *specs.LinuxCPU) error {
	if (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) || (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) {
		return notSupported("realtime CPU limits on cgroup v2")
	}
	if c.Shares != nil && *c.Shares != 0 {
		if err := write(dir, "cpu.weight", strconv.FormatUint(sharesToWeight(*c.Shares), 10)); err != nil {
			return fmt.Errorf("cpu shares: %w", err)
		}
	}
	var quota, period int64
	if c.Quota != nil {
		quota = *c.Quota
	}
	if c.Period != nil {
		period = int64(*c.Period)
	}
	if quota != 0 || period != 0 {
		// "quota period"; quota alone keeps the period. A period alone needs the quota written
		// too, so keep the current one.
		q := "max"
		if quota > 0 {
			q = strconv.FormatInt(quota, 10)
		} else if quota == 0 {
			if cur, err := read(dir, "cpu.max"); err == nil {
				q, _, _ = strings.Cut(cur, " ")
			}
		}
		v := q
		if period != 0 {
			v += " " + strconv.FormatInt(period, 10)
		}
		if err := write(dir, "cpu.max", v); err != nil {
			return fmt.Errorf("cpu quota: %w", err)
		}
	}
	if c.Burst != nil {
		if err := write(dir, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return fmt.Errorf("cpu burst: %w", err)
		}
	}
	if c.Idle != nil {
		if err := write(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return fmt.Errorf("cpu idle: %w", err)
		}
	}
	if c.Cpus != "" {
		if err := write(dir, "cpuset.cpus", c.Cpus); err != nil {
			return fmt.Errorf("cpuset cpus: %w", err)
		}
	}
	if c.Mems != "" {
		if err := write(dir, "cpuset.mems", c.Mems); err != nil {
			return fmt.Errorf("cpuset mems: %w", err)
		}
	}
	return nil
}

func setV2IO(dir string, b *specs.LinuxBlockIO) error {
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		return notSupported("block IO leaf weight on cgroup v2")
	}
	// BFQ's weight takes the v1 range as is; io.weight (used by io.cost) needs converting.
	bfq := exists(dir, "io.bfq.weight")
	weight := func(w uint16) (string, string) {
		if bfq {
			return "io.bfq.weight", strconv.FormatUint(uint64(w), 10)
		}
		return "io.weight", strconv.FormatUint(blkioToIOWeight(w), 10)
	}
	if b.Weight != nil && *b.Weight != 0 {
		if *b.Weight < 10 || *b.Weight > 1000 {
			return fmt.Errorf("invalid block IO weight %d (want 10-1000)", *b.Weight)
		}
		f, v := weight(*b.Weight)
		if err := write(dir, f, v); err != nil {
			return fmt.Errorf("io weight: %w", err)
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.LeafWeight != nil && *wd.LeafWeight != 0 {
			return notSupported("block IO leaf weight on cgroup v2")
		}
		if wd.Weight == nil {
			continue
		}
		f, v := weight(*wd.Weight)
		if err := write(dir, f, fmt.Sprintf("%d:%d %s", wd.Major, wd.Minor, v)); err != nil {
			return fmt.Errorf("io device weight: %w", err)
		}
	}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			v := strconv.FormatUint(d.Rate, 10)
			if d.Rate == 0 {
				v = "max" // 0 in v1 removes the limit
			}
			if err := write(dir, "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, v)); err != nil {
				return fmt.Errorf("io throttle: %w", err)
			}
		}
	}
	return nil
}

func (m *v2Manager) Pids() ([]int, error) { return procsRecursive(m.path) }

func (m *v2Manager) Freeze() error { return m.freeze("1") }
func (m *v2Manager) Thaw() error   { return m.freeze("0") }

func (m *v2Manager) freeze(v string) error {
	if err := write(m.path, "cgroup.freeze", v); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	err := waitFor(5*time.Second, func() (bool, error) {
		kv, err := readKV(m.path, "cgroup.events")
		if err != nil {
			return false, err
		}
		return strconv.FormatUint(kv["frozen"], 10) == v, nil
	})
	if err != nil {
		if v == "1" {
			_ = write(m.path, "cgroup.freeze", "0")
		}
		return fmt.Errorf("freeze %s (%s): %w", m.path, v, err)
	}
	return nil
}

func (m *v2Manager) OOMKills() (uint64, error) {
	if !exists(m.path, "memory.events") {
		return 0, notSupported("OOM detection: memory controller not enabled for %s", m.path)
	}
	kv, err := readKV(m.path, "memory.events")
	if err != nil {
		return 0, fmt.Errorf("oom state: %w", err)
	}
	return kv["oom_kill"], nil
}

func (m *v2Manager) Destroy() error { return removeTree(m.path) }
