package console

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReceive checks what counts as a pty master from the container: exactly one fd; a
// container that died first (EOF) or sent no fd is ErrNoMaster, not a hang.
func TestReceive(t *testing.T) {
	tests := []struct {
		name    string
		send    func(t *testing.T, peer *os.File)
		wantErr error
	}{
		{"closed without sending", func(*testing.T, *os.File) {}, ErrNoMaster},
		{"payload without fd", func(t *testing.T, peer *os.File) {
			if _, err := peer.Write([]byte("/dev/pts/0")); err != nil {
				t.Fatal(err)
			}
		}, ErrNoMaster},
		{"two fds", func(t *testing.T, peer *os.File) {
			f, err := os.Open("/dev/null")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fd := int(f.Fd())
			if err := unix.Sendmsg(int(peer.Fd()), []byte("x"), unix.UnixRights(fd, fd), nil, 0); err != nil {
				t.Fatal(err)
			}
		}, ErrNoMaster},
		{"one fd", func(t *testing.T, peer *os.File) {
			f, err := os.Open("/dev/null")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := Send(peer, f, "/dev/pts/0"); err != nil {
				t.Fatal(err)
			}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours, peer, err := Pair()
			if err != nil {
				t.Fatal(err)
			}
			defer ours.Close()
			tt.send(t, peer)
			peer.Close()
			m, name, err := Receive(ours, 5*time.Second)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Receive: %v", err)
				}
				defer m.Close()
				if name != "/dev/pts/0" {
					t.Errorf("name %q, want /dev/pts/0", name)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Receive: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestReceiveTimeout(t *testing.T) {
	ours, peer, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	defer peer.Close()
	start := time.Now()
	_, _, err = Receive(ours, 50*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Receive with nothing sent: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Receive took %s for a 50ms timeout", d)
	}
}

// TestListenerPty sends a real pty master through a console socket on a path, as a runtime
// does, and checks that what arrives is the same terminal: bytes written on the slave come out of
// the received master.
func TestListenerPty(t *testing.T) {
	dir, err := os.MkdirTemp("", "console")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	master, slave, err := OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := Dial(path)
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		sent <- Send(c, master, "")
		master.Close()
	}()
	got, name, err := l.Receive(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if name != "/dev/ptmx" {
		t.Errorf("payload %q, want the master's name /dev/ptmx", name)
	}
	if _, err := MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	if _, err := slave.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := got.Read(buf)
	if err != nil || string(buf[:n]) != "hello\n" {
		t.Fatalf("read from received master: %q, %v; want %q (raw mode: no CR added)", buf[:n], err, "hello\n")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket %s left after Close: %v", path, err)
	}
}

func TestListenBadPath(t *testing.T) {
	if _, err := Listen("/" + strings.Repeat("x", 200)); err == nil || !strings.Contains(err.Error(), "longer") {
		t.Fatalf("Listen of a 201-byte path: %v", err)
	}
	if _, err := Listen("/nonexistent-dir/sock"); err == nil {
		t.Fatal("Listen in a missing directory succeeded")
	}
	if _, err := Dial("/nonexistent-dir/sock"); err == nil {
		t.Fatal("Dial of a missing socket succeeded")
	}
}

func TestRawRestoreAndSize(t *testing.T) {
	master, slave, err := OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	fd := int(slave.Fd())
	if !IsTerminal(fd) {
		t.Fatal("pty slave is not a terminal")
	}
	saved, err := MakeRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if tm.Lflag&unix.ECHO != 0 || tm.Lflag&unix.ICANON != 0 {
		t.Errorf("raw mode left ECHO or ICANON on: lflag %#x", tm.Lflag)
	}
	if err := Restore(fd, saved); err != nil {
		t.Fatal(err)
	}
	tm, _ = unix.IoctlGetTermios(fd, unix.TCGETS)
	if tm.Lflag != saved.Lflag {
		t.Errorf("restore: lflag %#x, want %#x", tm.Lflag, saved.Lflag)
	}
	if err := SetSize(int(master.Fd()), 33, 111); err != nil {
		t.Fatal(err)
	}
	ws, err := Size(fd)
	if err != nil || ws.Row != 33 || ws.Col != 111 {
		t.Fatalf("size seen on the slave: %+v, %v; want 33x111", ws, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if IsTerminal(int(pr.Fd())) {
		t.Error("a pipe is a terminal")
	}
	if _, err := MakeRaw(int(pr.Fd())); err == nil {
		t.Error("MakeRaw of a pipe succeeded")
	}
}

// TestWatchSize checks the SIGWINCH relay: a size change of the source terminal reaches the
// destination pty once the signal arrives.
func TestWatchSize(t *testing.T) {
	srcM, srcS, err := OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer srcM.Close()
	defer srcS.Close()
	dstM, dstS, err := OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer dstM.Close()
	defer dstS.Close()
	if err := SetSize(int(srcM.Fd()), 10, 20); err != nil {
		t.Fatal(err)
	}
	stop := WatchSize(int(dstM.Fd()), int(srcS.Fd()))
	defer stop()
	if ws, _ := Size(int(dstS.Fd())); ws == nil || ws.Row != 10 || ws.Col != 20 {
		t.Fatalf("initial size %+v, want 10x20", ws)
	}
	if err := SetSize(int(srcM.Fd()), 40, 120); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(os.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, _ := Size(int(dstS.Fd()))
		if ws != nil && ws.Row == 40 && ws.Col == 120 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("size after SIGWINCH %+v, want 40x120", ws)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	stop() // twice is fine
}

// TestRelay copies a pty's output until its slave closes, and input into it.
func TestRelay(t *testing.T) {
	master, slave, err := OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	var out strings.Builder
	fd, err := unix.Dup(int(master.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	master.Close()
	r, err := NewRelay(fd, pr, &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("in\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := io.ReadAtLeast(slave, buf, 3); err != nil || string(buf[:n]) != "in\n" {
		t.Fatalf("slave read %q, %v", buf[:n], err)
	}
	if _, err := slave.Write([]byte("out\n")); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	r.Drain(5 * time.Second)
	if out.String() != "out\n" {
		t.Fatalf("relayed %q, want %q", out.String(), "out\n")
	}
	pw.Close()
	r.Close()
}
