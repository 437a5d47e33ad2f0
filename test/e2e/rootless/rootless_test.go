// Package rootless_test runs berth-runtime as an unprivileged user, end to end: a test user with
// subordinate id ranges, a busybox bundle it owns, a state root under its XDG_RUNTIME_DIR, and no
// cgroups. The test itself runs as root, to create (and remove) the user.
package rootless_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/test/fixture"
)

var (
	binary string // berth-runtime, in a directory the test user can reach
	tu     *testUser
)

// testUser is the unprivileged user the tests run the runtime as.
type testUser struct {
	name     string
	uid, gid int
	subUID   int // first subordinate uid (and gid) of the user's 65536
}

const subCount = 65536

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping rootless tests: they create a test user and must run as root")
		return 0
	}
	if why := userNSDisabled(); why != "" {
		fmt.Printf("skipping rootless tests: unprivileged user namespaces are disabled (%s)\n", why)
		return 0
	}
	for _, tool := range []string{"useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Printf("skipping rootless tests: %s not found\n", tool)
			return 0
		}
	}
	dir, err := os.MkdirTemp("", "berth-rootless-bin")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Println(err)
		return 1
	}
	// The test user must reach the binary: copy it into this world-readable directory.
	src, err := fixture.RuntimeBinary(dir)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	binary = filepath.Join(dir, "berth-runtime")
	if src != binary {
		b, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(binary, b, 0o755)
		}
		if err != nil {
			fmt.Printf("copy %s: %v\n", src, err)
			return 1
		}
	}
	u, cleanup, err := createUser()
	if err != nil {
		fmt.Printf("create test user: %v\n", err)
		return 1
	}
	tu = u
	code := m.Run()
	if err := cleanup(); err != nil {
		fmt.Printf("remove test user: %v\n", err)
		code = 1
	}
	return code
}

// userNSDisabled says why an unprivileged user could not create a user namespace, or "".
func userNSDisabled() string {
	for _, f := range []string{"/proc/sys/kernel/unprivileged_userns_clone", "/proc/sys/user/max_user_namespaces"} {
		b, err := os.ReadFile(f)
		if err == nil && strings.TrimSpace(string(b)) == "0" {
			return f + " is 0"
		}
	}
	return ""
}

// createUser adds a user with a unique name and a subordinate id range. It returns a function
// that removes the user and restores /etc/subuid and /etc/subgid byte for byte.
func createUser() (*testUser, func() error, error) {
	saved := map[string][]byte{}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		if err == nil {
			saved[f] = b
		}
	}
	restore := func() error {
		var errs []error
		for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
			b, ok := saved[f]
			if !ok {
				if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
				continue
			}
			if err := os.WriteFile(f, b, 0o644); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "berthrl" + hex.EncodeToString(b)
	if out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("useradd: %w: %s", err, out), restore())
	}
	remove := func() error {
		var errs []error
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("userdel %s: %w: %s", name, err, out))
		}
		return errors.Join(append(errs, restore())...)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, nil, errors.Join(err, remove())
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// useradd may have given the user subordinate ranges already (SUB_UID_COUNT in
	// login.defs); otherwise add the same range to both files, past every existing one.
	start, err := ensureSubIDs(name)
	if err != nil {
		return nil, nil, errors.Join(err, remove())
	}
	return &testUser{name: name, uid: uid, gid: gid, subUID: start}, remove, nil
}

func ensureSubIDs(name string) (int, error) {
	type rng struct{ start, count int }
	parse := func(f string) (own *rng, end int, err error) {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, 0, err
		}
		end = 100000
		for _, line := range strings.Split(string(b), "\n") {
			p := strings.Split(strings.TrimSpace(line), ":")
			if len(p) != 3 {
				continue
			}
			s, err1 := strconv.Atoi(p[1])
			c, err2 := strconv.Atoi(p[2])
			if err1 != nil || err2 != nil {
				continue
			}
			end = max(end, s+c)
			if p[0] == name && c >= subCount && own == nil {
				own = &rng{s, c}
			}
		}
		return own, end, nil
	}
	ownU, endU, err := parse("/etc/subuid")
	if err != nil {
		return 0, err
	}
	ownG, endG, err := parse("/etc/subgid")
	if err != nil {
		return 0, err
	}
	if ownU != nil && ownG != nil && ownU.start == ownG.start {
		return ownU.start, nil
	}
	start := max(endU, endG)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		fh, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return 0, err
		}
		_, err = fmt.Fprintf(fh, "%s:%d:%d\n", name, start, subCount)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
	}
	return start, nil
}

// env is one test's bundle and XDG_RUNTIME_DIR, both owned by the test user.
type env struct {
	t      *testing.T
	base   string
	bundle string
	xdg    string
	id     string
}

// newEnv makes a busybox bundle whose config.json is what `berth-runtime spec --rootless`
// writes when the test user runs it, with process.args set to args (and no terminal: there is
// no console socket here).
func newEnv(t *testing.T, args ...string) *env {
	t.Helper()
	base := t.TempDir()
	// t.TempDir's directories are private to root: the user must reach the bundle.
	for d := base; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e := &env{t: t, base: base, bundle: filepath.Join(base, "bundle"), xdg: filepath.Join(base, "xdg"),
		id: "rl-" + hex.EncodeToString(b)}
	if err := fixture.BusyboxRootfs(filepath.Join(e.bundle, "rootfs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{e.bundle, e.xdg} {
		if err := chownTree(d, tu.uid, tu.gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.cleanup)
	if r := e.as(nil, "spec", "--rootless", "--bundle", e.bundle); r.code != 0 {
		t.Fatalf("spec --rootless as %s: %s", tu.name, r)
	}
	spec := e.spec()
	if m := spec.Linux.UIDMappings; len(m) != 1 || m[0].HostID != uint32(tu.uid) || m[0].ContainerID != 0 || m[0].Size != 1 {
		t.Fatalf("spec --rootless uid mappings = %+v, want the user's own uid %d as 0", m, tu.uid)
	}
	spec.Process.Terminal = false
	spec.Process.Args = args
	e.write(spec)
	return e
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func (e *env) spec() *specs.Spec {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.bundle, "config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		e.t.Fatal(err)
	}
	return &s
}

func (e *env) write(s *specs.Spec) {
	e.t.Helper()
	if err := fixture.WriteSpec(e.bundle, s); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(e.bundle, "config.json"), tu.uid, tu.gid); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// as runs berth-runtime as the test user, with XDG_RUNTIME_DIR set to the env's (unless
// environ overrides the environment) and the default --root.
func (e *env) as(environ []string, args ...string) result {
	e.t.Helper()
	// Files, not pipes: a detached container keeps its stdio open after the runtime exits.
	stdout, stderr := e.tempFile(), e.tempFile()
	defer stdout.Close()
	defer stderr.Close()
	cmd := exec.Command(binary, args...)
	cmd.Dir = e.bundle
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = environ
	if cmd.Env == nil {
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "USER=" + tu.name, "XDG_RUNTIME_DIR=" + e.xdg}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(tu.uid), Gid: uint32(tu.gid), Groups: []uint32{}}}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		e.t.Fatalf("berth-runtime %v timed out\nstdout: %s\nstderr: %s", args, readAll(stdout), readAll(stderr))
	}
	r := result{stdout: readAll(stdout), stderr: readAll(stderr)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) tempFile() *os.File {
	e.t.Helper()
	f, err := os.CreateTemp(e.base, "out-*")
	if err != nil {
		e.t.Fatal(err)
	}
	_ = os.Remove(f.Name())
	return f
}

func readAll(f *os.File) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	return string(b)
}

func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.as(nil, args...)
	if r.code != 0 {
		e.t.Fatalf("berth-runtime %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// stateRoot is where the runtime keeps state for the user: the XDG default.
func (e *env) stateRoot() string { return filepath.Join(e.xdg, "berth-runtime") }

// cleanup deletes whatever the test left and checks that nothing remains: no state, no process
// of the test user, no cgroup.
func (e *env) cleanup() {
	entries, _ := os.ReadDir(e.stateRoot())
	for _, d := range entries {
		e.as(nil, "delete", "--force", d.Name())
	}
	entries, _ = os.ReadDir(e.stateRoot())
	for _, d := range entries {
		e.t.Errorf("state left behind: %s", d.Name())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := userProcesses(tu.uid)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			e.t.Errorf("processes of %s left behind: %v", tu.name, pids)
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	matches, _ := filepath.Glob("/sys/fs/cgroup/*/berth-" + e.id)
	matches2, _ := filepath.Glob("/sys/fs/cgroup/berth-" + e.id)
	for _, m := range append(matches, matches2...) {
		e.t.Errorf("cgroup left behind: %s", m)
	}
}

// userProcesses lists the processes whose real uid is uid, or a uid of its subordinate range.
func userProcesses(uid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", d.Name()), &st) != nil {
			continue
		}
		if int(st.Uid) == uid || (int(st.Uid) >= tu.subUID && int(st.Uid) < tu.subUID+subCount) {
			out = append(out, pid)
		}
	}
	return out
}

func owner(t *testing.T, p string) (int, int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid), int(st.Gid)
}

// TestSpecRootlessRuns runs the config that `spec --rootless` writes, unchanged but for the
// process: root in the container is the user outside, without cgroups.
func TestSpecRootlessRuns(t *testing.T) {
	e := newEnv(t, "sh", "-c", "id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; cat /proc/self/setgroups; touch /dev/shm/x /home/made-inside")
	spec := e.spec()
	spec.Root.Readonly = false
	e.write(spec)
	out := e.must("run", e.id)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"0", "0", fmt.Sprintf("0 %d 1", tu.uid), fmt.Sprintf("0 %d 1", tu.gid), "deny"}
	if len(lines) != len(want) {
		t.Fatalf("output %q, want %d lines", out, len(want))
	}
	for i, w := range want {
		if got := strings.Join(strings.Fields(lines[i]), " "); got != w {
			t.Errorf("line %d = %q, want %q (output %q)", i, got, w, out)
		}
	}
	if u, g := owner(t, filepath.Join(e.bundle, "rootfs/home/made-inside")); u != tu.uid || g != tu.gid {
		t.Errorf("file made by root in the container is owned by %d:%d on the host, want %d:%d", u, g, tu.uid, tu.gid)
	}
	st, err := os.Stat(e.stateRoot())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o700 {
		t.Errorf("state root %s mode %v, want 0700 and sticky as runc makes it", e.stateRoot(), st.Mode())
	}
}

// TestRangeMapping maps a subordinate range through newuidmap/newgidmap and drives the whole
// life cycle as the user: create, state, start, exec (as root and as another container user),
// ps, kill, delete.
func TestRangeMapping(t *testing.T) {
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (Debian package uidmap)", tool)
		}
	}
	e := newEnv(t, "sleep", "300")
	spec := e.spec()
	spec.Root.Readonly = false
	uids := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(tu.uid), Size: 1}, {ContainerID: 1, HostID: uint32(tu.subUID), Size: subCount}}
	gids := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(tu.gid), Size: 1}, {ContainerID: 1, HostID: uint32(tu.subUID), Size: subCount}}
	spec.Linux.UIDMappings, spec.Linux.GIDMappings = uids, gids
	e.write(spec)

	e.must("create", e.id)
	var st specs.State
	if err := json.Unmarshal([]byte(e.must("state", e.id)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != specs.StateCreated || st.Pid <= 0 {
		t.Fatalf("state after create: %+v", st)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	wantMap := fmt.Sprintf("0 %d 1\n1 %d %d", tu.uid, tu.subUID, subCount)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	if strings.Join(got, "\n") != wantMap {
		t.Errorf("uid_map of the container = %q, want %q", got, wantMap)
	}
	e.must("start", e.id)
	if err := json.Unmarshal([]byte(e.must("state", e.id)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != specs.StateRunning {
		t.Fatalf("state after start: %+v", st)
	}
	if out := strings.TrimSpace(e.must("exec", e.id, "id", "-u")); out != "0" {
		t.Errorf("exec id -u = %q, want 0", out)
	}
	// setgroups is allowed with a newgidmap range: supplementary groups work.
	if out := strings.TrimSpace(e.must("exec", "--user", "1000:1000", "--additional-gids", "5", e.id, "sh", "-c", "id -u; id -G; touch /tmp/by-1000")); out != "1000\n1000 5" {
		t.Errorf("exec as 1000 printed %q, want \"1000\\n1000 5\"", out)
	}
	if u, g := owner(t, filepath.Join(e.bundle, "rootfs/tmp/by-1000")); u != tu.subUID+999 || g != tu.subUID+999 {
		t.Errorf("file made by 1000:1000 in the container is owned by %d:%d, want the subordinate %d:%d", u, g, tu.subUID+999, tu.subUID+999)
	}
	if out := e.must("ps", e.id); !strings.Contains(out, strconv.Itoa(st.Pid)) {
		t.Errorf("ps does not list init %d:\n%s", st.Pid, out)
	}
	e.must("kill", e.id, "KILL")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := json.Unmarshal([]byte(e.must("state", e.id)), &st); err != nil {
			t.Fatal(err)
		}
		if st.Status == specs.StateStopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container still %s after kill", st.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.must("delete", e.id)
	if r := e.as(nil, "state", e.id); r.code == 0 {
		t.Errorf("state after delete succeeded: %s", r)
	}
}

// TestKillAllWithoutCgroup: kill --all finds the container's processes through its pid
// namespace when there is no cgroup.
func TestKillAllWithoutCgroup(t *testing.T) {
	e := newEnv(t, "sh", "-c", "sleep 300 & sleep 300 & wait")
	e.must("run", "--detach", e.id)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := len(strings.Split(strings.TrimSpace(e.must("ps", e.id)), "\n")) - 1
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ps lists %d processes, want 3:\n%s", n, e.must("ps", e.id))
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := e.as(nil, "pause", e.id)
	if r.code == 0 || !strings.Contains(r.stderr, "no cgroup") {
		t.Errorf("pause without a cgroup: %s, want an error saying there is no cgroup", r)
	}
	pids := userProcesses(tu.uid)
	e.must("kill", "--all", e.id, "KILL")
	deadline = time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for syscall.Kill(p, 0) == nil {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); strings.Contains(string(b), ") Z ") {
				break // killed, waiting for its parent to reap it
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %d survived kill --all", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	e.must("delete", "--force", e.id)
}

// TestErrors: what a rootless user cannot have fails clearly, and leaves nothing behind.
func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*specs.Spec)
		environ func(e *env) []string
		want    string
	}{
		{
			name: "limits without a cgroup",
			edit: func(s *specs.Spec) {
				lim := int64(64 << 20)
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim}}
			},
			want: "cannot set resource limits",
		},
		{
			name: "another uid without newuidmap's ranges",
			edit: func(s *specs.Spec) {
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}
			},
			want: "newuidmap",
		},
		{
			name: "additional gids with setgroups denied",
			edit: func(s *specs.Spec) { s.Process.User.AdditionalGids = []uint32{5} },
			want: "setgroups",
		},
		{
			name:    "no XDG_RUNTIME_DIR",
			environ: func(e *env) []string { return []string{"PATH=/usr/bin:/bin", "USER=" + tu.name} },
			want:    "XDG_RUNTIME_DIR",
		},
		{
			name: "AppArmor profile",
			edit: func(s *specs.Spec) { s.Process.ApparmorProfile = "berth-test" },
			want: "AppArmor",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "true")
			if tc.edit != nil {
				s := e.spec()
				tc.edit(s)
				e.write(s)
			}
			var environ []string
			if tc.environ != nil {
				environ = tc.environ(e)
			}
			r := e.as(environ, "run", e.id)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("run: %s\nwant a failure mentioning %q", r, tc.want)
			}
			if strings.Contains(r.stderr, "panic") {
				t.Errorf("panic: %s", r.stderr)
			}
		})
	}
}
