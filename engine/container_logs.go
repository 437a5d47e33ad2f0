package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/berth-dev/berth/monitor"
)

// LogsOptions are `logs` flags.
type LogsOptions struct {
	Follow       bool
	Tail         int // <= 0 with TailSet: none; not set: all
	TailSet      bool
	Since, Until time.Time
	// Idle is called while following whenever the log has no new data
	// (a caller flushes its buffers there).
	Idle func()
}

// ContainerLogs calls fn for each log entry of the container, oldest
// first; with Follow it waits for more until the container exits (or
// ctx ends).
func (e *Engine) ContainerLogs(ctx context.Context, ref string, o LogsOptions, fn func(monitor.Entry) error) error {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return err
	}
	if c.Log.Driver == "none" || c.Log.Path == "" {
		return fmt.Errorf("configured logging driver %q does not support reading", c.Log.Driver)
	}
	if o.TailSet && o.Tail == 0 {
		return nil
	}
	lo := monitor.LogOptions{Driver: c.Log.Driver, Path: c.Log.Path, Since: o.Since, Until: o.Until, Follow: o.Follow && c.State == StateRunning}
	if o.TailSet {
		lo.Tail = o.Tail
	}
	if lo.Follow {
		lo.Stopped = func() bool {
			if o.Idle != nil {
				o.Idle()
			}
			if _, err := os.Stat(e.exitFile(c.ID)); err == nil {
				return true
			}
			cc := c
			return e.settle(&cc)
		}
	}
	if _, err := os.Stat(c.Log.Path); errors.Is(err, os.ErrNotExist) && !lo.Follow {
		return nil // never started: no log yet
	}
	return monitor.ReadLogs(ctx, lo, fn)
}
