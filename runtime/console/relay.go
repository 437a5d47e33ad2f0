package console

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Relay copies a pty master's output to a writer and a reader's input to the master.
type Relay struct {
	master *os.File
	fd     int
	out    chan struct{}
}

// NewRelay starts relaying the pty master fd (the relay owns it from now on): its output to out
// until every slave is closed, and in, when not nil, to it for as long as in gives data. The
// master is made non-blocking, so that Drain can bound the wait for the last output.
func NewRelay(fd int, in io.Reader, out io.Writer) (*Relay, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pty master: %w", err)
	}
	r := &Relay{master: os.NewFile(uintptr(fd), "pty-master"), fd: fd, out: make(chan struct{})}
	go r.copyOut(out)
	if in != nil {
		// Left running when the process exits: the reader may never return (a terminal).
		go func() { _, _ = io.Copy(r.master, in) }()
	}
	return r, nil
}

// Fd is the master's descriptor, for window size ioctls (Fd() on the file would make it
// blocking again).
func (r *Relay) Fd() int { return r.fd }

// copyOut copies until EIO (every slave fd closed and the output read) or the drain deadline.
func (r *Relay) copyOut(w io.Writer) {
	defer close(r.out)
	buf := make([]byte, 32*1024)
	for {
		n, err := r.master.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Drain waits, once the process has exited, for the rest of its output, at most timeout: a
// process it left behind may hold the slave open for ever.
func (r *Relay) Drain(timeout time.Duration) {
	_ = r.master.SetReadDeadline(time.Now().Add(timeout))
	<-r.out
}

// Close stops the relay and closes the master.
func (r *Relay) Close() error {
	err := r.master.Close()
	<-r.out
	return err
}
