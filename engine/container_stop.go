package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/monitor"
)

// ErrNotRunning is wrapped when a command needs a running container.
var ErrNotRunning = errors.New("container is not running")

// StopContainer sends the container's stop signal, waits timeout (nil:
// its --stop-timeout, else 10 s; negative: for ever) and then kills it,
// as docker stop does. A container that is not running is left as it is.
func (e *Engine) StopContainer(ctx context.Context, ref string, timeout *int) (Container, error) {
	return e.StopContainerWith(ctx, ref, "", timeout)
}

// StopContainerWith is StopContainer with the first signal given (stop
// -s); empty: the container's stop signal.
func (e *Engine) StopContainerWith(ctx context.Context, ref, signal string, timeout *int) (Container, error) {
	var first syscall.Signal
	if signal != "" {
		var err error
		if first, err = spec.ParseSignal(signal); err != nil {
			return Container{}, err
		}
	}
	c, err := e.LookupContainer(ref)
	if err != nil {
		return c, err
	}
	if c.State == StateCreated || (c.State == StateStopped && c.RestartPolicy.IsNone()) {
		return c, nil
	}
	// Before the signal: the exit it causes must not be restarted. (An
	// exited container with a policy is marked too: its exit command may
	// not have decided yet.)
	if done, err := e.beginStop(&c, true); err != nil || done {
		return c, err
	}
	t := DefaultStopTimeout
	switch {
	case timeout != nil:
		t = *timeout
	case c.Config.StopTimeout != nil:
		t = *c.Config.StopTimeout
	}
	sig := syscall.Signal(c.StopSignal)
	if first != 0 {
		sig = first
	}
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if err := e.signal(ctx, &c, sig); err != nil {
		return c, err
	}
	wctx := ctx
	if t >= 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, time.Duration(t)*time.Second)
		defer cancel()
	}
	if err := e.waitExit(wctx, &c); err == nil {
		return e.recordStop(c)
	} else if ctx.Err() != nil {
		return c, ctx.Err()
	}
	if err := e.signal(ctx, &c, syscall.SIGKILL); err != nil {
		return c, err
	}
	if err := e.waitExit(ctx, &c); err != nil {
		return c, err
	}
	return e.recordStop(c)
}

// recordStop is recordExit and the stop event after the die. The record
// says the user stopped it, in the same write: a policy that `update
// --restart` gives the container before its exit command comes must not
// restart it.
func (e *Engine) recordStop(c Container) (Container, error) {
	c.Restart.ManuallyStopped, c.Restart.Cancelled = true, true
	c, err := e.recordExit(c)
	if err == nil {
		e.emitContainer(&c, "stop", nil)
	}
	return c, err
}

// KillContainer sends sig (empty: SIGKILL) to a running container's init.
func (e *Engine) KillContainer(ctx context.Context, ref, sig string) (Container, error) {
	s := syscall.SIGKILL
	if sig != "" {
		var err error
		if s, err = spec.ParseSignal(sig); err != nil {
			return Container{}, err
		}
	}
	c, err := e.LookupContainer(ref)
	if err != nil {
		return c, err
	}
	if c.State != StateRunning && c.State != StateRestarting {
		return c, fmt.Errorf("cannot kill container %s: %w", ref, ErrNotRunning)
	}
	// Docker's kill ends the restart policy when it sends SIGKILL or the
	// stop signal (any signal, with none configured), and counts as a
	// manual stop for unless-stopped either way.
	cancel := s == syscall.SIGKILL || c.Config.StopSignal == "" || int(s) == c.StopSignal
	if done, err := e.beginStop(&c, cancel); err != nil || done {
		return c, err
	}
	return c, e.signal(ctx, &c, s)
}

// beginStop comes before stop or kill signals a container with a restart
// policy, under the container's lock (so not in the middle of a restart's
// start): one waiting to restart is stopped there and then (done; with
// cancel unset, as a kill with another signal, it is only marked); a
// running one is marked as stopped by the user, so that the exit the
// signal causes is not restarted. c is brought up to date.
func (e *Engine) beginStop(c *Container, cancel bool) (done bool, err error) {
	if c.RestartPolicy.IsNone() && c.State != StateRestarting {
		return false, nil
	}
	lock, err := e.lockContainer(c.ID)
	if err != nil {
		return false, err
	}
	defer lock.Release()
	cur, err := e.LookupContainer(c.ID)
	if err != nil {
		return false, err
	}
	*c = cur
	switch {
	case c.State == StateRestarting && cancel:
		return true, e.endRestart(c, func(r *RestartState) { r.ManuallyStopped, r.Cancelled = true, true })
	case c.State == StateRestarting:
		return true, e.markStopping(c, false)
	case c.State == StateRunning:
		return false, e.markStopping(c, cancel)
	}
	// It ended meanwhile, and its exit command, which may be waiting for
	// this lock, must not restart it.
	return true, e.markStopping(c, cancel)
}

// signal sends sig to the init. The init is named by pid and start time,
// so a recycled pid is never signalled; the runtime is not needed for
// that (and costs an exec), except that it is what reaches an init whose
// pid the engine does not know.
func (e *Engine) signal(ctx context.Context, c *Container, sig syscall.Signal) error {
	// Before the signal, so that the log has it before the die it causes.
	e.emitContainer(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	if err := e.sendSignal(ctx, c, sig); err != nil {
		return err
	}
	return e.thawForSignal(ctx, c, sig)
}

func (e *Engine) sendSignal(ctx context.Context, c *Container, sig syscall.Signal) error {
	if c.PID > 0 && c.PIDStart != 0 {
		fd, err := unix.PidfdOpen(c.PID, 0)
		if err == nil {
			defer unix.Close(fd)
			if !alive(c.PID, c.PIDStart) {
				return nil // exited meanwhile
			}
			if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("signal container %s: %w", shortID(c.ID), err)
			}
			return nil
		}
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
	}
	rt, err := e.ociRuntime(c)
	if err != nil {
		return err
	}
	return rt.Kill(ctx, c.ID, sig, false)
}

// waitExit waits until the container's init has exited and its monitor
// has recorded it (or died), then settles c. It also waits for the
// monitor to drain the output into the log and exit (at most 10 s), so
// that the log is whole when wait, stop or a run returns.
func (e *Engine) waitExit(ctx context.Context, c *Container) error {
	if c.State == StateRunning {
		if c.PID > 0 {
			if fd, err := unix.PidfdOpen(c.PID, 0); err == nil {
				if alive(c.PID, c.PIDStart) {
					err = pollFd(ctx, fd)
				}
				unix.Close(fd)
				if err != nil {
					return err
				}
			}
		}
		// The init is gone: the monitor writes the exit file in a moment.
		for delay := time.Millisecond; !e.settle(c); delay = min(2*delay, 50*time.Millisecond) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
		}
	}
	if mon := c.Monitor; mon != nil && monitor.Alive(mon.Pid, mon.StartTime) {
		if fd, err := unix.PidfdOpen(mon.Pid, 0); err == nil {
			if monitor.Alive(mon.Pid, mon.StartTime) {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				pollFd(dctx, fd)
				cancel()
			}
			unix.Close(fd)
		}
	}
	return nil
}

// pollFd waits for a pidfd to become readable (the process exited).
func pollFd(ctx context.Context, fd int) error {
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for container: %w", err)
		}
		if n > 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// recordExit persists a settled container.
func (e *Engine) recordExit(c Container) (Container, error) {
	if c.State == StateRunning {
		return c, nil
	}
	return c, e.persistSettled([]Container{c})
}

// WaitContainer blocks until the container is not running and returns
// its exit code (-1 when it is unknown).
func (e *Engine) WaitContainer(ctx context.Context, ref string) (int, error) {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return 0, err
	}
	if err := e.waitExit(ctx, &c); err != nil {
		return 0, err
	}
	if _, err := e.recordExit(c); err != nil {
		return 0, err
	}
	return c.ExitCode, nil
}

// AttachContainer connects to a running container's monitor.
func (e *Engine) AttachContainer(ctx context.Context, ref string, o monitor.AttachOptions) (*monitor.Exit, error) {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return nil, err
	}
	if c.State != StateRunning {
		return nil, fmt.Errorf("cannot attach to container %s: %w", ref, ErrNotRunning)
	}
	return monitor.Attach(ctx, e.attachSocket(c.ID), o)
}

// AttachSocket is where a container's monitor takes attaches.
func (e *Engine) AttachSocket(c Container) string { return e.attachSocket(c.ID) }
