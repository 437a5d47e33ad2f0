package spec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/runtime/caps"
	"github.com/berth-dev/berth/test/fixture"
)

// e2e is one container of a test: a busybox rootfs, a state root and the runtime.
type e2e struct {
	rt, dir, rootfs, id string
	v2                  bool
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	rt, err := fixture.RuntimeBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "bundle", "rootfs")
	if err := fixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	_, err = os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return &e2e{rt: rt, dir: dir, rootfs: rootfs, id: "spec-e2e-" + hex.EncodeToString(b), v2: err == nil}
}

// run generates the spec, runs it to its end with berth-runtime and returns its output, and
// the output as a map from each line's first word (the first two for "mnt" and "cg" lines).
func (e *e2e) run(t *testing.T, img *v1.ConfigFile, o *spec.Options) (string, map[string]string) {
	t.Helper()
	res, err := spec.Generate(img, o)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(e.dir, "bundle")
	if err := fixture.WriteSpec(bundle, res.Spec); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(e.dir, "state")
	t.Cleanup(func() { exec.Command(e.rt, "--root", state, "delete", "--force", e.id).Run() })
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(e.rt, "--root", state, "run", "--bundle", bundle, e.id)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("berth-runtime run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("container output:\n%s", out)
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		l = strings.ReplaceAll(l, "\t", " ")
		k, v, _ := strings.Cut(l, " ")
		if k == "mnt" || k == "cg" {
			k2, v2, _ := strings.Cut(v, " ")
			k, v = k+" "+k2, v2
		}
		lines[k] = v
	}
	return out, lines
}

// TestRunBusybox builds a spec for the fixture's busybox rootfs with a handful of options and
// runs it with berth-runtime, checking from inside the container that each took effect.
func TestRunBusybox(t *testing.T) {
	e := newE2E(t)
	id, rootfs, v2 := e.id, e.rootfs, e.v2
	const script = `
id
grep -E '^Cap(Eff|Bnd):' /proc/self/status
awk '$5 == "/" || $5 == "/scratch" || $5 == "/dev/shm" {print "mnt", $5, $6, $0}' /proc/self/mountinfo
echo "nofile $(ulimit -Sn) $(ulimit -Hn)"
echo "env FOO=$FOO HOME=$HOME"
echo "cwd $(pwd)"
if touch /rootfs-write 2>/dev/null; then echo "root writable"; else echo "root read-only"; fi
if touch /scratch/x; then echo "scratch writable"; fi
for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max; do
	[ -f "$f" ] && echo "cg $f $(cat $f)"
done
cat /proc/self/cgroup | sed 's/^/self-cgroup /'
`
	img := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, Env: []string{"FOO=image", "PATH=/bin:/usr/bin"}}}
	o := &spec.Options{
		ContainerID: id,
		RootfsPath:  rootfs,
		Cmd:         []string{"sh", "-c", script},
		User:        fixture.TestUser,
		CapDrop:     []string{"net_raw", "CAP_CHOWN"},
		ReadOnly:    true,
		Tmpfs:       map[string]string{"/scratch": "size=1m,mode=1777"},
		Memory:      64 << 20,
		PidsLimit:   50,
		Ulimits:     []spec.Ulimit{{Name: "nofile", Soft: 512, Hard: 1024}},
		Env:         []string{"FOO=bar"},
		WorkingDir:  "/home/berth/work", // missing: the runtime makes it, read-only root or not
		CgroupV2:    v2,
	}
	out, lines := e.run(t, img, o)

	// busybox's id lists getgroups(2): the supplementary groups from /etc/group, without the
	// primary group (Docker passes the same additionalGids).
	want := fmt.Sprintf("uid=%d(berth) gid=%d(berth) groups=%d(extra)", fixture.TestUID, fixture.TestGID, fixture.ExtraGID)
	if !strings.Contains(out, want+"\n") {
		t.Errorf("id: want %q", want)
	}

	// Capabilities: the bounding set is Docker's defaults minus the drops; a non-root user's
	// effective set is empty after execve, as in Docker.
	var mask uint64
	for _, c := range spec.DefaultCapabilities {
		if c == "CAP_NET_RAW" || c == "CAP_CHOWN" {
			continue
		}
		n, ok := caps.Number(c)
		if !ok {
			t.Fatalf("cap %s", c)
		}
		mask |= 1 << n
	}
	if got := strings.TrimSpace(lines["CapBnd:"]); got != fmt.Sprintf("%016x", mask) {
		t.Errorf("CapBnd %s, want %016x", got, mask)
	}
	if got := strings.TrimSpace(lines["CapEff:"]); got != "0000000000000000" {
		t.Errorf("CapEff %s, want 0 for a non-root user", got)
	}

	if m := lines["mnt /"]; !strings.HasPrefix(strings.Fields(m + " x")[0], "ro") {
		t.Errorf("root mount %q: not read-only", m)
	}
	if m := lines["mnt /scratch"]; !strings.Contains(m, "nosuid") || !strings.Contains(m, "nodev") || !strings.Contains(m, "noexec") ||
		!strings.Contains(m, "tmpfs") || !strings.Contains(m, "size=1024k") {
		t.Errorf("/scratch mount %q", m)
	}
	if m := lines["mnt /dev/shm"]; !strings.Contains(m, "size=65536k") {
		t.Errorf("/dev/shm mount %q", m)
	}
	for k, v := range map[string]string{
		"nofile":  "512 1024",
		"env":     "FOO=bar HOME=/home/berth",
		"cwd":     "/home/berth/work",
		"root":    "read-only",
		"scratch": "writable",
	} {
		if lines[k] != v {
			t.Errorf("%s: %q, want %q", k, lines[k], v)
		}
	}

	// The cgroup limits as the container reads them: on v2 its own namespace's root.
	memory := strconv.Itoa(64 << 20)
	if v2 {
		if lines["cg /sys/fs/cgroup/memory.max"] != memory || lines["cg /sys/fs/cgroup/pids.max"] != "50" {
			t.Errorf("cgroup files: memory.max %q pids.max %q", lines["cg /sys/fs/cgroup/memory.max"], lines["cg /sys/fs/cgroup/pids.max"])
		}
		return
	}
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(l, "self-cgroup ")
		if !ok {
			continue
		}
		f := strings.SplitN(rest, ":", 3)
		if len(f) == 3 {
			got[f[1]] = f[2]
		}
	}
	// On a v1 host the container shares the host's cgroup namespace (Docker's v1 default); the
	// runtime mounts each hierarchy with the container's own cgroup at its root, so the files
	// it read are its own limits (the path from /proc/self/cgroup is in the error).
	for _, c := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", memory},
		{"pids", "pids.max", "50"},
	} {
		inside := lines["cg /sys/fs/cgroup/"+c.ctrl+"/"+c.file]
		if inside == c.want {
			continue
		}
		t.Errorf("%s (cgroup %s): %q inside, want %s", c.file, got[c.ctrl], inside, c.want)
	}
}

// TestRunBusyboxRoot runs a root container with a second set of options: capabilities from
// nothing, a device, no-new-privileges, Docker's seccomp profile, hostname, a sysctl, a
// read-only bind and a tmpfs by --mount, --cpus and the image's entrypoint replaced.
func TestRunBusyboxRoot(t *testing.T) {
	e := newE2E(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
echo "hostname $(hostname)"
echo "forward $(cat /proc/sys/net/ipv4/ip_forward)"
echo "portstart $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
ls -l /dev/mynull | awk '{print "dev", $1, $5, $6}'
if echo x > /dev/mynull; then echo "devwrite ok"; fi
echo "bind $(cat /hostdir/f)"
if touch /hostdir/new 2>/dev/null; then echo "bindwrite yes"; else echo "bindwrite no"; fi
awk '$5 == "/hostdir" || $5 == "/cache" || $5 == "/sys" {print "mnt", $5, $6, $0}' /proc/self/mountinfo
for f in /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us; do
	[ -f "$f" ] && echo "cg $f $(cat $f)"
done
if chown 1000 /hostdir 2>/dev/null; then echo "chown allowed"; else echo "chown denied"; fi
if unshare -m true 2>/dev/null; then echo "unshare allowed"; else echo "unshare denied"; fi
if awk '$5 == "/proc/kcore" || $5 == "/proc/keys"' /proc/self/mountinfo | grep -q .; then echo "masked yes"; else echo "masked no"; fi
`
	img := &v1.ConfigFile{Config: v1.Config{Entrypoint: []string{"/bin/false"}, Cmd: []string{"ignored"}}}
	o := &spec.Options{
		ContainerID:   e.id,
		RootfsPath:    e.rootfs,
		Entrypoint:    []string{"/bin/sh"},
		EntrypointSet: true,
		Cmd:           []string{"-c", script},
		CapDrop:       []string{"ALL"},
		CapAdd:        []string{"kill", "CAP_NET_BIND_SERVICE"},
		Devices:       []spec.Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: "rw"}},
		Hostname:      "specbox",
		Sysctls:       map[string]string{"net.ipv4.ip_forward": "1"},
		Mounts: []spec.Mount{
			{Type: spec.MountBind, Source: host, Destination: "/hostdir", ReadOnly: true},
			{Type: spec.MountTmpfs, Destination: "/cache", TmpfsSize: 2 << 20, TmpfsMode: 0o700},
		},
		NanoCPUs: 5e8,
		CgroupV2: e.v2,
	}
	if err := spec.ParseSecurityOpt(o, "no-new-privileges"); err != nil {
		t.Fatal(err)
	}
	_, lines := e.run(t, img, o)

	var mask uint64
	for _, c := range []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"} {
		n, _ := caps.Number(c)
		mask |= 1 << n
	}
	for k, v := range map[string]string{
		"CapEff:":     fmt.Sprintf("%016x", mask),
		"CapBnd:":     fmt.Sprintf("%016x", mask),
		"NoNewPrivs:": "1",
		"Seccomp:":    "2",
		"hostname":    "specbox",
		"forward":     "1",
		"portstart":   "0",
		"dev":         "crw-rw-rw- 1, 3",
		"devwrite":    "ok",
		"bind":        "from-host",
		"bindwrite":   "no",
		"chown":       "denied",
		"unshare":     "denied",
		"masked":      "yes",
	} {
		if got := strings.TrimSpace(lines[k]); got != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
	if m := lines["mnt /hostdir"]; !strings.HasPrefix(m, "ro,") {
		t.Errorf("/hostdir %q: not read-only", m)
	}
	if m := lines["mnt /cache"]; !strings.Contains(m, "size=2048k") || !strings.Contains(m, "mode=700") || !strings.Contains(m, "noexec") {
		t.Errorf("/cache %q", m)
	}
	if m := lines["mnt /sys"]; !strings.HasPrefix(m, "ro,") {
		t.Errorf("/sys %q: not read-only", m)
	}
	quota := lines["cg /sys/fs/cgroup/cpu/cpu.cfs_quota_us"]
	if e.v2 {
		quota = lines["cg /sys/fs/cgroup/cpu.max"]
	}
	if want := map[bool]string{true: "50000 100000", false: "50000"}[e.v2]; quota != want {
		t.Errorf("cpu quota %q, want %q", quota, want)
	}
}

// TestRunPrivileged: --privileged gives every capability the kernel has, no seccomp, a
// writable /sys, the host's devices and no masked paths.
func TestRunPrivileged(t *testing.T) {
	e := newE2E(t)
	const script = `
grep -E '^(CapEff|Seccomp):' /proc/self/status
awk '$5 == "/sys" {print "mnt", $5, $6}' /proc/self/mountinfo
if [ -c /dev/loop-control ] || [ -c /dev/kmsg ] || [ -c /dev/mem ]; then echo "hostdev yes"; else echo "hostdev no"; fi
if awk '$5 == "/proc/kcore" || $5 == "/proc/keys"' /proc/self/mountinfo | grep -q .; then echo "masked yes"; else echo "masked no"; fi
`
	o := &spec.Options{ContainerID: e.id, RootfsPath: e.rootfs, Cmd: []string{"sh", "-c", script}, Privileged: true, CgroupV2: e.v2}
	_, lines := e.run(t, &v1.ConfigFile{}, o)
	permitted, err := caps.Permitted()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"CapEff:":  fmt.Sprintf("%016x", permitted),
		"Seccomp:": "0",
		"mnt /sys": "rw,nosuid,nodev,noexec,relatime",
		"hostdev":  "yes",
		"masked":   "no",
	} {
		if got := strings.TrimSpace(lines[k]); got != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
}
