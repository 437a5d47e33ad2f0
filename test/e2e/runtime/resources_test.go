package runtime_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupV2 says whether the host is pure cgroup v2 (the qemu guest) rather than v1 (here).
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// procCgroups maps each controller of pid (v2: "") to its cgroup directory on the host.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	v2 := cgroupV2()
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 {
			if parts[0] == "0" {
				out[""] = filepath.Join("/sys/fs/cgroup", parts[2])
			}
			continue
		}
		// Debian mounts each v1 hierarchy at /sys/fs/cgroup/<controllers>, with a symlink per
		// controller when several share a hierarchy.
		for _, c := range strings.Split(parts[1], ",") {
			if c != "" && !strings.HasPrefix(c, "name=") {
				out[c] = filepath.Join("/sys/fs/cgroup", c, parts[2])
			}
		}
	}
	return out
}

var (
	cgroupProbeOnce sync.Once
	haveCgroups     bool
)

// requireCgroups skips the test when berth-runtime gives containers no cgroup of their own,
// which is what it does while built with the no-op runtime/cgroups stub.
func requireCgroups(t *testing.T) {
	t.Helper()
	cgroupProbeOnce.Do(func() {
		e := newEnv(t, "true")
		pid, _ := e.create()
		for _, dir := range procCgroups(t, pid) {
			if strings.HasSuffix(dir, "/berth-"+e.id) {
				haveCgroups = true
			}
		}
		e.delete()
	})
	if !haveCgroups {
		t.Skip("berth-runtime puts containers in no cgroup of their own: built with the no-op runtime/cgroups stub?")
	}
}

// cgroupRead reads a file of the container's cgroup from the host.
func cgroupRead(t *testing.T, paths map[string]string, controller, file string) string {
	t.Helper()
	dir := paths[controller]
	if cgroupV2() {
		dir = paths[""]
	}
	if dir == "" {
		t.Fatalf("container has no %q cgroup: %v", controller, paths)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func i64ptr(v int64) *int64   { return &v }
func u64ptr(v uint64) *uint64 { return &v }

const memLimit = 32 << 20

// TestResourcesMemoryOOM runs a process that allocates without end under a 32 MiB memory limit:
// the kernel's OOM killer ends it and run exits 137 (128+SIGKILL). The script first checks the
// limit is visible inside (through the container's /sys/fs/cgroup), so that without a working
// limit the test fails fast instead of eating the host's memory.
func TestResourcesMemoryOOM(t *testing.T) {
	requireCgroups(t)
	limitFile := "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	if cgroupV2() {
		limitFile = "/sys/fs/cgroup/memory.max"
	}
	// tail keeps the last lines of its input; /dev/zero has no newline, so the one line grows.
	e := newEnv(t, "sh", "-c", `l=$(cat `+limitFile+`); [ "$l" = `+strconv.Itoa(memLimit)+` ] || { echo "limit=$l"; exit 99; }; exec tail /dev/zero`)
	e.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64ptr(memLimit)}
	began := time.Now()
	r := e.run()
	if r.code != 137 {
		t.Fatalf("want exit 137 (OOM kill), got %s", r)
	}
	t.Logf("OOM kill after %v", time.Since(began))
}

// TestResourcesPidsLimit shows pids.limit refusing forks: with a limit of 5 the shell cannot
// start an eighth sleep.
func TestResourcesPidsLimit(t *testing.T) {
	requireCgroups(t)
	limitFile := "/sys/fs/cgroup/pids/pids.max"
	if cgroupV2() {
		limitFile = "/sys/fs/cgroup/pids.max"
	}
	e := newEnv(t, "sh", "-c", "echo limit=$(cat "+limitFile+"); for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait; echo all-forked")
	e.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: i64ptr(5)}
	r := e.run()
	if r.code == 0 || !strings.Contains(r.stderr, "can't fork") || strings.Contains(r.stdout, "all-forked") {
		t.Fatalf("want the shell to fail with \"can't fork\", got %s", r)
	}
	if !strings.Contains(r.stdout, "limit=5\n") {
		t.Errorf("pids.max inside the container: %q", r.stdout)
	}
}

// TestResourcesCPU checks that cpu shares, quota and period and the cpuset reach the cgroup
// files (read on the host through /proc/PID/cgroup, and inside through /sys/fs/cgroup), and that
// delete removes the container's cgroup directories.
func TestResourcesCPU(t *testing.T) {
	requireCgroups(t)
	v2 := cgroupV2()
	// Inside, v1 hierarchies appear as /sys/fs/cgroup/<hierarchy>/, v2 as /sys/fs/cgroup itself.
	e := newEnv(t, "sh", "-c", `for f in /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/cpuset.mems `+
		`/sys/fs/cgroup/*/cpu.shares /sys/fs/cgroup/*/cpu.cfs_quota_us /sys/fs/cgroup/*/cpu.cfs_period_us /sys/fs/cgroup/*/cpuset.cpus /sys/fs/cgroup/*/cpuset.mems; `+
		`do [ -f $f ] && echo "${f##*/}=$(cat $f)"; done; echo done; exec sleep 300`)
	e.spec.Linux.Resources.CPU = &specs.LinuxCPU{
		Shares: u64ptr(2048), Quota: i64ptr(50000), Period: u64ptr(100000), Cpus: "0", Mems: "0",
	}
	pid, out := e.create()
	paths := procCgroups(t, pid)
	e.start()

	// v2 has cpu.weight, converted from shares as runc 1.3 and crun do (1024 → 100, 2048 → 174).
	want := map[[2]string]string{
		{"cpu", "cpu.shares"}:        "2048",
		{"cpu", "cpu.cfs_quota_us"}:  "50000",
		{"cpu", "cpu.cfs_period_us"}: "100000",
		{"cpuset", "cpuset.cpus"}:    "0",
		{"cpuset", "cpuset.mems"}:    "0",
	}
	if v2 {
		want = map[[2]string]string{
			{"cpu", "cpu.weight"}:     "174",
			{"cpu", "cpu.max"}:        "50000 100000",
			{"cpuset", "cpuset.cpus"}: "0",
			{"cpuset", "cpuset.mems"}: "0",
		}
	}
	for k, w := range want {
		if got := cgroupRead(t, paths, k[0], k[1]); got != w {
			t.Errorf("host: %s is %q, want %q", k[1], got, w)
		}
	}

	deadline := time.Now().Add(10 * time.Second)
	var inside map[string]string
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), "done\n") {
			inside = parseKV(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container output: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for k, w := range want {
		if got := inside[k[1]]; got != w {
			t.Errorf("inside: %s is %q, want %q", k[1], got, w)
		}
	}

	e.delete("--force")
	for c, dir := range paths {
		if !strings.Contains(dir, "/berth-") {
			continue // a hierarchy the runtime leaves the container in the caller's cgroup of
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %q left after delete: %s", c, dir)
		}
	}
}
