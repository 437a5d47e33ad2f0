package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/console"
)

// consoleHolder is the process that keeps a detached exec session's pty
// master open (`berth container hold-console`): without one, the session's
// terminal would hang up as soon as the runtime let go of it.
type consoleHolder struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startConsoleHolder listens on sock and hands the listener to a new
// holder process, so that the socket accepts before the runtime connects.
func (e *Engine) startConsoleHolder(sock string) (*consoleHolder, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	lf, err := ln.File()
	ln.Close()
	if err != nil {
		os.Remove(sock)
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer lf.Close()
	h := e.ctrOpts.ConsoleHolder
	cmd := exec.Command(h[0], h[1:]...)
	cmd.ExtraFiles = []*os.File{lf} // fd 3
	cmd.Dir = "/"
	// Its own session: a ^C at the caller's terminal is not for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		os.Remove(sock)
		return nil, fmt.Errorf("console holder: %w", err)
	}
	c := &consoleHolder{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	return c, nil
}

// release leaves the holder to the session once the runtime is done;
// after a failed exec it is killed instead, as it got no master and would
// wait for a connection that never comes. (The runtime sends the master
// before it returns with success.)
func (c *consoleHolder) release(failed bool) {
	if failed {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// HoldConsole is the holder's side: accept one connection on the
// listener at fd 3, take the pty master sent on it, let go of the
// listener, and read the pty (output nobody wants) until every process
// on its other end is gone.
func HoldConsole() error {
	lf := os.NewFile(3, "console-listener")
	if lf == nil {
		return errors.New("hold-console: no listener at fd 3")
	}
	ln, err := net.FileListener(lf)
	lf.Close() // FileListener dup'ed it; fd 3 must go once we hold the master
	if err != nil {
		return fmt.Errorf("hold-console: %w", err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	_ = ul.SetDeadline(time.Now().Add(time.Minute))
	conn, err := ul.AcceptUnix()
	ul.Close()
	if err != nil {
		return fmt.Errorf("hold-console: %w", err)
	}
	raw, err := conn.File()
	conn.Close()
	if err != nil {
		return fmt.Errorf("hold-console: %w", err)
	}
	fd, _, err := console.ReceiveFd(int(raw.Fd()), 30*time.Second)
	raw.Close()
	if err != nil {
		return fmt.Errorf("hold-console: %w", err)
	}
	unix.CloseOnExec(fd)
	master := os.NewFile(uintptr(fd), "pty-master")
	defer master.Close()
	// EIO once the last process with the terminal open has closed it.
	_, _ = io.Copy(io.Discard, master)
	return nil
}
