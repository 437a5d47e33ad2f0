//go:build linux

// Package guestcheck checks that the pure cgroup v2 test guest booted by
// hack/vm-test.sh offers what the runtime tests rely on. The tests only run
// in the guest (BERTH_TEST_GUEST=v2); elsewhere they skip.
package guestcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const cgroup2SuperMagic = 0x63677270 // CGROUP2_SUPER_MAGIC

func requireGuest(t *testing.T) {
	t.Helper()
	if os.Getenv("BERTH_TEST_GUEST") != "v2" {
		t.Skip("runs only in the cgroup v2 test guest (hack/vm-test.sh)")
	}
	if os.Getuid() != 0 {
		t.Fatal("the guest runs tests as root")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeFile(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		t.Fatalf("write %q to %s: %v", value, path, err)
	}
}

// keyedValue returns the value of key in a flat-keyed cgroup file such as
// memory.events.
func keyedValue(t *testing.T, path, key string) int64 {
	t.Helper()
	for _, line := range strings.Split(readFile(t, path), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, line, err)
			}
			return v
		}
	}
	t.Fatalf("%s has no %q", path, key)
	return 0
}

// newCgroup creates a child of the cgroup2 root, removed at the end of the test.
func newCgroup(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/sys/fs/cgroup", "guestcheck-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove cgroup: %v", err)
		}
	})
	return dir
}

// runInCgroup starts sh -c script directly in the cgroup (clone3
// CLONE_INTO_CGROUP) and waits for it.
func runInCgroup(t *testing.T, cgroup, script string) (string, error) {
	t.Helper()
	fd, err := syscall.Open(cgroup, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func TestCgroup2Mounted(t *testing.T) {
	requireGuest(t)
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != cgroup2SuperMagic {
		t.Fatalf("/sys/fs/cgroup has file system magic %#x, want cgroup2 %#x", st.Type, cgroup2SuperMagic)
	}
	// cgroup_no_v1=all: no v1 hierarchy anywhere.
	for _, line := range strings.Split(readFile(t, "/proc/self/mountinfo"), "\n") {
		if f := strings.Fields(line); len(f) > 8 && f[len(f)-3] == "cgroup" {
			t.Errorf("cgroup v1 mount: %s", line)
		}
	}
	if got := readFile(t, "/proc/self/cgroup"); !strings.HasPrefix(got, "0::/") || strings.Contains(got, "\n") {
		t.Errorf("/proc/self/cgroup = %q, want a single v2 line", got)
	}
}

func TestControllers(t *testing.T) {
	requireGuest(t)
	want := []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}
	for _, file := range []string{"cgroup.controllers", "cgroup.subtree_control"} {
		have := strings.Fields(readFile(t, filepath.Join("/sys/fs/cgroup", file)))
		for _, c := range want {
			if !contains(have, c) {
				t.Errorf("%s = %v, missing %s", file, have, c)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestChildCgroupLimits(t *testing.T) {
	requireGuest(t)
	cg := newCgroup(t)
	for _, f := range []string{"memory.max", "memory.swap.max", "pids.max", "cpu.max", "cpu.weight",
		"io.max", "io.weight", "cpuset.cpus", "hugetlb.2MB.max"} {
		if _, err := os.Stat(filepath.Join(cg, f)); err != nil {
			t.Errorf("child cgroup lacks %s: %v", f, err)
		}
	}
	writeFile(t, filepath.Join(cg, "memory.max"), "33554432")
	writeFile(t, filepath.Join(cg, "memory.swap.max"), "0")
	writeFile(t, filepath.Join(cg, "pids.max"), "8")
	writeFile(t, filepath.Join(cg, "cpu.max"), "50000 100000")
	if got := readFile(t, filepath.Join(cg, "memory.max")); got != "33554432" {
		t.Errorf("memory.max = %q", got)
	}
	if got := readFile(t, filepath.Join(cg, "pids.max")); got != "8" {
		t.Errorf("pids.max = %q", got)
	}

	out, err := runInCgroup(t, cg, "cat /proc/self/cgroup")
	if err != nil {
		t.Fatalf("process in cgroup: %v: %s", err, out)
	}
	if want := "0::/" + filepath.Base(cg); strings.TrimSpace(out) != want {
		t.Errorf("process's cgroup = %q, want %q", out, want)
	}

	// pids.max: the ninth concurrent process cannot be forked.
	out, err = runInCgroup(t, cg, `i=0; while [ $i -lt 20 ]; do /bin/sleep 1 & i=$((i+1)); done; kill $(jobs -p) 2>/dev/null; wait`)
	t.Logf("fork bomb: err=%v out=%q", err, firstLine(out))
	if n := keyedValue(t, filepath.Join(cg, "pids.events"), "max"); n == 0 {
		t.Errorf("pids.events max = 0 after forking past pids.max")
	}

	// memory.max: a 64 MiB buffer in a 32 MiB cgroup gets the process OOM-killed.
	out, err = runInCgroup(t, cg, "exec /bin/dd if=/dev/zero of=/dev/null bs=64M count=1")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("dd past memory.max: err=%v out=%q, want SIGKILL", err, out)
	}
	if n := keyedValue(t, filepath.Join(cg, "memory.events"), "oom_kill"); n == 0 {
		t.Errorf("memory.events oom_kill = 0")
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func TestHugePages(t *testing.T) {
	requireGuest(t)
	meminfo := readFile(t, "/proc/meminfo")
	if !strings.Contains(meminfo, "HugePages_Total:      16") {
		t.Errorf("expected 16 reserved huge pages (hugepages=16), meminfo:\n%s", meminfo)
	}
}

func TestOverlayfs(t *testing.T) {
	requireGuest(t)
	dir := t.TempDir()
	lower, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"),
		filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(lower, "a"), "lower")
	writeFile(t, filepath.Join(lower, "b"), "lower")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	defer func() {
		if err := syscall.Unmount(merged, 0); err != nil {
			t.Errorf("unmount overlay: %v", err)
		}
	}()
	if got := readFile(t, filepath.Join(merged, "a")); got != "lower" {
		t.Errorf("merged/a = %q", got)
	}
	writeFile(t, filepath.Join(merged, "a"), "upper")
	if err := os.Remove(filepath.Join(merged, "b")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(upper, "a")); got != "upper" {
		t.Errorf("copy-up: upper/a = %q", got)
	}
	if got := readFile(t, filepath.Join(lower, "a")); got != "lower" {
		t.Errorf("lower/a changed to %q", got)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(upper, "b"), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != 0 {
		t.Errorf("no whiteout for b in upper: %v mode %#o", err, st.Mode)
	}
}

func TestUserPidMountNamespaces(t *testing.T) {
	requireGuest(t)
	script := `set -e
echo "pid=$$"
readlink /proc/self/ns/user
mount -t tmpfs nsdemo /mnt
grep -c ' /mnt ' /proc/self/mountinfo`
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		// Become the namespace's root before execve, or sh loses its capabilities.
		Credential:                 &syscall.Credential{Uid: 0, Gid: 0},
		GidMappingsEnableSetgroups: true,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("namespaced sh: %v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("unexpected output %q", out)
	}
	if lines[0] != "pid=1" {
		t.Errorf("first process of the new pid namespace has %s, want pid=1", lines[0])
	}
	own, err := os.Readlink("/proc/self/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	if lines[1] == own {
		t.Errorf("child shares the user namespace %s", own)
	}
	if lines[2] != "1" {
		t.Errorf("tmpfs on /mnt in the child's mount namespace: count %s", lines[2])
	}
	// The mount stayed in the child's namespace.
	if strings.Contains(readFile(t, "/proc/self/mountinfo"), " /mnt ") {
		t.Errorf("the child's /mnt mount leaked into the parent's namespace")
	}
}

// TestPivotRoot checks that the guest root is not the initramfs rootfs, from
// which pivot_root(2) refuses to move away.
func TestPivotRoot(t *testing.T) {
	requireGuest(t)
	dir := t.TempDir()
	script := `set -e
mount --make-rprivate /
mount -t tmpfs newroot "$1"
mkdir "$1/bin" "$1/old"
cp /bin/busybox "$1/bin/busybox"
cd "$1"
pivot_root . old
exec /bin/busybox sh -c '/bin/busybox umount -l /old && /bin/busybox ls / && echo pivoted'`
	cmd := exec.Command("/bin/sh", "-c", script, "sh", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "pivoted") {
		t.Fatalf("pivot_root: %v: %s", err, out)
	}
}

func TestGuestEnvironment(t *testing.T) {
	requireGuest(t)
	if p := os.Getenv("PATH"); !strings.HasPrefix(p, "/usr/local/bin:") {
		t.Errorf("PATH = %q, want /usr/local/bin first (VM_EXTRA_BINS go there)", p)
	}
	// Busybox applets are hard links, so that masking one path masks one applet.
	var bb, sh syscall.Stat_t
	if err := syscall.Stat("/bin/busybox", &bb); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Lstat("/bin/sh", &sh); err != nil {
		t.Fatal(err)
	}
	if sh.Mode&syscall.S_IFMT != syscall.S_IFREG || sh.Ino != bb.Ino {
		t.Errorf("/bin/sh is not a hard link to /bin/busybox")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Errorf("no loop devices (module loop): %v", err)
	}
	if flags := readFile(t, "/sys/class/net/lo/flags"); flags != "0x9" {
		t.Errorf("lo flags = %s, want 0x9 (up, loopback)", flags)
	}
	if got := readFile(t, "/proc/self/cgroup"); got != "0::/init.scope" {
		t.Errorf("tests run in %q, want 0::/init.scope", got)
	}
}
