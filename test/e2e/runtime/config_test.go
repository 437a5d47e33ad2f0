package runtime_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point     string
	opts      []string // per-mount options
	optional  []string // shared:N, master:N, unbindable...
	fstype    string
	superOpts []string
}

// mountAt finds the mount at point in mountinfo text (the last one: it hides the others).
func mountAt(t *testing.T, mountinfo, point string) mountEntry {
	t.Helper()
	var found *mountEntry
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 3 || f[4] != point {
			continue
		}
		found = &mountEntry{point: f[4], opts: strings.Split(f[5], ","), optional: f[6:], fstype: g[0], superOpts: strings.Split(g[2], ",")}
	}
	if found == nil {
		t.Fatalf("no mount at %s in mountinfo:\n%s", point, mountinfo)
	}
	return *found
}

// hasPrefixIn reports whether one of list starts with prefix.
func hasPrefixIn(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// hostDir makes (or returns) the test's host directory, next to its bundle, holding file f
// ("hello").
func hostDir(t *testing.T, e *env) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(e.bundle), "host")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// inRootfs creates dirs and files (path → content; a trailing "/" makes a directory) in the
// bundle's rootfs.
func inRootfs(t *testing.T, e *env, paths map[string]string) {
	t.Helper()
	for p, content := range paths {
		full := filepath.Join(e.bundle, "rootfs", p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// capMask turns capability numbers into a /proc/PID/status mask.
func capMask(nums ...int) string {
	var m uint64
	for _, n := range nums {
		m |= 1 << n
	}
	return fmt.Sprintf("%016x", m)
}

// Capability numbers used below.
const (
	capChown          = 0
	capDacOverride    = 1
	capKill           = 5
	capSetgid         = 6
	capSetuid         = 7
	capNetBindService = 10
	capSysResource    = 24
)

// hasCap reports whether this process has capability n effective.
func hasCap(t *testing.T, n int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:\t"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m&(1<<n) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

// capsSpec is a capability set where every ambient capability is also permitted and inheritable.
func capsSpec() *specs.LinuxCapabilities {
	bnd := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"}
	return &specs.LinuxCapabilities{
		Bounding: bnd, Effective: bnd, Permitted: bnd,
		Inheritable: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
		Ambient:     []string{"CAP_NET_BIND_SERVICE"},
	}
}

// TestConfigApplied runs a container per config feature and checks, from inside, that the
// feature took effect.
func TestConfigApplied(t *testing.T) {
	bnd := capMask(capChown, capDacOverride, capKill, capNetBindService, capSetgid, capSetuid)
	inh := capMask(capKill, capNetBindService)
	amb := capMask(capNetBindService)
	hostForward, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")

	tests := []struct {
		name   string
		setup  func(t *testing.T, e *env)
		args   []string // the container's process; default sh -c script
		script string
		want   []string // substrings of the output
		check  func(t *testing.T, e *env, out string)
	}{
		{
			name: "hostname and domainname",
			setup: func(t *testing.T, e *env) {
				e.spec.Hostname, e.spec.Domainname = "boat", "harbour.example"
			},
			script: "echo h=$(hostname) d=$(cat /proc/sys/kernel/domainname)",
			want:   []string{"h=boat d=harbour.example\n"},
		},
		{
			name: "bind mount read-write",
			setup: func(t *testing.T, e *env) {
				e.spec.Mounts = append(e.spec.Mounts, specs.Mount{Destination: "/mnt/rw", Type: "bind", Source: hostDir(t, e), Options: []string{"rbind", "rw"}})
			},
			script: "cat /mnt/rw/f; echo new > /mnt/rw/g && echo wrote; cat /proc/self/mountinfo",
			want:   []string{"hello\nwrote\n"},
			check: func(t *testing.T, e *env, out string) {
				if b, err := os.ReadFile(filepath.Join(hostDir(t, e), "g")); err != nil || string(b) != "new\n" {
					t.Errorf("file written in the container: %q, %v", b, err)
				}
				if m := mountAt(t, out, "/mnt/rw"); !slices.Contains(m.opts, "rw") {
					t.Errorf("/mnt/rw options %v", m.opts)
				}
			},
		},
		{
			name: "bind mount read-only",
			setup: func(t *testing.T, e *env) {
				e.spec.Mounts = append(e.spec.Mounts, specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: hostDir(t, e), Options: []string{"bind", "ro", "nosuid", "nodev"}})
			},
			script: "cat /mnt/ro/f; touch /mnt/ro/x 2>&1; cat /proc/self/mountinfo",
			want:   []string{"hello\n", "/mnt/ro/x: Read-only file system\n"},
			check: func(t *testing.T, e *env, out string) {
				if _, err := os.Stat(filepath.Join(hostDir(t, e), "x")); err == nil {
					t.Error("a file appeared in the read-only bind source")
				}
				m := mountAt(t, out, "/mnt/ro")
				for _, o := range []string{"ro", "nosuid", "nodev"} {
					if !slices.Contains(m.opts, o) {
						t.Errorf("/mnt/ro options %v lack %s", m.opts, o)
					}
				}
			},
		},
		{
			name: "tmpfs with size and mode",
			setup: func(t *testing.T, e *env) {
				e.spec.Mounts = append(e.spec.Mounts, specs.Mount{Destination: "/mnt/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "size=1m", "mode=1770"}})
			},
			script: "echo mode=$(stat -c %a /mnt/tmp); echo x > /mnt/tmp/f && echo wrote; cat /proc/self/mountinfo",
			want:   []string{"mode=1770\n", "wrote\n"},
			check: func(t *testing.T, e *env, out string) {
				m := mountAt(t, out, "/mnt/tmp")
				if m.fstype != "tmpfs" || !slices.Contains(m.superOpts, "size=1024k") || !slices.Contains(m.superOpts, "mode=1770") ||
					!slices.Contains(m.opts, "nosuid") || !slices.Contains(m.opts, "noexec") {
					t.Errorf("/mnt/tmp: %+v", m)
				}
			},
		},
		{
			name: "mount propagation",
			setup: func(t *testing.T, e *env) {
				dir := hostDir(t, e)
				for _, p := range []string{"rprivate", "rshared", "runbindable", "rslave"} {
					e.spec.Mounts = append(e.spec.Mounts, specs.Mount{Destination: "/mnt/" + p, Type: "bind", Source: dir, Options: []string{"rbind", p}})
				}
			},
			script: "cat /mnt/rshared/f; cat /proc/self/mountinfo",
			want:   []string{"hello\n"},
			check: func(t *testing.T, e *env, out string) {
				if m := mountAt(t, out, "/mnt/rprivate"); len(m.optional) != 0 {
					t.Errorf("private mount has propagation %v", m.optional)
				}
				if m := mountAt(t, out, "/mnt/rshared"); !hasPrefixIn(m.optional, "shared:") {
					t.Errorf("shared mount has propagation %v", m.optional)
				}
				if m := mountAt(t, out, "/mnt/runbindable"); !slices.Contains(m.optional, "unbindable") {
					t.Errorf("unbindable mount has propagation %v", m.optional)
				}
				if m := mountAt(t, out, "/mnt/rslave"); hasPrefixIn(m.optional, "shared:") {
					t.Errorf("slave mount has propagation %v", m.optional)
				}
			},
		},
		{
			name: "masked paths",
			setup: func(t *testing.T, e *env) {
				inRootfs(t, e, map[string]string{"secret/key": "s3cr3t", "etc/secret.conf": "password"})
				e.spec.Linux.MaskedPaths = append(e.spec.Linux.MaskedPaths, "/secret", "/etc/secret.conf", "/does/not/exist")
			},
			// /proc/kcore is masked by the default spec, but this kernel may not have it.
			script: "[ -e /proc/kcore ] && echo kcore=$(wc -c < /proc/kcore); echo dir=$(ls -A /secret | wc -l); echo file=$(wc -c < /etc/secret.conf); touch /secret/x 2>&1; true",
			want:   []string{"dir=0\n", "file=0\n", "/secret/x: Read-only file system\n"},
			check: func(t *testing.T, e *env, out string) {
				if _, err := os.Stat("/proc/kcore"); err == nil && !strings.Contains(out, "kcore=0\n") {
					t.Errorf("/proc/kcore is not masked")
				}
			},
		},
		{
			name: "readonly paths",
			setup: func(t *testing.T, e *env) {
				e.spec.Root.Readonly = false
				inRootfs(t, e, map[string]string{"data/": ""})
				e.spec.Linux.ReadonlyPaths = append(e.spec.Linux.ReadonlyPaths, "/data", "/does/not/exist")
			},
			script: "(echo x > /proc/sys/kernel/hostname) 2>&1; touch /data/x 2>&1; touch /other && echo other-ok",
			want:   []string{"/proc/sys/kernel/hostname: Read-only file system\n", "touch: /data/x: Read-only file system\n", "other-ok\n"},
		},
		{
			name:   "root readonly",
			setup:  func(t *testing.T, e *env) { e.spec.Root.Readonly = true },
			script: "touch /newfile 2>&1; awk '$5 == \"/\" { print \"root-opts=\" $6 }' /proc/self/mountinfo",
			want:   []string{"touch: /newfile: Read-only file system\n", "root-opts=ro,"},
		},
		{
			name:   "root writable",
			setup:  func(t *testing.T, e *env) { e.spec.Root.Readonly = false },
			script: "touch /newfile && echo created",
			want:   []string{"created\n"},
			check: func(t *testing.T, e *env, out string) {
				if _, err := os.Stat(filepath.Join(e.bundle, "rootfs", "newfile")); err != nil {
					t.Errorf("file made in the container is not in the rootfs: %v", err)
				}
			},
		},
		{
			name: "devices",
			setup: func(t *testing.T, e *env) {
				mode := fs.FileMode(0o640)
				uid, gid := uint32(1000), uint32(1001)
				e.spec.Linux.Devices = append(e.spec.Linux.Devices, specs.LinuxDevice{
					Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: &uid, GID: &gid,
				})
			},
			script: "stat -c '%n %F %t:%T %a %u:%g' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse; " +
				"echo x > /dev/null && echo null-ok; echo zero=$(head -c 5 /dev/zero | wc -c)",
			want: []string{
				"/dev/null character special file 1:3 666 0:0\n",
				"/dev/zero character special file 1:5 666 0:0\n",
				"/dev/full character special file 1:7 666 0:0\n",
				"/dev/random character special file 1:8 666 0:0\n",
				"/dev/urandom character special file 1:9 666 0:0\n",
				"/dev/tty character special file 5:0 666 0:0\n",
				"/dev/fuse character special file a:e5 640 1000:1001\n",
				"null-ok\n", "zero=5\n",
			},
		},
		{
			name:   "dev symlinks",
			script: "for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done; ls /dev/pts/ptmx",
			want: []string{"fd=/proc/self/fd\n", "stdin=/proc/self/fd/0\n", "stdout=/proc/self/fd/1\n",
				"stderr=/proc/self/fd/2\n", "ptmx=pts/ptmx\n", "/dev/pts/ptmx\n"},
		},
		{
			name: "user and groups",
			setup: func(t *testing.T, e *env) {
				e.spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1001}}
			},
			script: "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status",
			want: []string{"uid=1000(berth) gid=1000(berth) groups=1001(extra)\n",
				"Uid:\t1000\t1000\t1000\t1000\n", "Gid:\t1000\t1000\t1000\t1000\n", "Groups:\t1001 \n"},
		},
		{
			// For root, execve makes permitted and effective the bounding set (plus
			// inheritable): the spec's sets show as such.
			name:   "capabilities as root",
			setup:  func(t *testing.T, e *env) { e.spec.Process.Capabilities = capsSpec() },
			script: "grep ^Cap /proc/self/status",
			want: []string{"CapInh:\t" + inh + "\n", "CapPrm:\t" + bnd + "\n", "CapEff:\t" + bnd + "\n",
				"CapBnd:\t" + bnd + "\n", "CapAmb:\t" + amb + "\n"},
		},
		{
			// For a user, execve of a file without capabilities keeps only the ambient set
			// permitted and effective.
			name: "capabilities as a user with ambient",
			setup: func(t *testing.T, e *env) {
				e.spec.Process.Capabilities = capsSpec()
				e.spec.Process.User = specs.User{UID: 1000, GID: 1000}
			},
			script: "grep ^Cap /proc/self/status",
			want: []string{"CapInh:\t" + inh + "\n", "CapPrm:\t" + amb + "\n", "CapEff:\t" + amb + "\n",
				"CapBnd:\t" + bnd + "\n", "CapAmb:\t" + amb + "\n"},
		},
		{
			name:   "no new privileges",
			setup:  func(t *testing.T, e *env) { e.spec.Process.NoNewPrivileges = true },
			script: "grep NoNewPrivs /proc/self/status",
			want:   []string{"NoNewPrivs:\t1\n"},
		},
		{
			name:   "new privileges allowed",
			setup:  func(t *testing.T, e *env) { e.spec.Process.NoNewPrivileges = false },
			script: "grep NoNewPrivs /proc/self/status",
			want:   []string{"NoNewPrivs:\t0\n"},
		},
		{
			name: "rlimit lowered",
			setup: func(t *testing.T, e *env) {
				e.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}
			},
			script: "echo soft=$(ulimit -n) hard=$(ulimit -Hn); grep 'Max open files' /proc/self/limits",
			want:   []string{"soft=100 hard=200\n"},
			check: func(t *testing.T, e *env, out string) {
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "Max open files") {
						if f := strings.Fields(l); len(f) != 6 || f[3] != "100" || f[4] != "200" {
							t.Errorf("limits line %q", l)
						}
						return
					}
				}
				t.Errorf("no Max open files line")
			},
		},
		{
			name:   "oom score adj raised",
			setup:  func(t *testing.T, e *env) { v := 500; e.spec.Process.OOMScoreAdj = &v },
			script: "cat /proc/self/oom_score_adj",
			want:   []string{"500\n"},
		},
		{
			name: "umask",
			setup: func(t *testing.T, e *env) {
				m := uint32(0o077)
				e.spec.Process.User.Umask = &m
				e.spec.Root.Readonly = false
			},
			script: "umask; touch /tmp/f; stat -c %a /tmp/f",
			want:   []string{"0077\n600\n"},
		},
		{
			name:   "cwd created",
			setup:  func(t *testing.T, e *env) { e.spec.Process.Cwd = "/work/a/b" },
			script: "pwd",
			want:   []string{"/work/a/b\n"},
			check: func(t *testing.T, e *env, out string) {
				if st, err := os.Stat(filepath.Join(e.bundle, "rootfs", "work/a/b")); err != nil || !st.IsDir() {
					t.Errorf("cwd not made in the rootfs: %v", err)
				}
			},
		},
		{
			name: "env",
			setup: func(t *testing.T, e *env) {
				e.spec.Process.Env = append(e.spec.Process.Env, "GREETING=hello world", "EMPTY=")
			},
			script: `echo "g=$GREETING"; env | grep -c '^EMPTY=$'; echo "term=$TERM"`,
			want:   []string{"g=hello world\n1\nterm=xterm\n"},
		},
		{
			name: "sysctl",
			setup: func(t *testing.T, e *env) {
				e.spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
			},
			script: "echo fwd=$(cat /proc/sys/net/ipv4/ip_forward) shmmax=$(cat /proc/sys/kernel/shmmax); (echo 0 > /proc/sys/net/ipv4/ip_forward) 2>&1; true",
			want:   []string{"fwd=1 shmmax=123456789\n", "Read-only file system\n"},
			check: func(t *testing.T, e *env, out string) {
				if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(hostForward) {
					t.Errorf("host ip_forward changed from %q to %q", hostForward, now)
				}
			},
		},
		{
			name: "args found through PATH",
			setup: func(t *testing.T, e *env) {
				e.spec.Process.Env = []string{"PATH=/nonexistent:/usr/bin:/bin"}
			},
			args: []string{"env"},
			want: []string{"PATH=/nonexistent:/usr/bin:/bin\n"},
		},
		{
			name: "args with a path",
			args: []string{"/bin/echo", "absolute"},
			want: []string{"absolute\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args == nil {
				args = []string{"sh", "-c", tt.script}
			}
			e := newEnv(t, args...)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			out := e.mustRun()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.check != nil {
				tt.check(t, e, out)
			}
		})
	}
}

// TestConfigErrors: config the machine cannot grant fails create with a clear error and
// leaves nothing behind.
func TestConfigErrors(t *testing.T) {
	var nofile syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	// Root here lacks CAP_SYS_RESOURCE (DESIGN.md); where it has it (the v2 guest), these
	// requests are granted and there is no error path to test.
	privileged := hasCap(t, capSysResource)
	tests := []struct {
		name  string
		skip  string
		setup func(e *env)
		want  []string
	}{
		{
			name: "rlimit above the hard limit",
			skip: map[bool]string{true: "CAP_SYS_RESOURCE lets root raise hard limits"}[privileged || nofile.Max == ^uint64(0)],
			setup: func(e *env) {
				e.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: nofile.Max + 1}}
			},
			want: []string{"RLIMIT_NOFILE", strconv.FormatUint(nofile.Max+1, 10), "CAP_SYS_RESOURCE", "Operation not permitted"},
		},
		{
			name: "oom_score_adj lowered",
			skip: map[bool]string{true: "CAP_SYS_RESOURCE lets root lower oom_score_adj"}[privileged],
			setup: func(e *env) {
				v := ownOOMScoreAdj(t) - 100
				e.spec.Process.OOMScoreAdj = &v
			},
			want: []string{"oom_score_adj", "CAP_SYS_RESOURCE", "permission denied"},
		},
		{
			// As runc: a capability the runtime itself lacks fails create, not start.
			name: "capability the runtime lacks",
			skip: map[bool]string{true: "root here has CAP_SYS_RESOURCE"}[privileged],
			setup: func(e *env) {
				all := []string{"CAP_SYS_RESOURCE", "CAP_CHOWN"}
				e.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
			},
			want: []string{"capabilities", "Operation not permitted"},
		},
		{
			name:  "executable not in PATH",
			setup: func(e *env) { e.spec.Process.Args = []string{"no-such-command"} },
			want:  []string{`exec: "no-such-command": executable file not found in $PATH`},
		},
		{
			name:  "executable path missing",
			setup: func(e *env) { e.spec.Process.Args = []string{"/bin/no-such-command"} },
			want:  []string{"/bin/no-such-command", "no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			e := newEnv(t, "true")
			tt.setup(e)
			e.write()
			r, _ := e.rtFile("create", "--bundle", e.bundle, e.id)
			failsCleanly(t, r, tt.want...)
			e.nothingCreated(e.id)
		})
	}
}

func ownOOMScoreAdj(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
