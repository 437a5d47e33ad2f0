package main

import (
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/console"
)

// drainTimeout bounds how long output is still relayed once the process has exited. The master
// normally reads EIO as soon as the last slave fd closes and the buffer is empty, but a process
// the exec'd one left behind may hold the slave open: runc would wait for it forever.
const drainTimeout = time.Second

// consoleRelay is the terminal of a foreground `run` or `exec` given no --console-socket, as
// runc does it: the container sends the pty master over a socketpair to the runtime itself,
// which copies it to its own stdout and its own stdin to it, with its stdin (when a terminal) in
// raw mode, and gives the pty the window size of its own terminal.
type consoleRelay struct {
	sock  *os.File // our end of the socketpair, nil once closed
	peer  *os.File // the container's end
	relay *console.Relay
	term  int // our terminal among fds 0-2, for the window size; -1 without one
	saved *unix.Termios
}

func newConsoleRelay() *consoleRelay { return &consoleRelay{term: -1} }

// ownTermSize is the window size of our terminal among fds 0-2, as process.consoleSize; nil
// without one.
func ownTermSize() *specs.Box {
	for _, t := range []int{0, 1, 2} {
		if ws, err := unix.IoctlGetWinsize(t, unix.TIOCGWINSZ); err == nil && (ws.Row > 0 || ws.Col > 0) {
			return &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
		}
	}
	return nil
}

// open is CreateOpts.OpenConsole: it is only called when the process has a terminal, so runs
// without one never pay for any of this.
func (r *consoleRelay) open() (*os.File, error) {
	ours, peer, err := console.Pair()
	if err != nil {
		return nil, err
	}
	r.sock, r.peer = ours, peer
	return r.peer, nil
}

// opened reports whether the container was given our socket (its process has a terminal).
func (r *consoleRelay) opened() bool { return r != nil && r.peer != nil }

// close releases the socketpair (after a failed create or exec).
func (r *consoleRelay) close() {
	if r == nil {
		return
	}
	if r.peer != nil {
		r.peer.Close()
		r.peer = nil
	}
	if r.sock != nil {
		r.sock.Close()
		r.sock = nil
	}
}

// start receives the pty master, sizes the pty like our terminal, puts our stdin in raw mode if
// it is a terminal and starts copying. Call restore when done, also on error.
func (r *consoleRelay) start() error {
	// Our copy of the container's end goes first, so that a container that died without
	// sending reads as EOF rather than a hang.
	r.peer.Close()
	r.peer = nil
	fd, _, err := console.ReceiveFd(int(r.sock.Fd()), 0)
	r.sock.Close()
	r.sock = nil
	if err != nil {
		return fmt.Errorf("receive the pty master: %w", err)
	}
	for _, t := range []int{0, 1, 2} {
		if console.IsTerminal(t) {
			r.term = t
			break
		}
	}
	// Sized before any input is passed on, so that what the process reads first sees it.
	if r.term >= 0 {
		_ = console.CopySize(fd, r.term)
	}
	if console.IsTerminal(0) {
		saved, err := console.MakeRaw(0)
		if err != nil {
			unix.Close(fd)
			return err
		}
		r.saved = saved
	}
	if r.relay, err = console.NewRelay(fd, os.Stdin, os.Stdout); err != nil {
		return err
	}
	return nil
}

// resize gives the pty our terminal's window size: at start and on SIGWINCH. The kernel
// signals the container's foreground process group itself when the size changes.
func (r *consoleRelay) resize() {
	if r == nil || r.relay == nil || r.term < 0 {
		return
	}
	_ = console.CopySize(r.relay.Fd(), r.term)
}

// drain waits, once the process has exited, for the rest of its output to be relayed.
func (r *consoleRelay) drain() {
	if r == nil || r.relay == nil {
		return
	}
	r.relay.Drain(drainTimeout)
}

// restore puts our terminal back as it was. Safe to call more than once.
func (r *consoleRelay) restore() {
	if r == nil || r.saved == nil {
		return
	}
	_ = console.Restore(0, r.saved)
	r.saved = nil
}
