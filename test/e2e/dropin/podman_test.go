package dropin_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// podman is Podman with all its state in the test's directories and berth-runtime as its OCI
// runtime (conmon runs it as it would run runc).
type podman struct {
	*client
	cgroupParent string
}

// runOpts are the `run` options every container here needs: no network (Podman's default
// bridge would give it a route out), rlimits root may set on this machine (Podman's defaults
// exceed the hard limits and root lacks CAP_SYS_RESOURCE), and a cgroup parent of the test's.
func (p *podman) runOpts() []string {
	return []string{"--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
		"--cgroup-parent", "/" + p.cgroupParent}
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	bins := lookPaths(t, "podman", "podman", "conmon")
	dir := t.TempDir()
	// Podman refuses a runroot longer than 50 bytes.
	run := shortTempDir(t, "berth-pm-")
	// File locks in the tmp dir instead of the shared /dev/shm/libpod_lock; conmon passes
	// CONTAINERS_CONF on to the `podman container cleanup` it runs at exit.
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[engine]\nlock_type = %q\nnum_locks = 64\n", "file")), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &podman{
		client: &client{t: t, bin: bins[0], env: []string{"CONTAINERS_CONF=" + conf}, args: []string{
			"--runtime", binary,
			"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(run, "runroot"),
			"--tmpdir", filepath.Join(run, "tmp"), "--volumepath", filepath.Join(dir, "volumes"),
			"--network-config-dir", filepath.Join(dir, "net"),
			// vfs: no overlay mounts that could outlive the test.
			"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		}},
		cgroupParent: cgroupParent(t, "berth-dropin-podman"),
	}
	// Registered after cgroupParent, so it runs first: containers go before their cgroups.
	t.Cleanup(func() {
		p.run("rm", "-a", "-f", "-t", "0")
		p.run("rmi", "-a", "-f")
		// conmon outlives podman for a moment (it runs `podman container cleanup`).
		waitProcsGone(t, run)
		unmountUnder(t, dir)
		unmountUnder(t, run)
	})
	p.ok("load", "-q", "-i", dockerTar)
	return p
}

func TestPodmanRun(t *testing.T) {
	p := newPodman(t)
	tests := []struct {
		name     string
		cmd      []string
		code     int
		stdout   string
		inStderr string
	}{
		{name: "output and status", cmd: []string{"sh", "-c", "echo hello; echo to-stderr >&2; exit 3"}, code: 3, stdout: "hello\n"},
		{name: "rlimits honoured", cmd: []string{"sh", "-c", "ulimit -n"}, stdout: "20000\n"},
		{name: "pid 1", cmd: []string{"sh", "-c", "echo $$"}, stdout: "1\n"},
		// Podman maps the runtime's "no such file or directory" to 127 and "permission
		// denied" to 126, as with runc.
		{name: "missing command", cmd: []string{"/no-such-command"}, code: 127, inStderr: "no such file or directory"},
		{name: "not executable", cmd: []string{"/etc/passwd"}, code: 126, inStderr: "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.t = t
			defer func() { p.t = nil }()
			args := append(append([]string{"run", "--rm"}, p.runOpts()...), imageRef)
			r := p.run(append(args, tt.cmd...)...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\n%s", r.code, tt.code, r)
			}
			if tt.stdout != "" && r.stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			if !strings.Contains(r.stderr, tt.inStderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.inStderr)
			}
		})
	}
	p.t = t
	// --rm leaves no container behind.
	if out := p.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after run --rm: %q", out)
	}
}

// TestPodmanRunTerminal runs `podman run -it` on a terminal the test opens: conmon gets the
// container's pty master through the runtime's --console-socket.
func TestPodmanRunTerminal(t *testing.T) {
	p := newPodman(t)
	master, slave, err := openPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	args := append(append(append([]string(nil), p.args...), "run", "--rm", "-it"), p.runOpts()...)
	cmd := exec.Command(p.bin, append(args, imageRef, "sh")...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once every slave fd is closed
			}
		}
	}()
	waitFor := func(s string) {
		t.Helper()
		err := eventually(20*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(out.String(), s) {
				return fmt.Errorf("no %q in terminal output %q", s, out.String())
			}
			return nil
		})
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatal(err)
		}
	}
	// The shell's prompt shows it reads the terminal; tty(1) names the container's pty.
	waitFor("# ")
	if _, err := io.WriteString(master, "tty; echo cols=$(stty size); exit 5\n"); err != nil {
		t.Fatal(err)
	}
	waitFor("cols=")
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("podman run -it did not exit; output %q", out.String())
	}
	master.Close()
	<-readDone
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Errorf("podman run -it: %v, want exit status 5; output %q", err, out.String())
	}
	if !strings.Contains(out.String(), "/dev/pts/") {
		t.Errorf("tty in the container printed no /dev/pts path: %q", out.String())
	}
}

// TestPodmanLifecycle drives one detached container through logs, exec, pause/unpause, stop
// and rm -f.
func TestPodmanLifecycle(t *testing.T) {
	p := newPodman(t)
	name := "berth-life"
	args := append(append([]string{"run", "-d", "--name", name}, p.runOpts()...), imageRef,
		"sh", "-c", `echo started; trap "echo got-term; exit 7" TERM; while true; do sleep 0.1; done`)
	p.ok(args...)
	if err := eventually(10*time.Second, func() error {
		if out := p.ok("logs", name); out != "started\n" {
			return fmt.Errorf("podman logs: %q, want %q", out, "started\n")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("exec", func(t *testing.T) {
		r := p.run("exec", name, "sh", "-c", "echo in-exec; cat /proc/1/cmdline | tr '\\0' ' '; exit 4")
		if r.code != 4 || !strings.HasPrefix(r.stdout, "in-exec\nsh -c echo started") {
			t.Errorf("podman exec: %s\nwant exit 4 and the container's pid 1 visible", r)
		}
		r = p.run("exec", name, "/no-such-command")
		if r.code != 127 || !strings.Contains(r.stderr, "no such file or directory") {
			t.Errorf("podman exec of a missing command: %s\nwant exit 127", r)
		}
		// exec -t: conmon asks for a terminal through --tty --console-socket.
		r = p.run("exec", "-t", name, "tty")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "/dev/pts/") {
			t.Errorf("podman exec -t: %s", r)
		}
		r = p.run("exec", "-e", "FOO=bar", "-w", "/etc", "-u", "65534", name, "sh", "-c", `echo $FOO $(pwd) $(id -u)`)
		if r.code != 0 || r.stdout != "bar /etc 65534\n" {
			t.Errorf("podman exec -e -w -u: %s", r)
		}
	})

	t.Run("pause", func(t *testing.T) {
		p.ok("pause", name)
		if st := strings.TrimSpace(p.ok("inspect", "-f", "{{.State.Status}}", name)); st != "paused" {
			t.Errorf("status after pause %q, want paused", st)
		}
		p.ok("unpause", name)
		if st := strings.TrimSpace(p.ok("inspect", "-f", "{{.State.Status}}", name)); st != "running" {
			t.Errorf("status after unpause %q, want running", st)
		}
		// It runs again: exec works.
		if out := p.ok("exec", name, "echo", "alive"); out != "alive\n" {
			t.Errorf("exec after unpause: %q", out)
		}
	})

	t.Run("top", func(t *testing.T) {
		if out := p.ok("top", name, "pid", "args"); !strings.Contains(out, "sh -c echo started") {
			t.Errorf("podman top: %q", out)
		}
	})

	t.Run("stop", func(t *testing.T) {
		start := time.Now()
		p.ok("stop", "-t", "10", name)
		// The trap ran: SIGTERM reached the container, which exited by itself.
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("podman stop took %s: SIGTERM did not stop the container", d)
		}
		if code := strings.TrimSpace(p.ok("inspect", "-f", "{{.State.ExitCode}}", name)); code != "7" {
			t.Errorf("exit code after stop %s, want 7", code)
		}
		if out := p.ok("logs", name); out != "started\ngot-term\n" {
			t.Errorf("logs after stop: %q", out)
		}
		p.ok("start", name)
		if st := strings.TrimSpace(p.ok("inspect", "-f", "{{.State.Status}}", name)); st != "running" {
			t.Errorf("status after start %q, want running", st)
		}
	})

	t.Run("rm -f", func(t *testing.T) {
		p.ok("rm", "-f", "-t", "2", name)
		if out := p.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("containers left after rm -f: %q", out)
		}
	})
}

// TestPodmanMemory checks that --memory reaches the container's cgroup, seen from inside.
func TestPodmanMemory(t *testing.T) {
	p := newPodman(t)
	args := append(append([]string{"run", "--rm", "--memory", "64m"}, p.runOpts()...), imageRef,
		"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max")
	if out := p.ok(args...); strings.TrimSpace(out) != "67108864" {
		t.Errorf("memory limit seen inside %q, want 67108864", out)
	}
}
