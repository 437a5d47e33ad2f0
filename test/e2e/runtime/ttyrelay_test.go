package runtime_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty opens a pty pair with plain ioctls. The master is non-blocking so that reads honour
// deadlines (creack/pty's Open makes it blocking: a failing test would hang, not fail).
func openPty(rows, cols uint16) (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(fd), "pty-master")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("set pty size: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// onPty is a berth-runtime started with a pty of the test's as its controlling terminal and
// stdio, as a user at a terminal runs it.
type onPty struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	slave  *os.File      // kept open to check the terminal mode after berth-runtime exits
	before *unix.Termios // the slave's mode before berth-runtime started
	out    bytes.Buffer
	done   chan error
}

// startOnPty starts berth-runtime --root ROOT args... on a new pty of size rows x cols.
func startOnPty(t *testing.T, e *env, rows, cols uint16, args ...string) *onPty {
	t.Helper()
	master, slave, err := openPty(rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	p := &onPty{t: t, master: master, slave: slave, done: make(chan error, 1)}
	if p.before, err = unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(binary, append([]string{"--root", e.root}, args...)...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// masterFd is the master's fd for ioctls (File.Fd would make the master blocking).
func (p *onPty) masterFd() int {
	p.t.Helper()
	rc, err := p.master.SyscallConn()
	if err != nil {
		p.t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		p.t.Fatal(err)
	}
	return fd
}

func (p *onPty) write(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// wait returns berth-runtime's exit status, putting its Wait result back for the cleanup.
func (p *onPty) wait() int {
	p.t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		p.t.Fatalf("berth-runtime %v did not exit; pty output %q", p.cmd.Args, p.out.String())
	}
	return -1
}

// TestTerminalRelay runs a terminal process with no --console-socket in the foreground, as
// `runc spec && runc run ID` does: berth-runtime relays the container's pty to its own terminal
// (raw mode, window size at start and on SIGWINCH) and exits with the process's status.
func TestTerminalRelay(t *testing.T) {
	tests := []struct {
		name string
		exec bool
	}{
		{"run with the default spec", false},
		{"exec -t", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			var args []string
			if tt.exec {
				e = newEnv(t, "sleep", "300")
				e.runBackground()
				args = []string{"exec", "-t", e.id, "sh"}
			} else {
				// The bundle of `berth-runtime spec`: terminal true, sh.
				e = newEnv(t)
				if err := os.Remove(filepath.Join(e.bundle, "config.json")); err != nil {
					t.Fatal(err)
				}
				e.mustRT("spec", "--bundle", e.bundle)
				args = []string{"run", "--bundle", e.bundle, e.id}
			}
			p := startOnPty(t, e, 31, 97, args...)
			readUntil(t, p.master, &p.out, "# ")
			p.write("stty size; tty; echo marker-$((40+2))\n")
			readUntil(t, p.master, &p.out, "marker-42")
			for _, want := range []string{"31 97", "/dev/pts/"} {
				if !strings.Contains(p.out.String(), want) {
					t.Errorf("pty output %q lacks %q", p.out.String(), want)
				}
			}
			// Raw mode on berth-runtime's terminal while it relays.
			if raw, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS); err != nil {
				t.Fatal(err)
			} else if raw.Lflag&(unix.ICANON|unix.ECHO) != 0 {
				t.Errorf("berth-runtime's terminal not in raw mode while relaying: lflag %#x", raw.Lflag)
			}

			// A resize of berth-runtime's terminal reaches the container's pty. The kernel
			// sends SIGWINCH to berth-runtime already; the explicit one is what a terminal
			// emulator's shell would also cause.
			if err := unix.IoctlSetWinsize(p.masterFd(), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 132}); err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Process.Signal(unix.SIGWINCH); err != nil {
				t.Fatal(err)
			}
			p.write(`for i in $(seq 100); do [ "$(stty size)" = "50 132" ] && break; sleep 0.1; done; echo "size=$(stty size)" end-$((1+1))` + "\n")
			readUntil(t, p.master, &p.out, "end-2")
			if !strings.Contains(p.out.String(), "size=50 132") {
				t.Errorf("after the resize the container's pty is not 50x132: %q", p.out.String())
			}

			p.write("exit 3\n")
			if code := p.wait(); code != 3 {
				t.Errorf("berth-runtime exit status %d, want 3; pty output %q", code, p.out.String())
			}
			after, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if after.Lflag != p.before.Lflag || after.Iflag != p.before.Iflag || after.Oflag != p.before.Oflag {
				t.Errorf("terminal mode not restored: before %+v, after %+v", p.before, after)
			}
			if !tt.exec {
				if got := e.stateEntries(); len(got) != 0 {
					t.Errorf("state left after run: %v", got)
				}
			}
		})
	}
}

// TestTerminalRelayNotATTY: with stdin a pipe and stdout not a terminal, the pty is still
// relayed (no raw mode, no window size to copy) and the exit status passed on.
func TestTerminalRelayNotATTY(t *testing.T) {
	e := newEnv(t, "sh")
	e.spec.Process.Terminal = true
	e.write()
	r := e.rtStdin([]byte("tty; echo marker-$((40+2)); exit 3\n"), "run", "--bundle", e.bundle, e.id)
	if r.code != 3 {
		t.Fatalf("want exit 3, got %s", r)
	}
	for _, want := range []string{"/dev/pts/0", "marker-42"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q: %s", want, r)
		}
	}
	if got := e.stateEntries(); len(got) != 0 {
		t.Errorf("state left after run: %v", got)
	}
}

// TestTerminalDetachedNoConsoleSocket: a detached terminal process needs --console-socket, as
// with runc ("cannot allocate tty if runc will detach without setting console socket"); the
// failure creates nothing.
func TestTerminalDetachedNoConsoleSocket(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	e.runBackground()
	tests := []struct {
		name string
		args func(t *testing.T, bundle, id string) []string
	}{
		{"run -d", func(_ *testing.T, bundle, id string) []string {
			return []string{"run", "-d", "--bundle", bundle, id}
		}},
		{"create", func(_ *testing.T, bundle, id string) []string {
			return []string{"create", "--bundle", bundle, id}
		}},
		{"exec -d -t", func(_ *testing.T, _, _ string) []string {
			return []string{"exec", "-d", "-t", e.id, "true"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newEnv(t, "sh")
			te.spec.Process.Terminal = true
			te.write()
			r, _ := e.rtFile(tt.args(t, te.bundle, te.id)...)
			failsCleanly(t, r, "tty", "--console-socket", "detached")
			e.nothingCreated(te.id)
			if got := e.stateEntries(); len(got) != 1 || got[0] != e.id {
				t.Errorf("state root holds %v, want only %s", got, e.id)
			}
		})
	}
}
