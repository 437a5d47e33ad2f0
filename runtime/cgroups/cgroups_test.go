package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }

const mib = 1 << 20

func TestCreateLimits(t *testing.T) {
	parent := testParent(t)
	for _, tc := range []struct {
		name string
		res  specs.LinuxResources
		// Files to read back: "controller/file" on v1, "file" on v2.
		v1, v2 map[string]string
		// If set, the case needs this file (v1: "controller/file", v2: "file"); without it
		// Create must fail with ErrNotSupported.
		v1Needs, v2Needs string
	}{
		{
			name: "memory",
			res:  specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 * mib), Reservation: i64(32 * mib)}},
			v1:   map[string]string{"memory/memory.limit_in_bytes": "67108864", "memory/memory.soft_limit_in_bytes": "33554432"},
			v2:   map[string]string{"memory.max": "67108864", "memory.low": "33554432"},
		},
		{
			name:    "memory and swap",
			res:     specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 * mib), Swap: i64(96 * mib)}},
			v1:      map[string]string{"memory/memory.limit_in_bytes": "67108864", "memory/memory.memsw.limit_in_bytes": "100663296"},
			v2:      map[string]string{"memory.max": "67108864", "memory.swap.max": "33554432"},
			v1Needs: "memory/memory.memsw.limit_in_bytes", v2Needs: "memory.swap.max",
		},
		{
			name: "cpu",
			res:  specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000)}},
			v1:   map[string]string{"cpu/cpu.shares": "512", "cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"},
			v2:   map[string]string{"cpu.weight": strconv.FormatUint(sharesToWeight(512), 10), "cpu.max": "50000 100000"},
		},
		{
			name: "cpuset",
			res:  specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}},
			v1:   map[string]string{"cpuset/cpuset.cpus": "0", "cpuset/cpuset.mems": "0"},
			v2:   map[string]string{"cpuset.cpus": "0", "cpuset.mems": "0"},
		},
		{
			name: "pids",
			res:  specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100)}},
			v1:   map[string]string{"pids/pids.max": "100"},
			v2:   map[string]string{"pids.max": "100"},
		},
		{
			name: "pids unlimited",
			res:  specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}},
			v1:   map[string]string{"pids/pids.max": "max"},
			v2:   map[string]string{"pids.max": "max"},
		},
		{
			name:    "swappiness",
			res:     specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}},
			v1:      map[string]string{"memory/memory.swappiness": "10"},
			v1Needs: "memory/memory.swappiness", v2Needs: "no such file: swappiness is v1 only",
		},
		{
			name: "io weight",
			res:  specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}},
			v1:   map[string]string{"blkio/blkio.bfq.weight": "500"},
			v2:   map[string]string{"io.weight": "default 4950"},
			// Only BFQ's weight exists on current v1 kernels; v2 needs io.cost's io.weight.
			v1Needs: "blkio/blkio.bfq.weight", v2Needs: "io.weight",
		},
		{
			name:    "hugetlb",
			res:     specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 * mib}}},
			v1:      map[string]string{"hugetlb/hugetlb.2MB.limit_in_bytes": "4194304"},
			v2:      map[string]string{"hugetlb.2MB.max": "4194304"},
			v1Needs: "hugetlb/hugetlb.2MB.limit_in_bytes", v2Needs: "hugetlb.2MB.max",
		},
		{
			name: "unified",
			res:  specs.LinuxResources{Unified: map[string]string{"memory.high": "100000000"}},
			v2:   map[string]string{"memory.high": "99999744"},
			// Unified keys are v2 only.
			v1Needs: "none/unified is v2 only",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := openTest(t, parent+"/"+strings.ReplaceAll(tc.name, " ", "-"))
			defer func() {
				if err := m.Destroy(); err != nil {
					t.Error(err)
				}
				assertGone(t, m.Paths())
			}()
			want, needs := tc.v2, tc.v2Needs
			if m.Version() == 1 {
				want, needs = tc.v1, tc.v1Needs
			}
			supported := true
			if needs != "" {
				supported = hostHas(m, needs)
			}
			err := m.Create(&tc.res)
			if !supported {
				if !errors.Is(err, ErrNotSupported) {
					t.Fatalf("Create = %v, want ErrNotSupported (host lacks %s)", err, needs)
				}
				t.Logf("not supported here, as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for f, w := range want {
				if got := file(t, m, f); got != w {
					t.Errorf("%s = %q, want %q", f, got, w)
				}
			}
		})
	}
}

// hostHas reports whether the host has a cgroup file, looked up under the hierarchy root (v1)
// or in a fresh child of the test's parent (v2, where it depends on the enabled controllers).
func hostHas(m Manager, name string) bool {
	if m.Version() == 2 {
		if !strings.Contains(name, ".") || strings.Contains(name, " ") {
			return false
		}
		dir := m.Paths()[""]
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err == nil {
			enableControllers(filepath.Dir(filepath.Dir(dir)))
			enableControllers(filepath.Dir(dir))
		}
		probe := filepath.Join(filepath.Dir(dir), "probe")
		if err := os.Mkdir(probe, 0o755); err != nil {
			return false
		}
		defer syscall.Rmdir(probe)
		return exists(probe, name)
	}
	ctrl, f, _ := strings.Cut(name, "/")
	mounts, err := v1Mounts()
	if err != nil {
		return false
	}
	mt, ok := mounts[ctrl]
	if !ok {
		return false
	}
	// Some files (memsw, swappiness) exist only below the root.
	probe := filepath.Join(mt.point, "berth-probe-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return false
	}
	defer syscall.Rmdir(probe)
	return exists(probe, f)
}

func TestUnsupportedAndInvalid(t *testing.T) {
	parent := testParent(t)
	v2, _ := isUnified()
	mounts := map[string]v1Mount{}
	if !v2 {
		mounts, _ = v1Mounts()
	}
	_, hugetlbV1 := mounts["hugetlb"]
	for _, tc := range []struct {
		name    string
		when    bool // run only if true
		res     specs.LinuxResources
		support bool // false: want ErrNotSupported; true: want another error
		msg     string
	}{
		//lint:ignore SA1019 checks that the deprecated field is refused.
		{"kernel memory", true, specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(mib)}}, false, "kernel memory"},
		{"hugetlb v1", !v2 && !hugetlbV1, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 2 * mib}}}, false, "hugetlb"},
		{"hugetlb bad size", true, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "../x", Limit: 1}}}, true, "invalid hugepage size"},
		{"blkio weight v1", !v2 && !hostHas(&v1Manager{}, "blkio/blkio.bfq.weight") && !hostHas(&v1Manager{}, "blkio/blkio.weight"), specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}}, false, "blkio weight"},
		{"unified on v1", !v2, specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, false, "unified"},
		{"rt on v2", v2, specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}}, false, "realtime"},
		{"net_cls on v2", v2, specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: new(uint32)}}, false, "net_cls"},
		{"net_cls v1 unmounted", !v2 && mounts["net_cls"].point == "", specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: new(uint32)}}, false, "net_cls"},
		{"bad device type", true, specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "z"}}}, true, "invalid type"},
		{"bad unified key", v2, specs.LinuxResources{Unified: map[string]string{"../cgroup.procs": "1"}}, true, "invalid unified"},
		{"swap without memory", v2, specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(mib)}}, true, "needs a memory limit"},
		{"swap below memory", true, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(2 * mib), Swap: i64(mib)}}, true, "at least"},
		{"bad swappiness", !v2 && mounts["memory"].point != "", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(101)}}, true, "swappiness"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.when {
				t.Skip("not applicable on this host")
			}
			m := openTest(t, parent+"/"+strings.ReplaceAll(tc.name, " ", "-"))
			defer func() {
				if err := m.Destroy(); err != nil {
					t.Error(err)
				}
			}()
			err := m.Create(&tc.res)
			if err == nil {
				t.Fatal("Create succeeded, want an error")
			}
			if errors.Is(err, ErrNotSupported) == tc.support {
				t.Errorf("Create = %v; want ErrNotSupported: %v", err, !tc.support)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestOpenInvalid(t *testing.T) {
	for _, p := range []string{"/a/../../etc", "/", "slice:prefix:name"} {
		if _, err := Open(p, "x"); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	if _, err := Load(map[string]string{"memory": "relative/path"}); err == nil {
		t.Error("Load accepted a relative path")
	}
	if _, err := Load(map[string]string{"": "/sys/fs/cgroup/x", "memory": "/sys/fs/cgroup/memory/x"}); err == nil {
		t.Error("Load accepted v1 and v2 paths together")
	}
}

func TestApplyPidsDestroy(t *testing.T) {
	parent := testParent(t)
	m := openTest(t, parent+"/apply")
	if err := m.Create(&specs.LinuxResources{}); err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	if m.Version() == 1 {
		// The always-made hierarchies (those mounted here) are there without any limit.
		for _, c := range []string{"devices", "freezer", "pids", "memory"} {
			if _, mounted := m.(*v1Manager).all[c]; mounted && paths[c] == "" {
				t.Errorf("no %s hierarchy in %v", c, paths)
			}
		}
		if _, ok := paths["cpuset"]; ok {
			t.Errorf("cpuset made with nothing requested: %v", paths)
		}
	}
	h := startHelper(t, "sleep")
	h2 := startHelper(t, "sleep")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	// A process in a sub-cgroup counts too (Pids is recursive).
	var sub string
	for _, p := range paths {
		sub = filepath.Join(p, "sub")
		break
	}
	if m.Version() == 1 {
		sub = filepath.Join(paths["pids"], "sub")
		if paths["pids"] == "" {
			sub = filepath.Join(paths["freezer"], "sub")
		}
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := write(sub, "cgroup.procs", strconv.Itoa(h2.pid())); err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, h.pid()) || !slices.Contains(pids, h2.pid()) {
		t.Errorf("Pids() = %v, want %d and %d", pids, h.pid(), h2.pid())
	}
	// Reopened from state, as kill/delete do.
	l, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	if lp, _ := l.Pids(); !slices.Equal(lp, pids) {
		t.Errorf("loaded Pids() = %v, want %v", lp, pids)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	h.kill()
	h2.kill()
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, paths)
}

func TestOOMKill(t *testing.T) {
	parent := testParent(t)
	m := openTest(t, parent+"/oom")
	defer func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	}()
	if err := m.Create(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 * mib)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := m.OOMKills(); err != nil || n != 0 {
		t.Fatalf("OOMKills() before = %v, %v", n, err)
	}
	h := startHelper(t, "alloc")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.goOn(t)
	st := waitExit(t, h, 60*time.Second)
	ws := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("helper ended with %v, want SIGKILL", st)
	}
	if n, err := m.OOMKills(); err != nil || n != 1 {
		t.Errorf("OOMKills() = %v, %v; want 1", n, err)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Limit != 32*mib {
		t.Errorf("stats memory limit = %d, want %d", s.Memory.Usage.Limit, 32*mib)
	}
	if s.Memory.Usage.Failcnt == 0 {
		t.Errorf("stats memory failcnt = 0 after an OOM kill")
	}
}

func TestPidsLimit(t *testing.T) {
	bb := busybox(t)
	parent := testParent(t)
	m := openTest(t, parent+"/pids")
	defer func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	}()
	const limit = 5
	if err := m.Create(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(limit)}}); err != nil {
		t.Fatal(err)
	}
	// A shell that forks background sleeps until the kernel refuses.
	cmd := exec.Command(bb, "sh", "-c", `read x; i=0; while [ $i -lt 20 ]; do `+bb+` sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; echo spawned $i`)
	stdin, _ := cmd.StdinPipe()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		pids, _ := m.Pids()
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	_, _ = stdin.Write([]byte("\n"))
	_ = cmd.Wait()
	if !strings.Contains(out.String(), "fork") {
		t.Errorf("the shell was not refused a fork; output: %q", out.String())
	}
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) > limit {
		t.Errorf("%d processes in a cgroup limited to %d", len(pids), limit)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Pids.Limit != limit || s.Pids.Current == 0 {
		t.Errorf("pids stats = %+v, want limit %d and some current", s.Pids, limit)
	}
	// Kill --all, as the runtime does it.
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
			t.Error(err)
		}
	}
	if err := waitFor(5*time.Second, func() (bool, error) {
		p, err := m.Pids()
		return len(p) == 0, err
	}); err != nil {
		t.Errorf("processes left after SIGKILL to all: %v", err)
	}
}

func TestFreezeThaw(t *testing.T) {
	parent := testParent(t)
	m := openTest(t, parent+"/freeze")
	defer func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	}()
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "tick")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	var ticks atomic.Int64
	go func() {
		r := bufio.NewReader(h.out)
		for {
			if _, err := r.ReadByte(); err != nil {
				return
			}
			ticks.Add(1)
		}
	}()
	h.goOn(t)
	ticking := func() bool {
		before := ticks.Load()
		time.Sleep(100 * time.Millisecond)
		return ticks.Load() > before
	}
	if !ticking() {
		t.Fatal("helper does not tick")
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // ticks already in the pipe
	if ticking() {
		t.Error("helper ticks while frozen")
	}
	// A frozen container is reopened from state by resume.
	l, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Thaw(); err != nil {
		t.Fatal(err)
	}
	if !ticking() {
		t.Error("helper does not tick after thaw")
	}
	h.kill()
}

func TestSetUpdates(t *testing.T) {
	parent := testParent(t)
	m := openTest(t, parent+"/set")
	defer func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
		assertGone(t, m.Paths())
	}()
	if err := m.Create(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 * mib)},
		Pids:   &specs.LinuxPids{Limit: i64(10)},
	}); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "hold")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.goOn(t)
	if line, err := bufio.NewReader(h.out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	if err := m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(128 * mib)},
		Pids:   &specs.LinuxPids{Limit: i64(20)},
		// On v1 a hierarchy Create skipped: Set makes it and moves the processes in.
		CPU: &specs.LinuxCPU{Quota: i64(20000), Period: u64(100000)},
	}); err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{"memory.max": "134217728", "pids.max": "20", "cpu.max": "20000 100000"}
	if m.Version() == 1 {
		checks = map[string]string{"memory/memory.limit_in_bytes": "134217728", "pids/pids.max": "20", "cpu/cpu.cfs_quota_us": "20000"}
		procs := file(t, m, "cpu/cgroup.procs")
		if !slices.Contains(strings.Fields(procs), strconv.Itoa(h.pid())) {
			t.Errorf("process %d not moved into the new cpu cgroup: %q", h.pid(), procs)
		}
	}
	for f, w := range checks {
		if got := file(t, m, f); got != w {
			t.Errorf("%s = %q, want %q", f, got, w)
		}
	}
	// The check the runtime asks for before shrinking memory under the usage.
	yes := true
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(4 * mib), CheckBeforeUpdate: &yes}})
	if err == nil || !strings.Contains(err.Error(), "below the current usage") {
		t.Errorf("Set below usage with checkBeforeUpdate = %v, want a usage error", err)
	}
	h.kill()
}

// deviceRules and the accesses they must allow ("ok") or refuse ("operation not permitted").
var deviceCases = struct {
	rules []specs.LinuxDeviceCgroup
	want  map[string]string
}{
	rules: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}, // null
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "r"},   // zero, read only
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"}, // urandom
		{Allow: false, Type: "c", Major: i64(1), Minor: i64(9), Access: "w"},  // ... but not for writing
	},
	want: map[string]string{
		"/dev/null:r": "ok", "/dev/null:w": "ok", "/dev/zero:r": "ok",
		"/dev/zero:w": "operation not permitted", "/dev/full:r": "operation not permitted",
		"/dev/urandom:r": "ok", "/dev/urandom:w": "operation not permitted",
	},
}

// checkDeviceAccess runs the open helper in a cgroup (moved in by apply) and compares.
func checkDeviceAccess(t *testing.T, apply func(pid int) error) {
	t.Helper()
	var args []string
	for a := range deviceCases.want {
		args = append(args, a)
	}
	h := startHelper(t, "open", args...)
	if err := apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.goOn(t)
	sc := bufio.NewScanner(h.out)
	got := map[string]string{}
	for sc.Scan() {
		a, res, _ := strings.Cut(sc.Text(), " ")
		got[a] = res
	}
	waitExit(t, h, 10*time.Second)
	for a, w := range deviceCases.want {
		if got[a] != w {
			t.Errorf("open %s: %q, want %q", a, got[a], w)
		}
	}
}

func TestDevices(t *testing.T) {
	parent := testParent(t)
	m := openTest(t, parent+"/devices")
	defer func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	}()
	if err := m.Create(&specs.LinuxResources{Devices: deviceCases.rules}); err != nil {
		t.Fatal(err)
	}
	if m.Version() == 1 {
		got := file(t, m, "devices/devices.list")
		want := "c 1:3 rwm\nc 1:5 r\nc 1:9 rm"
		if got != want {
			t.Errorf("devices.list = %q, want %q", got, want)
		}
	}
	checkDeviceAccess(t, m.Apply)
	// An update replaces the rules (v2: the program), it does not add to them.
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(7), Access: "r"},
	}}); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "open", "/dev/null:r", "/dev/full:r")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.goOn(t)
	out, _ := readAll(h)
	if want := "/dev/null:r operation not permitted\n/dev/full:r ok\n"; out != want {
		t.Errorf("after update: %q, want %q", out, want)
	}
}

func readAll(h *helper) (string, error) {
	var b strings.Builder
	sc := bufio.NewScanner(h.out)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String(), sc.Err()
}

// TestDeviceProgramHybrid runs the v2 eBPF device filter on a hybrid host, in the cgroup2
// hierarchy mounted at /sys/fs/cgroup/unified (on a pure v2 host TestDevices covers it).
func TestDeviceProgramHybrid(t *testing.T) {
	needRoot(t)
	u := hybridUnified()
	if u == "" {
		t.Skip("no hybrid cgroup2 mount")
	}
	dir := filepath.Join(u, "berth-cgtest-bpf-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := removeTree(dir); err != nil {
			t.Error(err)
		}
	}()
	if err := setV2Devices(dir, deviceCases.rules); err != nil {
		t.Fatal(err)
	}
	// Replacing keeps exactly one program attached.
	if err := setV2Devices(dir, deviceCases.rules); err != nil {
		t.Fatal(err)
	}
	if ids, err := attachedDevicePrograms(dir); err != nil || len(ids) != 1 {
		t.Errorf("attached device programs after replacing: %v, %v; want one", ids, err)
	}
	checkDeviceAccess(t, func(pid int) error { return write(dir, "cgroup.procs", strconv.Itoa(pid)) })
}

func TestStats(t *testing.T) {
	parent := testParent(t)
	m := openTest(t, parent+"/stats")
	defer func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	}()
	if err := m.Create(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(256 * mib)}, Pids: &specs.LinuxPids{Limit: i64(64)}}); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "tick")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.goOn(t)
	go func() { _, _ = readAll(h) }()
	time.Sleep(100 * time.Millisecond)
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Usage.Total == 0 {
		t.Errorf("no cpu usage: %+v", s.CPU)
	}
	if s.Memory.Usage.Usage == 0 || s.Memory.Usage.Limit != 256*mib {
		t.Errorf("memory stats: %+v", s.Memory.Usage)
	}
	if s.Pids.Current == 0 || s.Pids.Limit != 64 {
		t.Errorf("pids stats: %+v", s.Pids)
	}
	h.kill()
}

// TestDefaultPathLeavesNothing: without a cgroupsPath a container gets /berth-<id> at the top of
// each hierarchy, and Destroy leaves nothing behind: no directory of its own and no shared
// parent (an earlier layout kept a /berth parent in every hierarchy forever).
func TestDefaultPathLeavesNothing(t *testing.T) {
	needRoot(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := "cgtest-" + hex.EncodeToString(b)
	m, err := Open("", id)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}}); err != nil {
		t.Fatal(err)
	}
	roots := map[string]bool{}
	for _, d := range hierarchyDirs(t, "/") {
		roots[d] = true
	}
	paths := m.Paths()
	if len(paths) == 0 {
		t.Fatal("no cgroup paths")
	}
	for c, p := range paths {
		if filepath.Base(p) != "berth-"+id || !roots[filepath.Dir(p)] {
			t.Errorf("%s: %s is not berth-%s at the top of a hierarchy", c, p, id)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for root := range roots {
		for _, name := range []string{"berth-" + id, "berth"} {
			if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
				t.Errorf("left behind: %s", filepath.Join(root, name))
			}
		}
	}
}
