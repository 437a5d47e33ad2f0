package inittest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/fixture"
)

var initBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-init-bin")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if initBin, err = fixture.InitBinary(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	return m.Run()
}

// proc is a berth-init started in the background, its stdout readable line by line.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func start(t *testing.T, attr *syscall.SysProcAttr, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(initBin, args...), done: make(chan struct{})}
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	// A group of its own, so that clean-up can kill whatever a failed test left behind.
	attr.Setpgid = true
	p.cmd.SysProcAttr = attr
	p.cmd.Stderr = &p.stderr
	// A plain pipe rather than StdoutPipe: Wait must not close it under line().
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = w
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	p.out = bufio.NewReader(r)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			pid := p.cmd.Process.Pid
			for _, c := range childPids(pid) {
				_ = syscall.Kill(c, syscall.SIGKILL)
			}
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		r.Close()
	})
	return p
}

// line reads one line of the child's output, failing after a timeout.
func (p *proc) line() string {
	p.t.Helper()
	ch := make(chan string, 1)
	go func() {
		s, _ := p.out.ReadString('\n')
		ch <- strings.TrimSpace(s)
	}()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		p.t.Fatalf("no output line from %v; stderr: %s", p.cmd.Args, p.stderr.String())
		return ""
	}
}

// wait returns init's exit status, failing if it does not exit within the timeout.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%v did not exit within %v; stderr: %s", p.cmd.Args, timeout, p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// run runs berth-init to the end and returns its status, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(initBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String(), stderr.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	noExec := dir + "/noexec"
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string // a substring; "" means stderr must be empty
	}{
		{"zero", []string{"true"}, 0, "", ""},
		{"three", []string{"sh", "-c", "exit 3"}, 3, "", ""},
		{"args passed", []string{"--", "sh", "-c", `echo "$0 $1 $2"`, "a", "b c", "d"}, 0, "a b c d\n", ""},
		{"sigkill", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9, "", ""},
		{"sigterm", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15, "", ""},
		{"not found in PATH", []string{"berth-no-such-command"}, 127, "",
			`berth-init: exec: "berth-no-such-command": executable file not found in $PATH` + "\n"},
		{"not found by path", []string{dir + "/missing"}, 127, "",
			`berth-init: exec: "` + dir + `/missing": stat ` + dir + "/missing: no such file or directory\n"},
		{"not executable", []string{noExec}, 126, "", `berth-init: exec: "` + noExec + `": permission denied` + "\n"},
		{"directory", []string{dir}, 126, "", `berth-init: exec: "` + dir + `": permission denied` + "\n"},
		{"command that looks like a flag", []string{"--", "-x"}, 127, "", `exec: "-x": executable file not found`},
		{"unknown flag", []string{"-x", "true"}, 2, "", "berth-init: unknown option -x\n"},
		{"nothing after --", []string{"--"}, 2, "", "berth-init: no command after --\n"},
		{"pause with a command", []string{"--pause", "true"}, 2, "", "--pause takes no command"},
		{"version", []string{"--version"}, 0, "", "berth-init version "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if stdout != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout, tc.stdout)
			}
			if tc.stderr == "" && stderr != "" || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr, tc.stderr)
			}
			if strings.Count(stderr, "\n") > 1 && !strings.Contains(stderr, "usage:") {
				t.Errorf("stderr has more than one line: %q", stderr)
			}
		})
	}
}

// TestSignalForwarding sends init each catchable signal; the child traps it and exits with a
// status of its own, which init returns.
func TestSignalForwarding(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGPIPE, syscall.SIGCONT} {
		t.Run(strings.TrimPrefix(fmt.Sprint(sig), "signal "), func(t *testing.T) {
			name := signalName(t, sig)
			// The trap runs when the current sleep ends; short sleeps keep that quick.
			script := fmt.Sprintf(`trap 'echo got %s; exit 42' %s; echo ready; while :; do sleep 0.05; done`, name, name)
			p := start(t, nil, "sh", "-c", script)
			if l := p.line(); l != "ready" {
				t.Fatalf("first line %q", l)
			}
			p.signal(sig)
			if l := p.line(); l != "got "+name {
				t.Errorf("child printed %q, want %q", l, "got "+name)
			}
			if code := p.wait(10 * time.Second); code != 42 {
				t.Errorf("exit status %d, want 42; stderr %s", code, p.stderr.String())
			}
		})
	}
}

func signalName(t *testing.T, sig syscall.Signal) string {
	names := map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGINT: "INT", syscall.SIGHUP: "HUP",
		syscall.SIGQUIT: "QUIT", syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2", syscall.SIGWINCH: "WINCH",
		syscall.SIGALRM: "ALRM", syscall.SIGPIPE: "PIPE", syscall.SIGCONT: "CONT"}
	n, ok := names[sig]
	if !ok {
		t.Fatalf("no name for %v", sig)
	}
	return n
}

// TestSignalKillsChild: a child without a trap dies of the forwarded signal; init reports 128+N.
func TestSignalKillsChild(t *testing.T) {
	p := start(t, nil, "sh", "-c", "echo ready; while :; do sleep 0.05; done")
	if l := p.line(); l != "ready" {
		t.Fatalf("first line %q", l)
	}
	p.signal(syscall.SIGHUP)
	if code := p.wait(10 * time.Second); code != 128+int(syscall.SIGHUP) {
		t.Errorf("exit status %d, want %d", code, 128+int(syscall.SIGHUP))
	}
}

// TestProcessGroup: with -g the signal reaches the child's whole group (here a background
// sleep of the shell's); without it only the child itself.
func TestProcessGroup(t *testing.T) {
	for _, group := range []bool{true, false} {
		t.Run(fmt.Sprintf("group=%v", group), func(t *testing.T) {
			args := []string{"sh", "-c", "sleep 1000 & echo $!; wait"}
			if group {
				args = append([]string{"-g"}, args...)
			}
			p := start(t, nil, args...)
			pid, err := strconv.Atoi(p.line())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = syscall.Kill(pid, syscall.SIGKILL) }()
			waitFor(t, "the sleep to run under the shell", func() bool { return state(pid) == "S" })
			if group {
				pg, err := syscall.Getpgid(pid)
				if err != nil || pg == syscall.Getpgrp() {
					t.Errorf("the command's group %d (%v) is the test's own", pg, err)
				}
			}
			p.signal(syscall.SIGTERM)
			if group {
				// The sleep holds the stdout pipe: init's exit is seen only once it is gone.
				if code := p.wait(10 * time.Second); code != 143 {
					t.Errorf("exit status %d, want 143", code)
				}
				waitFor(t, "the sleep to die", func() bool { s := state(pid); return s == "" || s == "Z" })
				return
			}
			time.Sleep(300 * time.Millisecond)
			if s := state(pid); s != "S" {
				t.Errorf("without -g the background sleep got the signal too (state %q)", s)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if code := p.wait(10 * time.Second); code != 143 {
				t.Errorf("exit status %d, want 143", code)
			}
		})
	}
}

// TestReapsOrphansAsSubreaper: not pid 1, init makes itself a child subreaper, so orphaned
// grandchildren become its children; when they exit none stays a zombie.
func TestReapsOrphansAsSubreaper(t *testing.T) {
	// Each ( ... & ) subshell exits at once and leaves its sleep an orphan; the shell then
	// reports and waits for a line on stdin that never comes until the test closes it.
	script := `for i in 1 2 3 4 5; do (sleep 0.5 & echo $!); done; echo ready; read x; exit 0`
	cmd := exec.Command(initBin, "sh", "-c", script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	initPid := cmd.Process.Pid
	r := bufio.NewReader(out)
	var orphans []int
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		l = strings.TrimSpace(l)
		if l == "ready" {
			break
		}
		pid, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("line %q", l)
		}
		orphans = append(orphans, pid)
	}
	for _, pid := range orphans {
		if pp := ppid(pid); pp != initPid && pp != 0 {
			t.Errorf("orphan %d has parent %d, not init %d", pid, pp, initPid)
		}
	}
	waitFor(t, "the orphans to exit and be reaped", func() bool {
		for _, pid := range orphans {
			if state(pid) != "" {
				return false
			}
		}
		return true
	})
	if z := zombies(initPid); len(z) > 0 {
		t.Errorf("zombies under init: %v", z)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("init: %v", err)
	}
}

// TestPause runs the pause mode as pid 1 of a new pid namespace (as in a pod), has orphans
// reparented to it from processes entering the namespace, and checks it reaps them, ignores
// other signals and exits 0 on SIGTERM and on SIGINT.
func TestPause(t *testing.T) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter")
	}
	for _, tc := range []struct {
		args []string
		stop syscall.Signal
	}{
		{nil, syscall.SIGTERM},
		{[]string{"--pause"}, syscall.SIGINT},
	} {
		t.Run(fmt.Sprint(tc.stop), func(t *testing.T) {
			p := start(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}, tc.args...)
			pid := p.cmd.Process.Pid
			waitFor(t, "pause to wait for signals", func() bool { return inSigwait(pid) })
			for i := 0; i < 3; i++ {
				// sh exits at once; its sleep, in the namespace, is handed to its pid 1.
				out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-p", "--",
					"sh", "-c", "sleep 0.3 >/dev/null 2>&1 &").CombinedOutput()
				if err != nil {
					t.Fatalf("nsenter: %v: %s", err, out)
				}
			}
			waitFor(t, "the orphans to be reparented to pause", func() bool { return len(children(pid)) > 0 })
			waitFor(t, "the orphans to be reaped", func() bool { return len(children(pid)) == 0 })
			for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGCHLD, syscall.SIGQUIT} {
				p.signal(sig)
			}
			time.Sleep(200 * time.Millisecond)
			select {
			case <-p.done:
				t.Fatalf("pause exited on a signal other than TERM/INT: %v; stderr %s", p.err, p.stderr.String())
			default:
			}
			p.signal(tc.stop)
			if code := p.wait(10 * time.Second); code != 0 {
				t.Errorf("exit status %d, want 0; stderr %s", code, p.stderr.String())
			}
		})
	}
}

// TestReapsAsPid1: init as pid 1 of a pid namespace reaps orphans too (no subreaper needed).
func TestReapsAsPid1(t *testing.T) {
	p := start(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID},
		"sh", "-c", `echo $$; for i in 1 2 3; do (sleep 0.2 &); done; echo ready; sleep 2; exit 9`)
	if l := p.line(); l != "2" {
		t.Errorf("the command's pid in the namespace is %s, want 2 (init is 1)", l)
	}
	if l := p.line(); l != "ready" {
		t.Fatalf("line %q", l)
	}
	pid := p.cmd.Process.Pid
	waitFor(t, "only the shell to remain under init", func() bool {
		c := children(pid)
		return len(c) == 1 && c[0] != "Z"
	})
	if code := p.wait(10 * time.Second); code != 9 {
		t.Errorf("exit status %d, want 9", code)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stat returns the state letter and parent of pid from /proc/PID/stat ("" if it is gone).
func stat(pid int) (string, int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	// The command name is in parentheses and may hold spaces: fields follow the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return "", 0
	}
	pp, _ := strconv.Atoi(f[1])
	return f[0], pp
}

func state(pid int) string { s, _ := stat(pid); return s }
func ppid(pid int) int     { _, p := stat(pid); return p }

// children lists the states of parent's children, found through /proc (this kernel has no
// /proc/PID/task/TID/children).
func children(parent int) []string {
	var out []string
	for _, pid := range childPids(parent) {
		out = append(out, state(pid))
	}
	return out
}

func childPids(parent int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, pp := stat(pid); pp == parent {
			out = append(out, pid)
		}
	}
	return out
}

func zombies(parent int) []string {
	var z []string
	for _, s := range children(parent) {
		if s == "Z" {
			z = append(z, s)
		}
	}
	return z
}

// inSigwait says whether pid sleeps in sigwaitinfo(), i.e. has set itself up. (SigBlk in
// /proc/PID/status will not do: the kernel unblocks the awaited signals during the wait.)
func inSigwait(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
	return err == nil && strings.Contains(string(b), "sigtimedwait")
}
