package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
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
	sock     int      // our end of the socketpair, -1 once closed
	peer     *os.File // the container's end
	master   *os.File // non-blocking, so that the drain can use a deadline
	masterFd int      // for ioctls: master.Fd() would make the file blocking again
	term     int      // our terminal among fds 0-2, for the window size; -1 without one
	saved    *unix.Termios
	out      chan struct{} // closed when the output copy ends
}

func newConsoleRelay() *consoleRelay { return &consoleRelay{sock: -1, term: -1} }

// open is CreateOpts.OpenConsole: it is only called when the process has a terminal, so runs
// without one never pay for any of this.
func (r *consoleRelay) open() (*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	r.sock = fds[0]
	r.peer = os.NewFile(uintptr(fds[1]), "console-peer")
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
	}
	if r.sock >= 0 {
		unix.Close(r.sock)
		r.sock = -1
	}
}

// start receives the pty master, sizes the pty like our terminal, puts our stdin in raw mode if
// it is a terminal and starts copying. Call restore when done, also on error.
func (r *consoleRelay) start() error {
	// Our copy of the container's end goes first, so that a container that died without
	// sending reads as EOF rather than a hang.
	r.peer.Close()
	r.peer = nil
	fd, err := recvMaster(r.sock)
	unix.Close(r.sock)
	r.sock = -1
	if err != nil {
		return err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("pty master: %w", err)
	}
	r.masterFd = fd
	r.master = os.NewFile(uintptr(fd), "pty-master")
	for _, t := range []int{0, 1, 2} {
		if _, err := unix.IoctlGetTermios(t, unix.TCGETS); err == nil {
			r.term = t
			break
		}
	}
	// Sized before any input is passed on, so that what the process reads first sees it.
	r.resize()
	if t, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		saved := *t
		makeRaw(t)
		if err := unix.IoctlSetTermios(0, unix.TCSETS, t); err != nil {
			return fmt.Errorf("set the terminal to raw mode: %w", err)
		}
		r.saved = &saved
	}
	r.out = make(chan struct{})
	go r.copyOut()
	// Left running when the process exits: the runtime exits right after.
	go func() { _, _ = io.Copy(r.master, os.Stdin) }()
	return nil
}

// copyOut copies the master to our stdout until EIO (every slave fd closed and the output read),
// or the drain deadline.
func (r *consoleRelay) copyOut() {
	defer close(r.out)
	buf := make([]byte, 32*1024)
	for {
		n, err := r.master.Read(buf)
		if n > 0 {
			if _, werr := os.Stdout.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// resize gives the pty our terminal's window size: at start and on SIGWINCH. The kernel
// signals the container's foreground process group itself when the size changes.
func (r *consoleRelay) resize() {
	if r == nil || r.master == nil || r.term < 0 {
		return
	}
	ws, err := unix.IoctlGetWinsize(r.term, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(r.masterFd, unix.TIOCSWINSZ, ws)
}

// drain waits, once the process has exited, for the rest of its output to be relayed.
func (r *consoleRelay) drain() {
	if r == nil || r.master == nil {
		return
	}
	_ = r.master.SetReadDeadline(time.Now().Add(drainTimeout))
	<-r.out
}

// restore puts our terminal back as it was. Safe to call more than once.
func (r *consoleRelay) restore() {
	if r == nil || r.saved == nil {
		return
	}
	_ = unix.IoctlSetTermios(0, unix.TCSETS, r.saved)
	r.saved = nil
}

// makeRaw turns off input and output processing, echo and signal keys, as cfmakeraw(3) does:
// the container's pty does all of that.
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}

// recvMaster reads the pty master the container sends (SCM_RIGHTS, the pty name as payload).
func recvMaster(sock int) (int, error) {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	var oobn int
	for {
		var err error
		_, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("receive the pty master: %w", err)
		}
		break
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return -1, fmt.Errorf("receive the pty master: %w", err)
	}
	var fds []int
	for i := range msgs {
		f, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, f...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, errors.New("receive the pty master: the container sent none")
	}
	return fds[0], nil
}
