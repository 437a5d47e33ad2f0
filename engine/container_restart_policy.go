package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot/flock"
)

// Restart policies (--restart), as Docker names them.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartOnFailure     = "on-failure"
	RestartUnlessStopped = "unless-stopped"
)

// Docker's back-off: the delay before a restart doubles from 100 ms up to
// a minute, and starts again at 100 ms once a run lasted 10 s.
const (
	restartDelayFirst = 100 * time.Millisecond
	restartDelayMax   = time.Minute
	restartResetAfter = 10 * time.Second
)

// IsNone says the container is never restarted.
func (p RestartPolicy) IsNone() bool { return p.Name == "" || p.Name == RestartNo }

// RestartState is what a restart policy keeps between runs.
//
// How a policy is carried out with no daemon: when the container ends,
// its monitor runs its exit command (`berth container cleanup ID`,
// CleanupContainer). That process decides, as Docker's restart manager
// does; to restart it records the container as restarting with itself as
// the Waiter, sleeps the back-off holding no lock, then takes the
// container's lock, checks that the record still names it, and starts
// the container under a new monitor. stop, kill, rm and start change the
// record under the same lock and end the waiter, so a waiter that wakes
// finds the record changed and does nothing. A waiter that died (a
// SIGKILL, a reboot) leaves a record that the next look settles as
// exited (settle), and `system boot` brings such containers back.
type RestartState struct {
	// ManuallyStopped is Docker's HasBeenManuallyStopped: set by stop and
	// kill, cleared by a start. unless-stopped leaves such a container
	// down, also at boot.
	ManuallyStopped bool `json:"manuallyStopped,omitempty"`
	// Cancelled is Docker's ExitOnNext: the next exit is not restarted
	// (stop; kill with SIGKILL or the stop signal). Cleared by a start.
	Cancelled bool `json:"cancelled,omitempty"`
	// DelayMS is the back-off of the last restart, in milliseconds.
	DelayMS int64 `json:"delayMs,omitempty"`
	// Waiter is the process that waits out the back-off (StateRestarting).
	Waiter *ProcessRef `json:"waiter,omitempty"`
}

// ProcessRef names a process by pid and start time.
type ProcessRef struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func (p *ProcessRef) alive() bool { return p != nil && alive(p.Pid, p.Start) }

// ParseRestartPolicy reads --restart as Docker does:
// no|always|unless-stopped|on-failure[:N] ("" is no), for run, create
// and update.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	if s == "" {
		return RestartPolicy{Name: RestartNo}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	if hasCount && name == "" {
		return RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := RestartPolicy{Name: name}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, p.Validate()
}

// Validate checks a policy as Docker's daemon does.
func (p RestartPolicy) Validate() error {
	switch p.Name {
	case "", RestartNo, RestartAlways, RestartUnlessStopped, RestartOnFailure:
	default:
		return fmt.Errorf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", p.Name)
	}
	if p.MaximumRetryCount < 0 {
		return errors.New("invalid restart policy: maximum retry count cannot be negative")
	}
	if p.MaximumRetryCount != 0 && p.Name != RestartOnFailure {
		return errors.New("invalid restart policy: maximum retry count can only be used with 'on-failure'")
	}
	return nil
}

// errRestartAutoRemove is Docker's refusal of --rm with a policy.
var errRestartAutoRemove = errors.New("conflicting options: --restart and --rm")

// restartDecision is Docker's restart manager's: whether the exit just
// recorded in c is restarted, and after what delay.
func (c *Container) restartDecision() (bool, time.Duration) {
	p := c.RestartPolicy
	if p.IsNone() || c.Restart.Cancelled {
		return false, 0
	}
	d := time.Duration(c.Restart.DelayMS) * time.Millisecond
	if c.Finished.Sub(c.Started) >= restartResetAfter {
		d = 0
	}
	switch {
	case d == 0:
		d = restartDelayFirst
	case d < restartDelayMax:
		d *= 2
	}
	d = min(d, restartDelayMax)
	switch p.Name {
	case RestartAlways:
		return true, d
	case RestartUnlessStopped:
		return !c.Restart.ManuallyStopped, d
	case RestartOnFailure:
		return c.ExitCode != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount), d
	}
	return false, 0
}

// restartAfterExit carries out the policy for an exit that cleanup has
// just released (lock held, runtime state deleted, rootfs unmounted): if
// the policy says so, it records the container as restarting, waits the
// delay with the lock released, and starts it again. It reports whether
// it took the container over.
func (e *Engine) restartAfterExit(ctx context.Context, c Container, lock *flock.Lock) (bool, error) {
	if c.State != StateStopped {
		return false, nil
	}
	restart, delay := c.restartDecision()
	if !restart {
		return false, nil
	}
	pid, start, err := self()
	if err != nil {
		return false, fmt.Errorf("restart container %s: %w", shortID(c.ID), err)
	}
	c.State = StateRestarting
	c.RestartCount++
	c.Restart.DelayMS = delay.Milliseconds()
	c.Restart.Waiter = &ProcessRef{Pid: pid, Start: start}
	if err := e.PutContainer(c); err != nil {
		return false, err
	}
	killPoint("restart-recorded")
	me := *c.Restart.Waiter
	lock.Release()
	// Asleep, this process is in nobody's way: it lets go of the root's
	// shared lock too, so that another process may empty the tmp dirs.
	e.lock.Release()
	select {
	case <-ctx.Done():
		return true, ctx.Err()
	case <-time.After(delay):
	}
	if e.lock, err = flock.Acquire(filepath.Join(e.root, "lock"), false); err != nil {
		return true, fmt.Errorf("restart container %s: %w", shortID(c.ID), err)
	}
	l, err := e.lockContainer(c.ID)
	if err != nil {
		return true, err
	}
	defer l.Release()
	cur, err := e.GetContainer(c.ID)
	if err != nil || cur.State != StateRestarting || cur.Restart.Waiter == nil || *cur.Restart.Waiter != me {
		return true, nil // removed, stopped or started meanwhile
	}
	cur.Restart.Waiter = nil
	if cur.RestartPolicy.IsNone() || cur.Restart.Cancelled {
		// The policy was taken away meanwhile (update --restart no).
		cur.State = StateStopped
		return true, e.PutContainer(cur)
	}
	_, err = e.start(ctx, cur, StartOptions{})
	return true, err
}

// endRestart ends the wait of a restarting container (stop, kill, rm):
// the record says stopped, with flags set as the caller wants them, and
// the waiter is ended. Called with the container's lock held.
func (e *Engine) endRestart(c *Container, set func(*RestartState)) error {
	w := c.Restart.Waiter
	c.State, c.Restart.Waiter = StateStopped, nil
	if set != nil {
		set(&c.Restart)
	}
	if err := e.PutContainer(*c); err != nil {
		return err
	}
	killProcess(w)
	return nil
}

// killProcess SIGKILLs p if it is still the process it names (pidfd:
// never a recycled pid).
func killProcess(p *ProcessRef) {
	if p == nil || p.Pid <= 0 {
		return
	}
	fd, err := unix.PidfdOpen(p.Pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if alive(p.Pid, p.Start) && p.Pid != os.Getpid() {
		unix.PidfdSendSignal(fd, syscall.SIGKILL, nil, 0)
	}
}

// markStopping records, before a stop or kill signals the init, that the
// user stopped the container, so that the exit it causes is not
// restarted (cancel) and unless-stopped stays down. Only containers with
// a policy pay for the write.
func (e *Engine) markStopping(c *Container, cancel bool) error {
	if c.RestartPolicy.IsNone() {
		return nil
	}
	return e.meta.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		v := b.Get([]byte(c.ID))
		if v == nil {
			return nil
		}
		var cur Container
		if err := json.Unmarshal(v, &cur); err != nil {
			return err
		}
		cur.Restart.ManuallyStopped = true
		cur.Restart.Cancelled = cur.Restart.Cancelled || cancel
		c.Restart.ManuallyStopped, c.Restart.Cancelled = true, cur.Restart.Cancelled
		nb, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		return b.Put([]byte(c.ID), nb)
	})
}
