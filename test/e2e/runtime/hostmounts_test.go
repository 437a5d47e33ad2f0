package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootMounts returns the mountinfo lines of the mounts at "/" (mount id, parent, propagation
// tags and all) and those under dir.
func rootMounts(t *testing.T, dir string) (root, under []string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if f[4] == "/" {
			root = append(root, line)
		}
		if f[4] == dir || strings.HasPrefix(f[4], dir+"/") {
			under = append(under, line)
		}
	}
	return root, under
}

// TestNoMountNamespace: a container that inherits every namespace (the OCI suite's
// linux_ns_itype) has its rootfs set up in the caller's mount namespace: its root is the
// rootfs (chroot, not pivot_root), it has its own /proc, /dev and the rest while it runs, the
// caller's "/" keeps its mount and propagation, and delete leaves no mount behind. exec enters
// the same root.
func TestNoMountNamespace(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	e.spec.Linux.Namespaces = nil
	e.spec.Hostname = ""
	if err := os.WriteFile(filepath.Join(e.bundle, "rootfs", "marker"), []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs, err := filepath.EvalSymlinks(filepath.Join(e.bundle, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	rootBefore, underBefore := rootMounts(t, rootfs)
	if len(underBefore) != 0 {
		t.Fatalf("mounts under the new rootfs before create: %v", underBefore)
	}
	e.create()
	e.start()
	r := e.rt("exec", e.id, "sh", "-c", "cat /marker; readlink /proc/self/ns/mnt; test -e /dev/null && echo dev=ok")
	if r.code != 0 {
		t.Fatalf("exec: %s", r)
	}
	hostNS, _ := os.Readlink("/proc/self/ns/mnt")
	for _, want := range []string{"inside", hostNS, "dev=ok"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("exec output %q lacks %q", r.stdout, want)
		}
	}
	rootDuring, underDuring := rootMounts(t, rootfs)
	if strings.Join(rootDuring, "\n") != strings.Join(rootBefore, "\n") {
		t.Errorf("the caller's / changed while the container runs:\nbefore %q\nnow    %q", rootBefore, rootDuring)
	}
	if len(underDuring) == 0 {
		t.Errorf("no mounts under the rootfs while the container runs")
	}
	e.delete("--force")
	rootAfter, underAfter := rootMounts(t, rootfs)
	if strings.Join(rootAfter, "\n") != strings.Join(rootBefore, "\n") {
		t.Errorf("the caller's / changed:\nbefore %q\nafter  %q", rootBefore, rootAfter)
	}
	if len(underAfter) != 0 {
		t.Errorf("mounts left under the rootfs after delete: %v", underAfter)
	}
}

// TestJoinedMountNamespaceCopy: a mount namespace joined by path that shows the bundle (a copy of
// the caller's, as `unshare -m` makes: the OCI suite's linux_ns_path) gets the rootfs set up in
// it and pivoted to; the caller's mounts stay as they were.
func TestJoinedMountNamespaceCopy(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare here")
	}
	// Short options, which busybox's unshare (the v2 guest's) takes too; both make the new
	// namespace's mounts private.
	holder := exec.Command("unshare", "-m", "sleep", "300")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	nsPath := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/mnt"
	self, _ := os.Readlink("/proc/self/ns/mnt")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if l, _ := os.Readlink(nsPath); l != "" && l != self {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unshare did not make its mount namespace")
		}
	}
	e := newEnv(t, "sh", "-c", "cat /marker; readlink /proc/self/ns/mnt; test -e /bin/busybox && echo root=busybox")
	if err := os.WriteFile(filepath.Join(e.bundle, "rootfs", "marker"), []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, ns := range e.spec.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			e.spec.Linux.Namespaces[i].Path = nsPath
		}
	}
	rootfs, _ := filepath.EvalSymlinks(filepath.Join(e.bundle, "rootfs"))
	rootBefore, _ := rootMounts(t, rootfs)
	out := e.mustRun()
	want, _ := os.Readlink(nsPath)
	for _, w := range []string{"inside", want, "root=busybox"} {
		if !strings.Contains(out, w) {
			t.Errorf("output %q lacks %q", out, w)
		}
	}
	rootAfter, underAfter := rootMounts(t, rootfs)
	if strings.Join(rootAfter, "\n") != strings.Join(rootBefore, "\n") || len(underAfter) != 0 {
		t.Errorf("the caller's mounts changed: / %q -> %q, under the rootfs %q", rootBefore, rootAfter, underAfter)
	}
}

// TestNoMountNamespaceFailedCreate: a create without a mount namespace that fails part way
// through its mounts leaves none of them behind in the caller's namespace.
func TestNoMountNamespaceFailedCreate(t *testing.T) {
	e := newEnv(t, "true")
	e.spec.Linux.Namespaces = nil
	e.spec.Hostname = ""
	e.spec.Mounts = append(e.spec.Mounts, specs.Mount{Destination: "/late", Type: "no-such-fs", Source: "none"})
	rootfs, err := filepath.EvalSymlinks(filepath.Join(e.bundle, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	rootBefore, _ := rootMounts(t, rootfs)
	r := e.run()
	if r.code == 0 || !strings.Contains(r.stderr, "/late") {
		t.Fatalf("run with a mount of an unknown filesystem: %s", r)
	}
	rootAfter, under := rootMounts(t, rootfs)
	if strings.Join(rootAfter, "\n") != strings.Join(rootBefore, "\n") || len(under) != 0 {
		t.Errorf("failed create left mounts: / %q -> %q, under the rootfs %q", rootBefore, rootAfter, under)
	}
}

// TestNoMountNamespaceKeepsRootfsMount: a rootfs that is a mount of its own before create (an
// engine's overlay of the image) stays mounted, as it was, after delete; only the container's
// mounts go. The read-only root the spec asks for applies to it while the container runs.
func TestNoMountNamespaceKeepsRootfsMount(t *testing.T) {
	e := newEnv(t, "sh", "-c", "touch /rw-probe 2>/dev/null && echo root=writable || echo root=readonly")
	e.spec.Linux.Namespaces = nil
	e.spec.Hostname = ""
	rootfs, err := filepath.EvalSymlinks(filepath.Join(e.bundle, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(rootfs, rootfs, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(rootfs, syscall.MNT_DETACH) })
	_, before := rootMounts(t, rootfs)
	if len(before) != 1 {
		t.Fatalf("mounts under the rootfs before create: %v", before)
	}
	if out := e.mustRun(); !strings.Contains(out, "root=readonly") {
		t.Errorf("container output %q: want a read-only root", out)
	}
	if _, after := rootMounts(t, rootfs); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("mounts under the rootfs: before %q, after delete %q", before, after)
	}
}
