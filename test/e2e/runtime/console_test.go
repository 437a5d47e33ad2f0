package runtime_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleListener listens on a unix socket for the pty master that the runtime sends with
// --console-socket.
type consoleListener struct {
	t    *testing.T
	path string
	l    *net.UnixListener
	got  chan consoleResult
}

type consoleResult struct {
	master *os.File
	name   string // the payload: the pty's name in the container
	err    error
}

func listenConsole(t *testing.T) *consoleListener {
	t.Helper()
	// Short path: sun_path holds 108 bytes, and t.TempDir() names can be long.
	dir, err := os.MkdirTemp("", "berth-console")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c := &consoleListener{t: t, path: path, l: l, got: make(chan consoleResult, 1)}
	go c.accept()
	return c
}

func (c *consoleListener) accept() {
	conn, err := c.l.AcceptUnix()
	if err != nil {
		c.got <- consoleResult{err: err}
		return
	}
	defer conn.Close()
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		c.got <- consoleResult{err: err}
		return
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		c.got <- consoleResult{err: err}
		return
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			c.got <- consoleResult{err: err}
			return
		}
		fds = append(fds, f...)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		c.got <- consoleResult{err: fmt.Errorf("want 1 fd in SCM_RIGHTS, got %d", len(fds))}
		return
	}
	// Non-blocking, so that reads go through Go's poller and honour deadlines.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		c.got <- consoleResult{err: err}
		return
	}
	c.got <- consoleResult{master: os.NewFile(uintptr(fds[0]), "pty-master"), name: string(buf[:n])}
}

// master returns the pty master the runtime sent.
func (c *consoleListener) master() (*os.File, string) {
	c.t.Helper()
	select {
	case r := <-c.got:
		if r.err != nil {
			c.t.Fatalf("console socket: %v", r.err)
		}
		c.t.Cleanup(func() { r.master.Close() })
		return r.master, r.name
	case <-time.After(10 * time.Second):
		c.t.Fatal("no pty master on the console socket")
	}
	return nil, ""
}

// readUntil reads from the pty master until the output contains want.
func readUntil(t *testing.T, f *os.File, out *bytes.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), want) {
		if err := f.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, err := f.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			t.Fatalf("reading the pty for %q: %v; got so far %q", want, err, out.String())
		}
	}
}

// TestConsole gives a container a terminal through --console-socket, with create and start and
// with run --detach: the test receives the pty master, sees the container's stdio is the pty,
// and talks to it both ways.
func TestConsole(t *testing.T) {
	tests := []struct {
		name   string
		detach bool
	}{
		{"create and start", false},
		{"run detached", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "sh", "-c", "echo tty=$(tty); test -t 0 && test -t 1 && echo stdio-is-tty; "+
				"echo ready; read line; echo got $line")
			e.spec.Process.Terminal = true
			cl := listenConsole(t)
			if tt.detach {
				e.write()
				if r, _ := e.rtFile("run", "--detach", "--bundle", e.bundle, "--console-socket", cl.path, e.id); r.code != 0 {
					t.Fatalf("run --detach: %s", r)
				}
			} else {
				e.create("--console-socket", cl.path)
			}
			master, name := cl.master()
			if !strings.HasPrefix(name, "/dev/pts/") {
				t.Errorf("console socket payload %q: want the pty name", name)
			}
			if !tt.detach {
				e.start()
			}
			var out bytes.Buffer
			readUntil(t, master, &out, "ready")
			for _, want := range []string{"tty=/dev/pts/0", "stdio-is-tty"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("pty output %q lacks %q", out.String(), want)
				}
			}
			if _, err := master.Write([]byte("hello pty\n")); err != nil {
				t.Fatal(err)
			}
			readUntil(t, master, &out, "got hello pty")
			e.waitStopped()
			e.delete()
		})
	}
}

// TestConsoleSize: process.consoleSize is the pty's size before the process runs, so that a
// process asking at once never sees 0x0 (runc applies it too).
func TestConsoleSize(t *testing.T) {
	e := newEnv(t, "sh", "-c", "echo size=$(stty size)")
	e.spec.Process.Terminal = true
	e.spec.Process.ConsoleSize = &specs.Box{Height: 31, Width: 103}
	cl := listenConsole(t)
	e.write()
	if r, _ := e.rtFile("run", "--detach", "--bundle", e.bundle, "--console-socket", cl.path, e.id); r.code != 0 {
		t.Fatalf("run --detach: %s", r)
	}
	master, _ := cl.master()
	var out bytes.Buffer
	readUntil(t, master, &out, "size=31 103")
	e.waitStopped()
	e.delete()
}

// TestConsoleSocketErrors checks the mismatches between process.terminal and --console-socket.
func TestConsoleSocketErrors(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		socket   string
		want     string
	}{
		{"terminal without socket", true, "", "no --console-socket"},
		{"socket without terminal", false, "/nonexistent.sock", "process.terminal is false"},
		{"socket not listening", true, "/nonexistent/berth.sock", "console socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "true")
			e.spec.Process.Terminal = tt.terminal
			e.write()
			args := []string{"create", "--bundle", e.bundle}
			if tt.socket != "" {
				args = append(args, "--console-socket", tt.socket)
			}
			r := e.rt(append(args, e.id)...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want failure mentioning %q, got %s", tt.want, r)
			}
			if entries, _ := os.ReadDir(e.root); len(entries) != 0 {
				t.Errorf("state left after a failed create: %v", entries)
			}
		})
	}
}
