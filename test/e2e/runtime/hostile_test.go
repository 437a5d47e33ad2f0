package runtime_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/test/fixture"
)

// Regression tests for the runtime CVE classes around mounts and paths: a hostile rootfs or
// volume must never make the runtime create, mount or write anything outside the container's
// root. Each test snapshots the host side (the directories a mount could reach, host files a
// symlink points at, and every mount below the test's temporary directory) before the container
// runs and compares after it is gone.

// hostState is a snapshot of what a hostile bundle might touch on the host.
type hostState struct {
	t      *testing.T
	dirs   []string // trees compared entry by entry (a missing one is recorded as missing)
	files  []string // single files: kind, mode, owner, content digest
	roots  []string // mount points below these are compared
	before map[string]string
}

func snapshotHost(t *testing.T, dirs, files, roots []string) *hostState {
	t.Helper()
	h := &hostState{t: t, dirs: dirs, files: files, roots: roots}
	h.before = h.take()
	return h
}

func (h *hostState) take() map[string]string {
	h.t.Helper()
	m := map[string]string{}
	for _, d := range h.dirs {
		tree, err := fixture.Tree(d, true)
		if err != nil {
			m["dir "+d] = "unreadable: " + errors.Unwrap(err).Error()
			continue
		}
		m["dir "+d] = "present"
		for k, v := range tree {
			m[d+"/"+k] = v
		}
	}
	for _, f := range h.files {
		var st unix.Stat_t
		if err := unix.Lstat(f, &st); err != nil {
			m["file "+f] = err.Error()
			continue
		}
		sum := "-"
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			if b, err := os.ReadFile(f); err == nil {
				d := sha256.Sum256(b)
				sum = hex.EncodeToString(d[:8])
			}
		}
		m["file "+f] = fmt.Sprintf("mode %o uid %d gid %d sum %s", st.Mode, st.Uid, st.Gid, sum)
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, r := range h.roots {
			if f[4] == r || strings.HasPrefix(f[4], r+"/") {
				m["mount "+f[4]] += "+"
			}
		}
	}
	return m
}

// check reports every difference between now and the snapshot.
func (h *hostState) check() {
	h.t.Helper()
	after := h.take()
	var keys []string
	for k := range h.before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := h.before[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if b, a := h.before[k], after[k]; a != b {
			h.t.Errorf("host changed: %s: before %q, after %q", k, b, a)
		}
	}
}

// hostileEnv is an env whose temporary directory also holds "outside", a host directory that
// symlinks in the rootfs or in volumes point at, and "vol", a volume for bind mounts.
type hostileEnv struct {
	*env
	base, outside, vol string
}

func newHostileEnv(t *testing.T, script string) *hostileEnv {
	t.Helper()
	e := newEnv(t, "sh", "-c", script)
	base := filepath.Dir(e.bundle)
	h := &hostileEnv{env: e, base: base, outside: filepath.Join(base, "outside"), vol: filepath.Join(base, "vol")}
	for _, d := range []string{h.outside, h.vol} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTestFile(t, filepath.Join(h.outside, "keep"), "host file\n")
	return h
}

func (h *hostileEnv) rootfs(p string) string { return filepath.Join(h.bundle, "rootfs", p) }

// symlink makes link (a host path) point at target, replacing what is there.
func (h *hostileEnv) symlink(target, link string) {
	h.t.Helper()
	if err := os.RemoveAll(link); err != nil {
		h.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		h.t.Fatal(err)
	}
}

// snapshot records the outside and volume directories, the given host files and every mount
// below the test's directory.
func (h *hostileEnv) snapshot(files ...string) *hostState {
	h.t.Helper()
	return snapshotHost(h.t, []string{h.outside, h.vol}, files, []string{h.base})
}

// withoutDev drops the /dev mounts from the spec, so that the rootfs's own /dev is used.
func withoutDev(s *specs.Spec) {
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool {
		return m.Destination == "/dev" || strings.HasPrefix(m.Destination, "/dev/")
	})
}

func bindMount(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
}

func tmpfsMount(dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}}
}

// hostProcFile is a host-global procfs file an attack would like to reach: written through a
// mask or chmodded through a device node, it changes the host.
func hostProcFile(t *testing.T) string {
	for _, p := range []string{"/proc/irq/default_smp_affinity", "/proc/sys/kernel/core_pattern"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no host procfs file to aim at")
	return ""
}

// TestCVE_2021_30465_SymlinkInVolume: a volume holding a symlink to a host directory, and mounts
// below it. The symlink is followed inside the rootfs (as in runc); nothing appears on the host.
func TestCVE_2021_30465_SymlinkInVolume(t *testing.T) {
	h := newHostileEnv(t, "")
	h.symlink(h.outside, filepath.Join(h.vol, "x"))
	hostFile := filepath.Join(h.base, "hostfile")
	writeTestFile(t, hostFile, "bound file\n")
	h.spec.Process.Args = []string{"sh", "-c", fmt.Sprintf(
		"grep -c ' %[1]s/sub ' /proc/self/mountinfo; cat /data/x/f; ls /data/x/sub && echo sub-is-a-dir", h.outside)}
	h.spec.Mounts = append(h.spec.Mounts,
		bindMount(h.vol, "/data"),
		tmpfsMount("/data/x/sub"),
		specs.Mount{Destination: "/data/x/f", Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}},
	)
	snap := h.snapshot(hostFile)
	out := h.mustRun()
	snap.check()
	if !strings.Contains(out, "1\nbound file\n") || !strings.Contains(out, "sub-is-a-dir") {
		t.Errorf("container output %q: want the tmpfs and the file inside the rootfs at %s", out, h.outside)
	}
	if _, err := os.Stat(h.rootfs(filepath.Join(h.outside, "sub"))); err != nil {
		t.Errorf("the mount point was not made inside the rootfs: %v", err)
	}
}

// TestMountDestinationMagicLinks: destinations through procfs magic links are refused; ".." is
// contained in the root.
func TestMountDestinationMagicLinks(t *testing.T) {
	for _, via := range []string{"/proc/self/root", "/proc/1/root", "/proc/thread-self/root", "/proc/self/cwd"} {
		t.Run(strings.ReplaceAll(via[1:], "/", "_"), func(t *testing.T) {
			h := newHostileEnv(t, "true")
			h.spec.Mounts = append(h.spec.Mounts, tmpfsMount(via+h.outside+"/magic"))
			snap := h.snapshot()
			r := h.run()
			snap.check()
			failsCleanly(t, r, "magic link")
		})
	}
	t.Run("cwd", func(t *testing.T) {
		// The cwd directory is made inside the root too: a magic link on its way is refused.
		h := newHostileEnv(t, "true")
		h.spec.Process.Cwd = "/proc/self/root" + h.outside + "/cwd"
		snap := h.snapshot()
		r := h.run()
		snap.check()
		failsCleanly(t, r, "magic link")
	})
	t.Run("dotdot", func(t *testing.T) {
		h := newHostileEnv(t, "")
		dst := "/../../../../.." + h.outside + "/../outside/dd"
		h.spec.Process.Args = []string{"sh", "-c", fmt.Sprintf("grep -c ' %s/dd ' /proc/self/mountinfo", h.outside)}
		h.spec.Mounts = append(h.spec.Mounts, tmpfsMount(dst))
		snap := h.snapshot()
		out := h.mustRun()
		snap.check()
		if strings.TrimSpace(out) != "1" {
			t.Errorf("container output %q: want the tmpfs at %s/dd inside the root", out, h.outside)
		}
	})
}

// TestCVE_2023_28642_ProcSymlink: a rootfs whose /proc is a symlink is refused (the proc mount
// would land elsewhere and the runtime's procfs writes with it).
func TestCVE_2023_28642_ProcSymlink(t *testing.T) {
	h := newHostileEnv(t, "true")
	inRootfs(t, h.env, map[string]string{"fakeproc/": ""})
	h.symlink("/fakeproc", h.rootfs("proc"))
	snap := h.snapshot()
	r := h.run()
	snap.check()
	failsCleanly(t, r, "/proc", "symlink")
}

// TestCVE_2019_19921_MountOverProc: no mount but procfs may cover /proc or /proc/sys after the
// proc mount, nor anything in /proc/self/attr (CVE-2019-16884), also when a volume's symlink
// leads there (CVE-2023-27561); single-file binds over the lxcfs set stay allowed.
func TestCVE_2019_19921_MountOverProc(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mount func(h *hostileEnv) []specs.Mount
	}{
		{"tmpfs over /proc", func(h *hostileEnv) []specs.Mount { return []specs.Mount{tmpfsMount("/proc")} }},
		{"bind over /proc/sys", func(h *hostileEnv) []specs.Mount { return []specs.Mount{bindMount(h.vol, "/proc/sys")} }},
		{"CVE-2019-16884 bind over /proc/self/attr", func(h *hostileEnv) []specs.Mount {
			return []specs.Mount{bindMount(h.vol, "/proc/self/attr")}
		}},
		{"bind over /proc/sys/kernel/core_pattern", func(h *hostileEnv) []specs.Mount {
			return []specs.Mount{bindMount(filepath.Join(h.outside, "keep"), "/proc/sys/kernel/core_pattern")}
		}},
		{"CVE-2023-27561 volume symlink to /proc", func(h *hostileEnv) []specs.Mount {
			h.symlink("/proc", filepath.Join(h.vol, "p"))
			return []specs.Mount{bindMount(h.vol, "/vol"), bindMount(filepath.Join(h.outside, "keep"), "/vol/p/sys/kernel/core_pattern")}
		}},
		{"CVE-2023-27561 volume symlink to /proc/cpuinfo", func(h *hostileEnv) []specs.Mount {
			// The allowlist is for the literal path only, not for whatever leads there.
			h.symlink("/proc", filepath.Join(h.vol, "p"))
			return []specs.Mount{bindMount(h.vol, "/vol"), bindMount(filepath.Join(h.outside, "keep"), "/vol/p/cpuinfo")}
		}},
	} {
		t.Run(strings.ReplaceAll(tc.name, "/", "_"), func(t *testing.T) {
			h := newHostileEnv(t, "true")
			h.spec.Mounts = append(h.spec.Mounts, tc.mount(h)...)
			snap := h.snapshot()
			r := h.run()
			snap.check()
			failsCleanly(t, r, "procfs")
		})
	}
	t.Run("lxcfs-style binds allowed", func(t *testing.T) {
		h := newHostileEnv(t, "cat /proc/cpuinfo /proc/uptime")
		fake := filepath.Join(h.base, "cpuinfo")
		writeTestFile(t, fake, "fake cpuinfo\n")
		h.spec.Mounts = append(h.spec.Mounts,
			specs.Mount{Destination: "/proc/cpuinfo", Type: "bind", Source: fake, Options: []string{"bind", "ro"}},
			specs.Mount{Destination: "/proc/uptime", Type: "bind", Source: fake, Options: []string{"bind", "ro"}})
		snap := h.snapshot(fake)
		out := h.mustRun()
		snap.check()
		if out != "fake cpuinfo\nfake cpuinfo\n" {
			t.Errorf("container output %q: want the bound files", out)
		}
	})
}

// TestCVE_2025_31133_DevNullSymlink: an image whose /dev/null is a symlink to a host-global
// procfs file. The device node is not made over it (nor the file chmodded through it), and no
// mask binds it: the container is refused, the host file is untouched.
func TestCVE_2025_31133_DevNullSymlink(t *testing.T) {
	target := hostProcFile(t)
	for _, userns := range []bool{false, true} {
		t.Run(fmt.Sprintf("userns=%v", userns), func(t *testing.T) {
			h := newHostileEnv(t, "echo 1 > /proc/keys")
			withoutDev(h.spec)
			if userns {
				h.useUserns()
			}
			h.symlink(target, h.rootfs("dev/null"))
			snap := h.snapshot(target)
			r := h.run()
			snap.check()
			failsCleanly(t, r, "/dev/null", "symlink")
		})
	}
}

// TestCVE_2025_52565_ConsoleSymlink: /dev/console and /dev/pts cannot be redirected by the
// rootfs (to a procfs file the pty bind would make writable).
func TestCVE_2025_52565_ConsoleSymlink(t *testing.T) {
	target := hostProcFile(t)
	t.Run("console", func(t *testing.T) {
		h := newHostileEnv(t, "true")
		withoutDev(h.spec)
		h.spec.Process.Terminal = true
		h.symlink(target, h.rootfs("dev/console"))
		h.write()
		cl := listenConsole(t)
		snap := h.snapshot(target)
		r := h.rt("create", "--bundle", h.bundle, "--console-socket", cl.path, h.id)
		snap.check()
		failsCleanly(t, r, "/dev/console", "symlink")
	})
	t.Run("pts", func(t *testing.T) {
		h := newHostileEnv(t, "true")
		withoutDev(h.spec)
		h.spec.Mounts = append(h.spec.Mounts, specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}})
		h.symlink("/proc/sys/kernel", h.rootfs("dev/pts"))
		snap := h.snapshot(target)
		r := h.run()
		snap.check()
		failsCleanly(t, r, "/dev/pts", "procfs")
	})
	t.Run("console contained", func(t *testing.T) {
		// The default set-up: the container's console is its pty, bound over /dev/console.
		h := newHostileEnv(t, "true")
		h.spec.Process.Terminal = true
		h.spec.Process.Args = []string{"sh", "-c", "grep -c ' /dev/console ' /proc/self/mountinfo; echo ready"}
		h.write()
		cl := listenConsole(t)
		snap := h.snapshot()
		if r := h.rt("create", "--bundle", h.bundle, "--console-socket", cl.path, h.id); r.code != 0 {
			t.Fatalf("create: %s", r)
		}
		master, _ := cl.master()
		if r := h.rt("start", h.id); r.code != 0 {
			t.Fatalf("start: %s", r)
		}
		var out strings.Builder
		buf := make([]byte, 4096)
		for !strings.Contains(out.String(), "ready") {
			n, err := master.Read(buf)
			if err != nil {
				t.Fatalf("read pty: %v (got %q)", err, out.String())
			}
			out.Write(buf[:n])
		}
		if !strings.HasPrefix(strings.TrimSpace(out.String()), "1") {
			t.Errorf("pty output %q: want one mount at /dev/console", out.String())
		}
		h.waitStopped()
		h.delete()
		snap.check()
	})
}

// TestCVE_2025_52881_SysctlProcHandle: sysctls are written through a procfs of the runtime's
// own, not through whatever the rootfs has at /proc/sys.
func TestCVE_2025_52881_SysctlProcHandle(t *testing.T) {
	h := newHostileEnv(t, "cat /realproc/sys/kernel/domainname /proc/sys/kernel/domainname")
	// No procfs at /proc: the rootfs's own files sit there, ready to take the write.
	h.spec.Mounts = slices.DeleteFunc(h.spec.Mounts, func(m specs.Mount) bool { return m.Destination == "/proc" })
	h.spec.Mounts = append(h.spec.Mounts, specs.Mount{Destination: "/realproc", Type: "proc", Source: "proc"})
	h.spec.Linux.MaskedPaths, h.spec.Linux.ReadonlyPaths = nil, nil
	h.spec.Linux.Sysctl = map[string]string{"kernel.domainname": "berth.example"}
	inRootfs(t, h.env, map[string]string{"proc/sys/kernel/domainname": "fake\n"})
	snap := h.snapshot()
	out := h.mustRun()
	snap.check()
	if out != "berth.example\nfake\n" {
		t.Errorf("container output %q: want the sysctl in the real procfs and the rootfs file untouched", out)
	}
}

// TestMountSourceThroughSymlink: sources are host paths resolved on the host, symlinks and all
// (docker -v /var/run/x:/x where /var/run is a symlink).
func TestMountSourceThroughSymlink(t *testing.T) {
	h := newHostileEnv(t, "cat /x/keep")
	link := filepath.Join(h.base, "run-link")
	h.symlink(h.outside, link)
	h.spec.Mounts = append(h.spec.Mounts, bindMount(filepath.Join(link, "."), "/x"))
	snap := h.snapshot()
	out := h.mustRun()
	snap.check()
	if out != "host file\n" {
		t.Errorf("container output %q: want the host file through the symlinked source", out)
	}
}

// TestMountOptionsSetattr: rro, nosymfollow, idmap and the recursive options take effect, and
// the ones that cannot apply are refused.
func TestMountOptionsSetattr(t *testing.T) {
	// A volume with a submount, to tell recursive from top-only options apart.
	setup := func(t *testing.T, h *hostileEnv) {
		sub := filepath.Join(h.vol, "sub")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=64k"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
		writeTestFile(t, filepath.Join(h.vol, "f"), "f\n")
		h.symlink("f", filepath.Join(h.vol, "l"))
	}
	probe := "for p in /data /data/sub; do touch $p/w 2>/dev/null && echo $p rw || echo $p ro; done; cat /data/l 2>/dev/null || echo nofollow"
	for _, tc := range []struct {
		opts []string
		want string
	}{
		{[]string{"ro"}, "/data ro\n/data/sub rw\nf\n"},
		{[]string{"rro"}, "/data ro\n/data/sub ro\nf\n"},
		// Recursive options apply after the top-level ones, as in runc.
		{[]string{"ro", "rrw"}, "/data rw\n/data/sub rw\nf\n"},
		{[]string{"nosymfollow"}, "/data rw\n/data/sub rw\nnofollow\n"},
		{[]string{"rnosymfollow", "rro"}, "/data ro\n/data/sub ro\nnofollow\n"},
	} {
		t.Run(strings.Join(tc.opts, "+"), func(t *testing.T) {
			h := newHostileEnv(t, probe)
			setup(t, h)
			h.spec.Root.Readonly = false
			h.spec.Mounts = append(h.spec.Mounts, bindMount(h.vol, "/data", tc.opts...))
			// The volume is the container's to write: only the rest of the host is compared.
			snap := snapshotHost(t, []string{h.outside}, nil, []string{h.base})
			out := h.mustRun()
			snap.check()
			if out != tc.want {
				t.Errorf("container output %q, want %q", out, tc.want)
			}
		})
	}
	t.Run("idmap", func(t *testing.T) {
		h := newHostileEnv(t, "stat -c '%u:%g' /data/f")
		idmappableVolume(t, h)
		writeTestFile(t, filepath.Join(h.vol, "f"), "f\n")
		m := bindMount(h.vol, "/data", "idmap")
		m.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		m.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		h.spec.Mounts = append(h.spec.Mounts, m)
		snap := h.snapshot()
		r := h.run()
		snap.check()
		if r.code != 0 && os.Getenv("BERTH_TEST_GUEST") != "" && strings.Contains(r.stderr, "does not support id-mapped mounts") {
			t.Skipf("the guest's file system cannot be id-mapped: %s", r.stderr)
		}
		if r.code != 0 || r.stdout != "100000:200000\n" {
			t.Errorf("want the file owned by 0:0 seen as 100000:200000 through the id-mapped mount: %s", r)
		}
	})
	t.Run("idmap in a user namespace", func(t *testing.T) {
		// The common case: host files owned by 0 seen as the container's root through the mount,
		// which the container's own user namespace could not id-map by itself.
		h := newHostileEnv(t, "stat -c '%u:%g' /data/f /plain/f")
		h.useUserns()
		idmappableVolume(t, h)
		writeTestFile(t, filepath.Join(h.vol, "f"), "f\n")
		m := bindMount(h.vol, "/data", "idmap")
		m.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: usernsHostID, Size: usernsSize}}
		m.GIDMappings = m.UIDMappings
		h.spec.Mounts = append(h.spec.Mounts, m, bindMount(h.vol, "/plain"))
		snap := h.snapshot()
		r := h.run()
		snap.check()
		if r.code != 0 && os.Getenv("BERTH_TEST_GUEST") != "" && strings.Contains(r.stderr, "does not support id-mapped mounts") {
			t.Skipf("the guest's file system cannot be id-mapped: %s", r.stderr)
		}
		if r.code != 0 || r.stdout != "0:0\n65534:65534\n" {
			t.Errorf("want the host's 0:0 file as 0:0 through the id-mapped mount, unmapped without: %s", r)
		}
	})
	for _, tc := range []struct {
		name string
		m    specs.Mount
		want string
	}{
		{"idmap on tmpfs", specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"},
			UIDMappings: []specs.LinuxIDMapping{{HostID: 100000, Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{HostID: 100000, Size: 1}}}, "only bind mounts"},
		{"idmap without mappings", specs.Mount{Destination: "/t", Type: "bind", Source: "/tmp", Options: []string{"rbind", "idmap"}}, "uidMappings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostileEnv(t, "true")
			h.spec.Mounts = append(h.spec.Mounts, tc.m)
			snap := h.snapshot()
			r := h.run()
			snap.check()
			failsCleanly(t, r, tc.want)
		})
	}
}

// idmappableVolume puts the volume on a file system that supports id-mapped mounts. On the host
// the test's temporary directory does (ext4); the guest's is a tmpfs, which 6.1 cannot id-map:
// there it is an ext2 loop file system mounted by the ext4 driver (loaded by hack/vm-test.sh).
func idmappableVolume(t *testing.T, h *hostileEnv) {
	t.Helper()
	if os.Getenv("BERTH_TEST_GUEST") == "" {
		return
	}
	img := filepath.Join(h.base, "ext.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mke2fs", "-F", img).CombinedOutput(); err != nil {
		t.Skipf("no ext2 file system for id-mapped mounts here: mke2fs: %v: %s", err, out)
	}
	dir := filepath.Join(h.base, "ext")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Skipf("no ext2 file system for id-mapped mounts here: mount: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-d", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	h.vol = filepath.Join(dir, "vol")
	if err := os.Mkdir(h.vol, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestMountFeatures: features lists the mount options that apply, id-mapped mounts included.
func TestMountFeatures(t *testing.T) {
	e := newEnv(t, "true")
	r := e.rt("features")
	if r.code != 0 {
		t.Fatalf("features: %s", r)
	}
	var f struct {
		MountOptions []string `json:"mountOptions"`
		Linux        struct {
			MountExtensions struct {
				IDMap struct {
					Enabled *bool `json:"enabled"`
				} `json:"idmap"`
			} `json:"mountExtensions"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"rro", "rrw", "nosymfollow", "rnosymfollow", "idmap", "ridmap", "rbind", "ro"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("mountOptions %v lacks %s", f.MountOptions, o)
		}
	}
	if slices.Contains(f.MountOptions, "tmpcopyup") {
		t.Errorf("mountOptions lists tmpcopyup, which is not applied")
	}
	if e := f.Linux.MountExtensions.IDMap.Enabled; e == nil || !*e {
		t.Errorf("mountExtensions.idmap.enabled is %v, want true", e)
	}
}

// TestMountHostileRootfsAll: one rootfs with every hostile shape at once, and volumes and
// destinations aimed out of it. One clear error, nothing left behind on the host.
func TestMountHostileRootfsAll(t *testing.T) {
	target := hostProcFile(t)
	h := newHostileEnv(t, "true")
	withoutDev(h.spec)
	h.spec.Process.Terminal = false
	h.symlink(target, h.rootfs("dev/null"))
	h.symlink(target, h.rootfs("dev/console"))
	h.symlink("/proc/sys/kernel", h.rootfs("dev/pts"))
	h.symlink(h.outside, h.rootfs("escape"))
	h.symlink("../../../../../../..", h.rootfs("up"))
	h.symlink(h.outside, filepath.Join(h.vol, "x"))
	h.symlink("/proc", filepath.Join(h.vol, "p"))
	h.spec.Mounts = append(h.spec.Mounts,
		bindMount(h.vol, "/data"),
		tmpfsMount("/data/x/sub"),
		tmpfsMount("/escape/sub"),
		tmpfsMount("/up"+h.outside+"/up"),
		tmpfsMount("/../.."+h.outside+"/dd"),
		tmpfsMount("/proc/self/root"+h.outside+"/magic"),
		bindMount(h.vol, "/data/p/sys"),
	)
	files := []string{target}
	for _, shape := range []string{"as is", "with /proc a symlink"} {
		if shape != "as is" {
			inRootfs(t, h.env, map[string]string{"fakeproc/": ""})
			h.symlink("/fakeproc", h.rootfs("proc"))
		}
		snap := h.snapshot(files...)
		r := h.run()
		snap.check()
		if r.code == 0 {
			t.Fatalf("%s: the hostile bundle ran: %s", shape, r)
		}
		failsCleanly(t, r)
		entries, _ := os.ReadDir(h.outside)
		for _, d := range entries {
			if d.Name() != "keep" {
				t.Errorf("%s: %s appeared in the host directory", shape, d.Name())
			}
		}
	}
}

// TestMountHostileRootfsContained: the shapes that can be contained are: with symlinks out of the
// rootfs and out of a volume, and destinations climbing with "..", every mount lands inside the
// root (where the container sees it) and nothing on the host.
func TestMountHostileRootfsContained(t *testing.T) {
	h := newHostileEnv(t, "")
	h.symlink(h.outside, h.rootfs("escape"))
	h.symlink("../../../../../../..", h.rootfs("up"))
	h.symlink(h.outside, filepath.Join(h.vol, "x"))
	h.symlink("/nonexistent/deeper", filepath.Join(h.vol, "dangling"))
	hostFile := filepath.Join(h.base, "hostfile")
	writeTestFile(t, hostFile, "bound\n")
	h.spec.Mounts = append(h.spec.Mounts,
		bindMount(h.vol, "/data"),
		tmpfsMount("/data/x/sub"),
		tmpfsMount("/data/dangling/sub"),
		tmpfsMount("/escape/esc"),
		tmpfsMount("/up"+h.outside+"/up"),
		tmpfsMount("/../.."+h.outside+"/dd"),
		specs.Mount{Destination: "/escape/f", Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}},
	)
	var script []string
	for _, p := range []string{h.outside + "/sub", "/nonexistent/deeper/sub", h.outside + "/esc", h.outside + "/up", h.outside + "/dd", h.outside + "/f"} {
		script = append(script, fmt.Sprintf("grep -q ' %s ' /proc/self/mountinfo && echo in %s", p, p))
	}
	h.spec.Process.Args = []string{"sh", "-c", strings.Join(script, "; ") + "; cat /escape/f"}
	snap := h.snapshot(hostFile)
	out := h.mustRun()
	snap.check()
	want := fmt.Sprintf("in %[1]s/sub\nin /nonexistent/deeper/sub\nin %[1]s/esc\nin %[1]s/up\nin %[1]s/dd\nin %[1]s/f\nbound\n", h.outside)
	if out != want {
		t.Errorf("container output %q, want %q", out, want)
	}
}

// TestMountMasksReadOnly: masks are the null device or a read-only tmpfs, and read-only paths
// come after them, so that a mask below a read-only path is read-only too.
func TestMountMasksReadOnly(t *testing.T) {
	// Writing to a null-device mask is harmless (it is /dev/null): what matters is that the host
	// file behind it neither changes nor shows.
	h := newHostileEnv(t, "cat /proc/self/mountinfo; echo x > /proc/sys/kernel/core_pattern; echo core_pattern=$(wc -c < /proc/sys/kernel/core_pattern)")
	h.spec.Linux.MaskedPaths = append(h.spec.Linux.MaskedPaths, "/proc/sys/kernel/core_pattern", "/proc/sys/fs")
	snap := h.snapshot("/proc/sys/kernel/core_pattern")
	out := h.mustRun()
	snap.check()
	if !strings.Contains(out, "core_pattern=0\n") {
		t.Errorf("the masked core_pattern shows something (want core_pattern=0):\n%s", out)
	}
	for _, p := range h.spec.Linux.MaskedPaths {
		if !strings.Contains(out, " "+p+" ") {
			continue // not in this kernel's procfs or sysfs
		}
		m := mountAt(t, out, p)
		f := strings.Fields(func() string {
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) > 4 && f[4] == p {
					return l
				}
			}
			return ""
		}())
		isNull := f[3] == "/null" || strings.HasSuffix(f[3], "/null")
		ro := slices.Contains(m.opts, "ro")
		if !(isNull || (m.fstype == "tmpfs" && ro)) {
			t.Errorf("mask %s is %s %v (root %s): want the null device or a read-only tmpfs", p, m.fstype, m.opts, f[3])
		}
		if strings.HasPrefix(p, "/proc/sys/") && !ro {
			t.Errorf("mask %s below the read-only /proc/sys is not read-only: %v", p, m.opts)
		}
	}
	for _, p := range h.spec.Linux.ReadonlyPaths {
		if strings.Contains(out, " "+p+" ") && !slices.Contains(mountAt(t, out, p).opts, "ro") {
			t.Errorf("read-only path %s is not read-only", p)
		}
	}
}
