package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/runtime/oci"
)

// ErrPaused is wrapped when a command cannot act on a paused container.
var ErrPaused = errors.New("container is paused")

// PauseContainer freezes every process of a running container (the
// runtime's pause: the cgroup freezer) and records it paused.
func (e *Engine) PauseContainer(ctx context.Context, ref string) (Container, error) {
	return e.setPaused(ctx, ref, true)
}

// UnpauseContainer thaws a paused container.
func (e *Engine) UnpauseContainer(ctx context.Context, ref string) (Container, error) {
	return e.setPaused(ctx, ref, false)
}

func (e *Engine) setPaused(ctx context.Context, ref string, pause bool) (Container, error) {
	c, release, err := e.lockedContainer(ref)
	if err != nil {
		return c, err
	}
	defer release()
	switch {
	case c.State != StateRunning:
		return c, fmt.Errorf("container %s is not running", ref)
	case pause && c.Paused:
		return c, fmt.Errorf("container %s is already paused", ref)
	case !pause && !c.Paused:
		return c, fmt.Errorf("container %s is not paused", ref)
	}
	rt, err := e.ociRuntime(&c)
	if err != nil {
		return c, err
	}
	action := "pause"
	if pause {
		err = rt.Pause(ctx, c.ID)
	} else {
		action = "unpause"
		err = rt.Resume(ctx, c.ID)
	}
	if err != nil {
		return c, fmt.Errorf("cannot %s container %s: %w", action, ref, err)
	}
	if err := e.recordPaused(&c, pause); err != nil {
		return c, err
	}
	e.emitContainer(&c, action, nil)
	return c, nil
}

// recordPaused writes Paused into the stored record of c's current run.
func (e *Engine) recordPaused(c *Container, paused bool) error {
	c.Paused = paused
	err := e.meta.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		v := b.Get([]byte(c.ID))
		if v == nil {
			return nil
		}
		var cur Container
		if err := json.Unmarshal(v, &cur); err != nil {
			return err
		}
		if cur.State != StateRunning || !sameRun(cur.Monitor, c.Monitor) {
			return nil
		}
		cur.Paused = paused
		nv, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		return b.Put([]byte(c.ID), nv)
	})
	if err != nil {
		return fmt.Errorf("record container %s paused: %w", shortID(c.ID), err)
	}
	return nil
}

// thawForSignal thaws a paused container after a signal that ends it
// was sent (SIGKILL, or its stop signal), as Docker does: frozen
// processes take no signal until thawed, and a container that stop or
// kill -9 ends must not stay frozen.
func (e *Engine) thawForSignal(ctx context.Context, c *Container, sig syscall.Signal) error {
	if !c.Paused {
		return nil
	}
	stop := syscall.Signal(c.StopSignal)
	if stop == 0 {
		stop = syscall.SIGTERM
	}
	if sig != syscall.SIGKILL && sig != stop {
		return nil
	}
	rt, err := e.ociRuntime(c)
	if err != nil {
		return err
	}
	if err := rt.Resume(ctx, c.ID); err != nil && !errors.Is(err, oci.ErrNotPaused) && !errors.Is(err, oci.ErrNotExist) {
		return fmt.Errorf("unpause container %s: %w", shortID(c.ID), err)
	}
	return e.recordPaused(c, false)
}
