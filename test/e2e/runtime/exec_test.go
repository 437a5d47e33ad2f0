package runtime_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runBackground writes the spec and runs the container detached (its stdio in files); it returns
// init's pid.
func (e *env) runBackground() int {
	e.t.Helper()
	e.write()
	e.mustRTFile("run", "--detach", "--bundle", e.bundle, e.id)
	st := e.state()
	if st.Status != specs.StateRunning || st.Pid <= 0 {
		e.t.Fatalf("after run --detach: status %q pid %d", st.Status, st.Pid)
	}
	return st.Pid
}

// rtExtra runs berth-runtime with files passed from fd 3 on (for --preserve-fds) and stdio in
// pipes; exec without --detach waits for its process, so the pipes close when it ends.
func (e *env) rtExtra(extra []*os.File, args ...string) result {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = &stdout, &stderr, extra
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
		e.t.Fatalf("berth-runtime %v timed out", args)
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// execNSScript prints NAME=LINK for each namespace of the exec'd process, then its cgroups and
// init's (both seen through the container's cgroup namespace) and its pid.
func execNSScript(names []string) string {
	return nsScript(names) + `echo "shellpid=$$"; echo "--- self"; cat /proc/self/cgroup; echo "--- init"; cat /proc/1/cgroup`
}

// TestExecJoinsNamespaces execs into a running container and compares the /proc/self/ns links of
// the exec'd process with init's (read from the host), and its cgroups with init's.
func TestExecJoinsNamespaces(t *testing.T) {
	for _, userns := range []bool{false, true} {
		name := "no-userns"
		names := []string{"pid", "net", "mnt", "ipc", "uts", "cgroup"}
		if userns {
			name = "userns"
			names = append(names, "user")
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "sleep", "300")
			e.spec.Linux.Namespaces = append(e.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
			// With a user namespace too: the offsets are written by a process that is root
			// only in the new user namespace.
			if hasTimeNS() {
				names = append(names, "time")
				e.spec.Linux.Namespaces = append(e.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
				e.spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1000000}}
			}
			if userns {
				e.useUserns()
			}
			pid := e.runBackground()
			out := e.mustRT("exec", e.id, "sh", "-c", execNSScript(names))
			kv := parseKV(out)
			for _, n := range names {
				want := nsLink(t, strconv.Itoa(pid), n)
				if kv[n] != want {
					t.Errorf("exec'd process's %s namespace is %q, init's is %q", n, kv[n], want)
				}
				if own := nsLink(t, "self", n); kv[n] == own {
					t.Errorf("exec'd process is in the test's own %s namespace %q", n, own)
				}
			}
			if p, _ := strconv.Atoi(kv["shellpid"]); p <= 1 {
				t.Errorf("exec'd shell's pid in the container is %q, want > 1", kv["shellpid"])
			}
			self, init, ok := strings.Cut(out[strings.Index(out, "--- self\n")+len("--- self\n"):], "--- init\n")
			if !ok || strings.TrimSpace(self) == "" || self != init {
				t.Errorf("exec'd process's cgroups differ from init's:\n%s", out)
			}
			e.delete("--force")
		})
	}
}

// TestExecProcess covers exec's process options: exit status, --user, --cwd, --env, --cap,
// --no-new-privs and --process.
func TestExecProcess(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	// Without no_new_privs in the container's process, exec's --no-new-privs makes a difference.
	e.spec.Process.NoNewPrivileges = false
	e.runBackground()

	procJSON := func(p specs.Process) string {
		path := filepath.Join(t.TempDir(), "process.json")
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const sysAdmin = 21 // CAP_SYS_ADMIN: not in the fixture's default set
	tests := []struct {
		name     string
		opts     []string // exec options, before the container id
		cmd      []string // the command, after it
		wantCode int
		want     []string
		capHas   int // CAP_SYS_ADMIN must be effective (1) or not (-1); 0: not checked
	}{
		{"exit status", nil, []string{"sh", "-c", "exit 42"}, 42, nil, 0},
		{"signal status", nil, []string{"sh", "-c", "kill -KILL $$"}, 137, nil, 0},
		{"user", []string{"--user", "1000:1001"}, []string{"sh", "-c", "echo uid=$(id -u) gid=$(id -g)"}, 0, []string{"uid=1000 gid=1001"}, 0},
		{"cwd", []string{"--cwd", "/etc"}, []string{"pwd"}, 0, []string{"/etc\n"}, 0},
		{"env", []string{"--env", "FOO=bar baz", "-e", "PATH=/bin"}, []string{"sh", "-c", `echo "foo=$FOO path=$PATH"`}, 0, []string{"foo=bar baz path=/bin"}, 0},
		{"default caps", nil, []string{"grep", "CapEff", "/proc/self/status"}, 0, nil, -1},
		{"cap", []string{"--cap", "CAP_SYS_ADMIN"}, []string{"grep", "CapEff", "/proc/self/status"}, 0, nil, 1},
		{"no new privs off", nil, []string{"grep", "NoNewPrivs", "/proc/self/status"}, 0, []string{"NoNewPrivs:\t0"}, 0},
		{"no new privs", []string{"--no-new-privs"}, []string{"grep", "NoNewPrivs", "/proc/self/status"}, 0, []string{"NoNewPrivs:\t1"}, 0},
		{"process.json", []string{"--process", procJSON(specs.Process{
			Args: []string{"sh", "-c", `echo "uid=$(id -u) cwd=$(pwd) x=$X"; exit 7`},
			Env:  []string{"PATH=/bin:/usr/bin", "X=from-json"}, Cwd: "/tmp",
			User: specs.User{UID: 1234, GID: 1234},
		})}, nil, 7, []string{"uid=1234 cwd=/tmp x=from-json"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append(append([]string{"exec"}, tt.opts...), e.id), tt.cmd...)
			r := e.rt(args...)
			if r.code != tt.wantCode {
				t.Fatalf("%v: want exit %d, got %s", args, tt.wantCode, r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("%v: output %q lacks %q", args, r.stdout, w)
				}
			}
			if tt.capHas != 0 {
				has := capEff(t, r.stdout)&(1<<sysAdmin) != 0
				if has != (tt.capHas > 0) {
					t.Errorf("%v: CAP_SYS_ADMIN effective = %v in %q", args, has, r.stdout)
				}
			}
		})
	}
	e.delete("--force")
}

// capEff parses the CapEff line of /proc/PID/status output.
func capEff(t *testing.T, out string) uint64 {
	t.Helper()
	_, v, ok := strings.Cut(out, "CapEff:")
	n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
	if !ok || err != nil {
		t.Fatalf("no CapEff in %q", out)
	}
	return n
}

// TestExecDetach runs exec --detach --pid-file: berth-runtime returns at once, the pid file names
// the process, which is in init's namespaces and cgroups and ends with the container.
func TestExecDetach(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	initPid := e.runBackground()
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	began := time.Now()
	e.mustRTFile("exec", "--detach", "--pid-file", pidFile, e.id, "sleep", "300")
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("exec --detach took %v: it waited for the process?", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file holds %q", b)
	}
	if !pidAlive(pid) {
		t.Fatalf("exec'd process %d is not running", pid)
	}
	for _, n := range []string{"pid", "net", "mnt", "ipc", "uts", "cgroup"} {
		if got, want := nsLink(t, strconv.Itoa(pid), n), nsLink(t, strconv.Itoa(initPid), n); got != want {
			t.Errorf("%s namespace: exec'd %q, init %q", n, got, want)
		}
	}
	if got, want := readFile(t, "/proc/"+strconv.Itoa(pid)+"/cgroup"), readFile(t, "/proc/"+strconv.Itoa(initPid)+"/cgroup"); got != want {
		t.Errorf("cgroups: exec'd\n%s\ninit\n%s", got, want)
	}
	// ps lists both.
	if out := e.mustRT("ps", "--format", "json", e.id); !strings.Contains(out, strconv.Itoa(pid)) {
		t.Errorf("ps %s = %s, lacks exec'd pid %d", e.id, out, pid)
	}
	// Killing init ends the pid namespace, and the exec'd process with it.
	e.mustRT("kill", e.id, "KILL")
	deadline := time.Now().Add(10 * time.Second)
	for pidAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("exec'd process %d outlived the container", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.waitStopped()
	e.delete()
}

// TestExecTTY execs a process with a terminal: the test listens on its own console socket,
// receives the pty master, talks to the process through it, and gets its exit status.
func TestExecTTY(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	e.runBackground()
	for _, detach := range []bool{false, true} {
		name := "foreground"
		if detach {
			name = "detach"
		}
		t.Run(name, func(t *testing.T) {
			cl := listenConsole(t)
			args := []string{"--root", e.root, "exec", "--tty", "--console-socket", cl.path}
			if detach {
				args = append(args, "--detach")
			}
			args = append(args, e.id, "sh", "-c", `echo "tty=$(tty)"; test -t 0 && test -t 1 && echo stdio-is-tty; read line; echo "got $line"; exit 3`)
			cmd := exec.Command(binary, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-done
			})
			master, _ := cl.master()
			var out bytes.Buffer
			readUntil(t, master, &out, "stdio-is-tty")
			if !strings.Contains(out.String(), "tty=/dev/pts/") {
				t.Errorf("pty output %q: want the process's stdio on a /dev/pts pty", out.String())
			}
			if _, err := master.Write([]byte("over the pty\n")); err != nil {
				t.Fatal(err)
			}
			readUntil(t, master, &out, "got over the pty")
			select {
			case err := <-done:
				done <- err
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				want := 3
				if detach {
					want = 0
				}
				if code != want {
					t.Errorf("exec exit %d, want %d; stderr %s", code, want, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("exec --tty did not return")
			}
		})
	}
	e.delete("--force")
}

// TestExecPreserveFds passes the write end of a pipe as fd 3 with --preserve-fds 1: the exec'd
// process writes to it, and without the flag fd 3 is not open in the process.
func TestExecPreserveFds(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	e.runBackground()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	r := e.rtExtra([]*os.File{pw}, "exec", "--preserve-fds", "1", e.id, "sh", "-c", "echo through-fd-3 >&3")
	pw.Close()
	if r.code != 0 {
		t.Fatalf("exec --preserve-fds 1: %s", r)
	}
	got, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "through-fd-3\n" {
		t.Errorf("read %q from the preserved fd", got)
	}

	pr2, pw2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr2.Close()
	r = e.rtExtra([]*os.File{pw2}, "exec", e.id, "sh", "-c", "test -e /proc/self/fd/3 && echo fd3-open || echo fd3-closed")
	pw2.Close()
	if r.code != 0 || !strings.Contains(r.stdout, "fd3-closed") {
		t.Errorf("without --preserve-fds fd 3 must not reach the process: %s", r)
	}
	e.delete("--force")
}

// TestExecSeccomp shows that the container's seccomp filter binds exec'd processes too.
func TestExecSeccomp(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	e.spec.Root.Readonly = false
	e.spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
	}
	e.runBackground()
	r := e.rt("exec", e.id, "sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?; grep Seccomp: /proc/self/status")
	if r.code != 0 || !strings.Contains(r.stdout, "Operation not permitted") || !strings.Contains(r.stdout, "rc=1") ||
		!strings.Contains(r.stdout, "Seccomp:\t2") {
		t.Fatalf("want mkdir refused by the filter in the exec'd process, got %s", r)
	}
	e.delete("--force")
}

// TestExecErrors: exec into a stopped or missing container, or with a bad process.json, fails
// with exit 1 and a clear message, and leaves the container as it was.
func TestExecErrors(t *testing.T) {
	e := newEnv(t, "true")
	e.create()
	e.start()
	e.waitStopped()

	running := newEnv(t, "sleep", "300")
	running.runBackground()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		env  *env
		args []string
		want string
	}{
		{"stopped", e, []string{"exec", e.id, "true"}, "stopped"},
		{"missing", e, []string{"exec", "no-such-container", "true"}, "does not exist"},
		{"no command", running, []string{"exec", running.id}, "no command"},
		{"bad json", running, []string{"exec", "--process", write("bad.json", "{not json"), running.id}, "parse"},
		{"empty args", running, []string{"exec", "--process", write("empty.json", `{"args":[],"cwd":"/"}`), running.id}, "args must not be empty"},
		{"missing file", running, []string{"exec", "--process", filepath.Join(dir, "nope.json"), running.id}, "read process"},
		{"tty without socket", running, []string{"exec", "--tty", "--detach", running.id, "true"}, "console-socket"},
		{"bad user", running, []string{"exec", "--user", "root", running.id, "true"}, "invalid user"},
		{"no such binary", running, []string{"exec", running.id, "/no/such/binary"}, "/no/such/binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.env.rt(tt.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit 1 mentioning %q, got %s", tt.want, r)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("panicked: %s", r.stderr)
			}
		})
	}
	if st := running.state(); st.Status != specs.StateRunning {
		t.Errorf("after the failed execs the container is %q", st.Status)
	}
	// No stray process of a failed exec stays in the container.
	out := running.mustRT("ps", "--format", "json", running.id)
	var pids []int
	if err := json.Unmarshal([]byte(out), &pids); err != nil || len(pids) != 1 {
		t.Errorf("ps after failed execs: %s (want init alone)", out)
	}
	running.delete("--force")
	e.delete()
}
