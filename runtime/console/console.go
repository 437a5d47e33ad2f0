// Package console is the terminal side of containers: the console socket on which an OCI
// runtime hands over the pty master of a container process (SCM_RIGHTS, with the pty's name as
// the payload, as runc does), pty allocation, raw mode, window sizes and their SIGWINCH relay.
//
// It is used by berth-runtime (whose start-up time matters: no package net here, only plain
// system calls) and by whatever owns a container's terminal after the runtime has gone (a
// monitor, a test).
package console

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoMaster is returned when the peer of a console socket closed it without sending a pty
// master, or sent something else: a container that failed before its terminal existed.
var ErrNoMaster = errors.New("the container sent no pty master")

// Pair returns the two ends of a connected unix socket: the runtime is given peer (for
// container.CreateOpts.OpenConsole) and the pty master arrives on ours. Both are close-on-exec.
func Pair() (ours, peer *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("console socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-peer"), nil
}

// Dial connects to the console socket at path, as a runtime given --console-socket does.
func Dial(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "console-socket")
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		f.Close()
		return nil, fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	return f, nil
}

// Send sends master on a connected console socket, with name (the pty's path in the
// container) as the payload.
func Send(sock, master *os.File, name string) error {
	if name == "" {
		name = master.Name()
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return fmt.Errorf("send the pty master: %w", err)
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), []byte(name), unix.UnixRights(int(master.Fd())), nil, 0)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("send the pty master: %w", err)
	}
	return nil
}

// Receive reads one pty master from a connected console socket. It blocks until the peer sends
// or closes its end (then ErrNoMaster); timeout > 0 bounds the wait. The master is close-on-exec.
func Receive(sock *os.File, timeout time.Duration) (master *os.File, name string, err error) {
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil, "", fmt.Errorf("receive the pty master: %w", err)
	}
	var fd int
	var rerr error
	err = rc.Control(func(s uintptr) { fd, name, rerr = receiveFd(int(s), timeout) })
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, "", err
	}
	return os.NewFile(uintptr(fd), name), name, nil
}

// ReceiveFd is Receive on a raw socket descriptor.
func ReceiveFd(sock int, timeout time.Duration) (fd int, name string, err error) {
	return receiveFd(sock, timeout)
}

func receiveFd(sock int, timeout time.Duration) (int, string, error) {
	if err := waitReadable(sock, timeout); err != nil {
		return -1, "", fmt.Errorf("receive the pty master: %w", err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	for {
		var err error
		n, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			// A non-blocking socket that poll called readable and another reader drained.
			if err := waitReadable(sock, timeout); err != nil {
				return -1, "", fmt.Errorf("receive the pty master: %w", err)
			}
			continue
		}
		if err != nil {
			return -1, "", fmt.Errorf("receive the pty master: %w", err)
		}
		break
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return -1, "", fmt.Errorf("receive the pty master: %w", err)
	}
	var fds []int
	for i := range msgs {
		if f, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, f...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, "", ErrNoMaster
	}
	return fds[0], string(buf[:n]), nil
}

// waitReadable polls fd for input; timeout <= 0 waits for ever.
func waitReadable(fd int, timeout time.Duration) error {
	ms := -1
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// Listener is a console socket on a path (what --console-socket names): the runtime connects and
// sends the pty master.
type Listener struct {
	f    *os.File
	path string
}

// Listen makes a console socket at path. A unix socket path holds at most 107 bytes.
func Listen(path string) (*Listener, error) {
	if len(path) >= len(unix.RawSockaddrUnix{}.Path) {
		return nil, fmt.Errorf("console socket %s: path longer than %d bytes", path, len(unix.RawSockaddrUnix{}.Path)-1)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		os.Remove(path)
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	return &Listener{f: os.NewFile(uintptr(fd), path), path: path}, nil
}

// Path returns the socket's path.
func (l *Listener) Path() string { return l.path }

// Receive accepts one connection and reads the pty master from it; timeout > 0 bounds the whole
// wait (connection and message).
func (l *Listener) Receive(timeout time.Duration) (master *os.File, name string, err error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	rc, err := l.f.SyscallConn()
	if err != nil {
		return nil, "", err
	}
	var cfd int
	var aerr error
	err = rc.Control(func(s uintptr) {
		if aerr = waitReadable(int(s), timeout); aerr != nil {
			return
		}
		for {
			cfd, _, aerr = unix.Accept4(int(s), unix.SOCK_CLOEXEC)
			if aerr != unix.EINTR {
				return
			}
		}
	})
	if err == nil {
		err = aerr
	}
	if err != nil {
		return nil, "", fmt.Errorf("console socket %s: accept: %w", l.path, err)
	}
	conn := os.NewFile(uintptr(cfd), "console-conn")
	defer conn.Close()
	left := time.Duration(0)
	if timeout > 0 {
		if left = time.Until(deadline); left <= 0 {
			left = time.Nanosecond
		}
	}
	return Receive(conn, left)
}

// Close closes the socket and removes its path.
func (l *Listener) Close() error {
	err := l.f.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}
