package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Always are the hierarchies Create makes whatever is requested (see the package comment).
var v1Always = []string{"devices", "freezer", "pids", "memory", "cpuacct", "name=systemd"}

type v1Manager struct {
	// all is every mounted hierarchy's directory for this container (Open only; nil after Load).
	all map[string]string
	// paths are the directories in use: made by Create, or loaded from state.
	paths map[string]string
}

// openedMounts are the hierarchies the last openV1 of this process found. fillAll takes them
// instead of reading mountinfo again: `run` opens the cgroup in create and loads it again from
// the saved paths in delete, and the second read and parse cost ~0.1 ms. Open itself always
// reads mountinfo afresh; a stale list here could only miss a hierarchy mounted since, which
// fillAll uses for the extra tries of Destroy and for hierarchies Set adds.
var openedMounts struct {
	sync.Mutex
	m map[string]v1Mount
}

func openV1(rel string, relative bool) (*v1Manager, error) {
	mounts, err := v1Mounts()
	if err != nil {
		return nil, err
	}
	openedMounts.Lock()
	openedMounts.m = mounts
	openedMounts.Unlock()
	if len(mounts) == 0 {
		return nil, errors.New("no cgroup v1 hierarchies mounted, and /sys/fs/cgroup is not cgroup2")
	}
	var own map[string]string
	if relative {
		if own, err = ownCgroups(); err != nil {
			return nil, err
		}
	}
	m := &v1Manager{all: map[string]string{}, paths: map[string]string{}}
	for c, mt := range mounts {
		cg := rel
		if relative {
			base, ok := own[c]
			if !ok {
				continue
			}
			cg = path.Join(base, rel)
		}
		m.all[c] = hostPath(mt.point, mt.root, cg)
	}
	return m, nil
}

func (m *v1Manager) Version() int { return 1 }

func (m *v1Manager) Paths() map[string]string {
	out := make(map[string]string, len(m.paths))
	for k, v := range m.paths {
		out[k] = v
	}
	return out
}

// wanted lists the hierarchies r needs beyond v1Always.
func v1Wanted(r *specs.LinuxResources) []string {
	if r == nil {
		return nil
	}
	var w []string
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil ||
			c.RealtimePeriod != nil || c.RealtimeRuntime != nil || c.Idle != nil {
			w = append(w, "cpu")
		}
		if c.Cpus != "" || c.Mems != "" {
			w = append(w, "cpuset")
		}
	}
	if r.BlockIO != nil {
		w = append(w, "blkio")
	}
	if len(r.HugepageLimits) > 0 {
		w = append(w, "hugetlb")
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			w = append(w, "net_cls")
		}
		if len(n.Priorities) > 0 {
			w = append(w, "net_prio")
		}
	}
	if len(r.Rdma) > 0 {
		w = append(w, "rdma")
	}
	return w
}

func (m *v1Manager) Create(r *specs.LinuxResources) error {
	if m.all == nil {
		return errors.New("create: manager was loaded from state, not opened")
	}
	if err := validate(r); err != nil {
		return err
	}
	if r != nil && len(r.Unified) > 0 {
		return notSupported("unified resources need cgroup v2")
	}
	for _, c := range v1Always {
		if p, ok := m.all[c]; ok {
			m.paths[c] = p
		}
	}
	if err := m.useHierarchies(v1Wanted(r)); err != nil {
		return err
	}
	for _, dir := range m.uniqueDirs() {
		if err := m.mkdir(dir); err != nil {
			return err
		}
	}
	return m.set(r)
}

// useHierarchies adds the named hierarchies to paths, failing for one that is not mounted.
// Co-mounted controllers (cpu,cpuacct) share a directory and come along together.
func (m *v1Manager) useHierarchies(names []string) error {
	for _, c := range names {
		p, ok := m.all[c]
		if !ok {
			if c == "hugetlb" {
				return notSupported("hugepage limits: no cgroup v1 hugetlb hierarchy")
			}
			return notSupported("%s limits: no cgroup v1 %s hierarchy", c, c)
		}
		for c2, p2 := range m.all {
			if p2 == p {
				m.paths[c2] = p
			}
		}
	}
	return nil
}

func (m *v1Manager) uniqueDirs() []string {
	seen := map[string]bool{}
	var dirs []string
	for _, p := range m.paths {
		if !seen[p] {
			seen[p] = true
			dirs = append(dirs, p)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// mkdir makes dir. In a cpuset hierarchy a new cgroup starts with no cpus and no mems and no
// process may join it, so each new level gets its parent's.
func (m *v1Manager) mkdir(dir string) error {
	if dir != m.all["cpuset"] {
		// One mkdir in the usual case (a new directory under an existing parent); MkdirAll
		// would stat the directory and its parent first.
		if err := unix.Mkdir(dir, 0o755); err == nil {
			return nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		return nil
	}
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if d == "/" {
			return fmt.Errorf("create cgroup %s: no existing parent", dir)
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup: %w", err)
		}
	}
	// Fill every level from the top, also ones another runtime left empty.
	var chain []string
	for d := dir; exists(filepath.Dir(d), "cpuset.cpus"); d = filepath.Dir(d) {
		chain = append(chain, d)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		d := chain[i]
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := read(d, f)
			if err != nil {
				return fmt.Errorf("cpuset %s: %w", d, err)
			}
			if cur != "" {
				continue
			}
			parent, err := read(filepath.Dir(d), f)
			if err != nil {
				return fmt.Errorf("cpuset %s: %w", d, err)
			}
			if err := write(d, f, parent); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1Manager) Apply(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("invalid pid %d", pid)
	}
	s := strconv.Itoa(pid)
	for _, dir := range m.uniqueDirs() {
		if err := write(dir, "cgroup.procs", s); err != nil {
			return fmt.Errorf("add pid %d: %w", pid, err)
		}
	}
	return nil
}

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := validate(r); err != nil {
		return err
	}
	if len(r.Unified) > 0 {
		return notSupported("unified resources need cgroup v2")
	}
	// A limit on a hierarchy Create skipped: make it now and move the processes in. The
	// caller must save Paths() again.
	var add []string
	for _, c := range v1Wanted(r) {
		if _, ok := m.paths[c]; !ok {
			add = append(add, c)
		}
	}
	if len(add) > 0 {
		if err := m.fillAll(); err != nil {
			return err
		}
		before := m.uniqueDirs()
		if err := m.useHierarchies(add); err != nil {
			return err
		}
		pids, err := m.Pids()
		if err != nil {
			return err
		}
		for _, dir := range m.uniqueDirs() {
			if contains(before, dir) {
				continue
			}
			if err := m.mkdir(dir); err != nil {
				return err
			}
			for _, pid := range pids {
				// ESRCH: the process exited meanwhile.
				if err := write(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("add pid %d: %w", pid, err)
				}
			}
		}
	}
	if mem := r.Memory; mem != nil && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && mem.Limit != nil && *mem.Limit > 0 {
		if usage, err := readUint(m.paths["memory"], "memory.usage_in_bytes"); err == nil && uint64(*mem.Limit) < usage {
			return fmt.Errorf("memory limit %d is below the current usage %d", *mem.Limit, usage)
		}
	}
	return m.set(r)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fillAll works out every hierarchy's directory for a manager loaded from state: the
// container's path below each hierarchy root is the one of its saved directories.
func (m *v1Manager) fillAll() error {
	if m.all != nil {
		return nil
	}
	openedMounts.Lock()
	mounts := openedMounts.m
	openedMounts.Unlock()
	if mounts == nil {
		var err error
		if mounts, err = v1Mounts(); err != nil {
			return err
		}
	}
	var rel string
	for c, p := range m.paths {
		mt, ok := mounts[c]
		if !ok || (p != mt.point && !strings.HasPrefix(p, mt.point+"/")) {
			return fmt.Errorf("cgroup path %s is not under the %s hierarchy", p, c)
		}
		r := strings.TrimPrefix(p, mt.point)
		if rel != "" && r != rel {
			return errors.New("the container's cgroup has different paths in different hierarchies")
		}
		rel = r
	}
	m.all = map[string]string{}
	for c, mt := range mounts {
		m.all[c] = path.Join(mt.point, rel)
	}
	return nil
}

func (m *v1Manager) set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if len(r.Devices) > 0 {
		dir, ok := m.paths["devices"]
		if !ok {
			return notSupported("device rules: no cgroup v1 devices hierarchy")
		}
		if err := setV1Devices(dir, r.Devices); err != nil {
			return err
		}
	}
	if r.Memory != nil {
		if err := m.setMemory(r.Memory); err != nil {
			return err
		}
	}
	if r.CPU != nil {
		if err := m.setCPU(r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := write(m.paths["pids"], "pids.max", pidsMax(*r.Pids.Limit)); err != nil {
			return fmt.Errorf("pids limit: %w", err)
		}
	}
	if r.BlockIO != nil {
		if err := setV1BlockIO(m.paths["blkio"], r.BlockIO); err != nil {
			return err
		}
	}
	for _, h := range r.HugepageLimits {
		if err := checkPageSize(h.Pagesize); err != nil {
			return err
		}
		f := "hugetlb." + h.Pagesize + ".limit_in_bytes"
		if err := write(m.paths["hugetlb"], f, strconv.FormatUint(h.Limit, 10)); err != nil {
			return fmt.Errorf("hugepage limit %s: %w", h.Pagesize, err)
		}
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			if err := write(m.paths["net_cls"], "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
				return err
			}
		}
		for _, p := range n.Priorities {
			if err := write(m.paths["net_prio"], "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
				return err
			}
		}
	}
	for dev, l := range r.Rdma {
		if err := write(m.paths["rdma"], "rdma.max", rdmaLine(dev, l)); err != nil {
			return err
		}
	}
	return nil
}

func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

func checkPageSize(s string) error {
	if s == "" || strings.ContainsAny(s, "/.") {
		return fmt.Errorf("invalid hugepage size %q", s)
	}
	return nil
}

func rdmaLine(dev string, l specs.LinuxRdma) string {
	s := dev
	if l.HcaHandles != nil {
		s += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
	}
	if l.HcaObjects != nil {
		s += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
	}
	return s
}

func (m *v1Manager) setMemory(mem *specs.LinuxMemory) error {
	dir, ok := m.paths["memory"]
	if !ok {
		return notSupported("memory limits: no cgroup v1 memory hierarchy")
	}
	//lint:ignore SA1019 the field is deprecated, but a spec may still set it: refuse it clearly.
	if mem.Kernel != nil && *mem.Kernel != 0 {
		// The kernel accepts memory.kmem.limit_in_bytes but ignores it since 5.16 (gone in 6.x
		// on v2): say so rather than pretend.
		return notSupported("kernel memory limit (memory.kernel)")
	}
	if mem.KernelTCP != nil && *mem.KernelTCP != 0 {
		if err := write(dir, "memory.kmem.tcp.limit_in_bytes", limitString(*mem.KernelTCP, false)); err != nil {
			return fmt.Errorf("kernel TCP memory limit: %w", err)
		}
	}
	var limit, swap int64
	if mem.Limit != nil {
		limit = *mem.Limit
	}
	if mem.Swap != nil {
		swap = *mem.Swap
	}
	if swap != 0 && !exists(dir, "memory.memsw.limit_in_bytes") {
		return notSupported("memory swap limit: no swap accounting (memory.memsw.limit_in_bytes)")
	}
	if limit == -1 && swap == 0 && exists(dir, "memory.memsw.limit_in_bytes") {
		swap = -1 // unlimited memory means unlimited memory+swap, as with runc
	}
	if swap > 0 && limit > 0 && swap < limit {
		return fmt.Errorf("memory+swap limit %d must be at least the memory limit %d", swap, limit)
	}
	// The kernel keeps memory.limit <= memory.memsw.limit at every step, so the order
	// depends on whether the limits grow or shrink.
	setMem := func() error {
		if limit == 0 {
			return nil
		}
		if err := write(dir, "memory.limit_in_bytes", limitString(limit, false)); err != nil {
			return fmt.Errorf("memory limit: %w", err)
		}
		return nil
	}
	setSwap := func() error {
		if swap == 0 {
			return nil
		}
		if err := write(dir, "memory.memsw.limit_in_bytes", limitString(swap, false)); err != nil {
			return fmt.Errorf("memory+swap limit: %w", err)
		}
		return nil
	}
	swapFirst := swap == -1
	if swap > 0 {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return fmt.Errorf("memory limit: %w", err)
		}
		swapFirst = uint64(swap) >= cur || limit == -1
	}
	if swapFirst {
		if err := setSwap(); err != nil {
			return err
		}
		if err := setMem(); err != nil {
			return err
		}
	} else {
		if err := setMem(); err != nil {
			return err
		}
		if err := setSwap(); err != nil {
			return err
		}
	}
	if mem.Reservation != nil && *mem.Reservation != 0 {
		if err := write(dir, "memory.soft_limit_in_bytes", limitString(*mem.Reservation, false)); err != nil {
			return fmt.Errorf("memory reservation: %w", err)
		}
	}
	if mem.Swappiness != nil {
		if *mem.Swappiness > 100 {
			return fmt.Errorf("invalid memory swappiness %d (want 0-100)", *mem.Swappiness)
		}
		if err := write(dir, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return fmt.Errorf("memory swappiness: %w", err)
		}
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		if err := write(dir, "memory.oom_control", "1"); err != nil {
			return fmt.Errorf("disable OOM killer: %w", err)
		}
	}
	return nil
}

func (m *v1Manager) setCPU(c *specs.LinuxCPU) error {
	if c.Cpus != "" || c.Mems != "" {
		dir := m.paths["cpuset"]
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
	}
	dir, ok := m.paths["cpu"]
	if !ok {
		return nil // nothing but cpuset requested
	}
	if c.Shares != nil && *c.Shares != 0 {
		if err := write(dir, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return fmt.Errorf("cpu shares: %w", err)
		}
	}
	var period, quota string
	if c.Period != nil && *c.Period != 0 {
		period = strconv.FormatUint(*c.Period, 10)
	}
	if c.Quota != nil && *c.Quota != 0 {
		quota = limitString(*c.Quota, false)
	}
	// A period shorter than the current quota allows (or the reverse) is refused with EINVAL
	// until the other value changes too, so on failure try the other order.
	if period != "" && quota != "" {
		if err := write(dir, "cpu.cfs_period_us", period); err != nil {
			if err2 := write(dir, "cpu.cfs_quota_us", quota); err2 != nil {
				return fmt.Errorf("cpu quota: %w", err2)
			}
			if err := write(dir, "cpu.cfs_period_us", period); err != nil {
				return fmt.Errorf("cpu period: %w", err)
			}
		} else if err := write(dir, "cpu.cfs_quota_us", quota); err != nil {
			return fmt.Errorf("cpu quota: %w", err)
		}
	} else if period != "" {
		if err := write(dir, "cpu.cfs_period_us", period); err != nil {
			return fmt.Errorf("cpu period: %w", err)
		}
	} else if quota != "" {
		if err := write(dir, "cpu.cfs_quota_us", quota); err != nil {
			return fmt.Errorf("cpu quota: %w", err)
		}
	}
	if c.Burst != nil {
		if err := write(dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return fmt.Errorf("cpu burst: %w", err)
		}
	}
	if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		if err := write(dir, "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10)); err != nil {
			return fmt.Errorf("cpu realtime period: %w", err)
		}
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
		if err := write(dir, "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10)); err != nil {
			return fmt.Errorf("cpu realtime runtime: %w", err)
		}
	}
	if c.Idle != nil {
		if err := write(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return fmt.Errorf("cpu idle: %w", err)
		}
	}
	return nil
}

func setV1BlockIO(dir string, b *specs.LinuxBlockIO) error {
	if dir == "" {
		return notSupported("block IO limits: no cgroup v1 blkio hierarchy")
	}
	// CFQ's blkio.weight is gone from current kernels; BFQ's takes the same range.
	weightFile := ""
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
		if exists(dir, f) {
			weightFile = f
			break
		}
	}
	if b.Weight != nil && *b.Weight != 0 {
		if weightFile == "" {
			return notSupported("blkio weight (no blkio.weight or blkio.bfq.weight)")
		}
		if err := write(dir, weightFile, strconv.FormatUint(uint64(*b.Weight), 10)); err != nil {
			return fmt.Errorf("blkio weight: %w", err)
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := write(dir, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10)); err != nil {
			return fmt.Errorf("blkio leaf weight: %w", err)
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			if weightFile == "" {
				return notSupported("blkio weight (no blkio.weight_device or blkio.bfq.weight_device)")
			}
			line := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight)
			if err := write(dir, weightFile+"_device", line); err != nil {
				return fmt.Errorf("blkio device weight: %w", err)
			}
		}
		if wd.LeafWeight != nil {
			line := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight)
			if err := write(dir, "blkio.leaf_weight_device", line); err != nil {
				return fmt.Errorf("blkio device leaf weight: %w", err)
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			if err := write(dir, t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return fmt.Errorf("blkio throttle: %w", err)
			}
		}
	}
	return nil
}

// procsDir is the directory Pids reads: any hierarchy holds every process; prefer the ones
// Create always makes.
func (m *v1Manager) procsDir() (string, error) {
	for _, c := range []string{"pids", "freezer", "devices", "memory", "cpuacct"} {
		if p, ok := m.paths[c]; ok {
			return p, nil
		}
	}
	for _, p := range m.uniqueDirs() {
		return p, nil
	}
	return "", errors.New("no cgroup directories")
}

func (m *v1Manager) Pids() ([]int, error) {
	dir, err := m.procsDir()
	if err != nil {
		return nil, err
	}
	return procsRecursive(dir)
}

func (m *v1Manager) Freeze() error {
	dir, ok := m.paths["freezer"]
	if !ok {
		return notSupported("freeze: no cgroup v1 freezer hierarchy")
	}
	if err := write(dir, "freezer.state", "FROZEN"); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	// FREEZING lasts until every task stopped; a task forked meanwhile can keep it there, so
	// the request is repeated now and then.
	start := time.Now()
	err := waitFor(5*time.Second, func() (bool, error) {
		s, err := read(dir, "freezer.state")
		if err != nil {
			return false, err
		}
		if s == "FROZEN" {
			return true, nil
		}
		if time.Since(start) > 100*time.Millisecond {
			start = time.Now()
			return false, write(dir, "freezer.state", "FROZEN")
		}
		return false, nil
	})
	if err != nil {
		_ = write(dir, "freezer.state", "THAWED")
		return fmt.Errorf("freeze %s: %w", dir, err)
	}
	return nil
}

func (m *v1Manager) Thaw() error {
	dir, ok := m.paths["freezer"]
	if !ok {
		return notSupported("thaw: no cgroup v1 freezer hierarchy")
	}
	if err := write(dir, "freezer.state", "THAWED"); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	err := waitFor(5*time.Second, func() (bool, error) {
		s, err := read(dir, "freezer.state")
		return s == "THAWED", err
	})
	if err != nil {
		return fmt.Errorf("thaw %s: %w", dir, err)
	}
	return nil
}

func (m *v1Manager) OOMKills() (uint64, error) {
	dir, ok := m.paths["memory"]
	if !ok {
		return 0, notSupported("OOM detection: no cgroup v1 memory hierarchy")
	}
	kv, err := readKV(dir, "memory.oom_control")
	if err != nil {
		return 0, fmt.Errorf("oom state: %w", err)
	}
	return kv["oom_kill"], nil
}

// Destroy removes the container's directory in every hierarchy. After Load it also tries the
// hierarchies not in the saved paths (a cheap ENOENT each), in case a Set added one and the
// caller did not save Paths() again.
func (m *v1Manager) Destroy() error {
	dirs := m.uniqueDirs()
	if m.fillAll() == nil {
		for _, p := range m.all {
			if !contains(dirs, p) {
				dirs = append(dirs, p)
			}
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := removeTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
