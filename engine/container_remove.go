package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// RemoveOptions are rm's flags.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // remove its anonymous volumes too
	// podRemoval is a pod's removal, the one way its infra goes.
	podRemoval bool
}

// RemoveContainer removes a container: its runtime state, rootfs
// snapshot, bundle, logs and record, and with Volumes its anonymous
// volumes. The record goes last, so that a removal cut short leaves a
// container that rm can remove again rather than leaked files.
func (e *Engine) RemoveContainer(ctx context.Context, ref string, o RemoveOptions) (Container, error) {
	c, release, err := e.lockedContainer(ref)
	if err != nil {
		return c, err
	}
	defer release()
	if c.PodInfra && !o.podRemoval {
		return c, fmt.Errorf("container %s is the infra container of pod %s: remove the pod (pod rm)", c.Name, e.podName(c.Pod))
	}
	if err := e.remove(ctx, c, o); err != nil {
		return c, err
	}
	if c.Pod != "" && !c.PodInfra && !o.podRemoval {
		e.refreshPodHosts(c.Pod)
	}
	return c, nil
}

func (e *Engine) remove(ctx context.Context, c Container, o RemoveOptions) error {
	if c.State == StateRestarting {
		if !o.Force {
			return fmt.Errorf("cannot remove container \"/%s\": container is restarting: stop the container before removing or force remove", c.Name)
		}
		if err := e.endRestart(&c, nil); err != nil {
			return err
		}
	}
	if c.State == StateRunning {
		if !o.Force {
			return fmt.Errorf("cannot remove container \"/%s\": container is running: stop the container before removing or force remove", c.Name)
		}
		if err := e.signal(ctx, &c, syscall.SIGKILL); err != nil {
			return err
		}
		if err := e.waitExit(ctx, &c); err != nil {
			return err
		}
		// Recorded before the record goes, so that the die is in the log
		// whether this or the monitor's cleanup settles the run.
		if _, err := e.recordExit(c); err != nil {
			return err
		}
	}
	// From here the removal only goes forward (intents.go).
	done, err := e.intend(opRemove, c.ID)
	if err != nil {
		return err
	}
	defer done()
	if o.Volumes {
		var notes []string
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Anonymous {
				notes = append(notes, "volume "+m.Name)
			}
		}
		e.noteIntent(opRemove, c.ID, notes...)
	}
	killPoint("remove-intent")
	if c.Monitor != nil || c.State == StateRunning {
		if err := e.runtimeDelete(ctx, &c); err != nil {
			return fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
		}
	}
	killPoint("remove-runtime")
	if err := e.teardownNetwork(ctx, &c); err != nil {
		return fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
	}
	e.unmountShm(&c)
	if err := e.removeRootfs(c.ID, c.Snapshot); err != nil {
		return fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
	}
	killPoint("remove-rootfs")
	if err := os.RemoveAll(e.bundleDir(c.ID)); err != nil {
		return fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
	}
	os.RemoveAll(e.ctrRunDir(c.ID))
	killPoint("remove-bundle")
	err = e.meta.Update(func(tx *bolt.Tx) error {
		if names := tx.Bucket(bucketCNames); names != nil {
			if id := names.Get([]byte(c.Name)); string(id) == c.ID {
				if err := names.Delete([]byte(c.Name)); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketContainers).Delete([]byte(c.ID))
	})
	if err != nil {
		return fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
	}
	killPoint("remove-recorded")
	e.emitContainer(&c, "destroy", nil)
	removeRunFile(e, c.ID)
	os.Remove(e.ctrRunDir(c.ID) + ".lock")
	if o.Volumes {
		var errs []error
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Anonymous {
				if err := e.RemoveVolume(m.Name, true); err != nil && !errors.Is(err, ErrNoSuchVolume) {
					errs = append(errs, err)
				}
			}
		}
		return errors.Join(errs...)
	}
	return nil
}

// CleanupContainer is what the monitor runs after the container exited
// (the exit command, `berth container cleanup`): the exit is recorded,
// the runtime's state deleted and the rootfs unmounted, or with --rm the
// container removed. It does nothing when the container runs again or is
// gone, so it may come late or twice.
func (e *Engine) CleanupContainer(ctx context.Context, id string) error {
	c, err := e.LookupContainer(id)
	if err != nil {
		if errors.Is(err, ErrNoSuchContainer) {
			return nil
		}
		return err
	}
	// The lock is handed on to the restart policy below.
	lock, err := e.lockContainer(c.ID)
	if err != nil {
		return err
	}
	defer lock.Release()
	if c, err = e.LookupContainer(c.ID); err != nil {
		if errors.Is(err, ErrNoSuchContainer) {
			return nil
		}
		return err
	}
	if c.State == StateRunning || c.State == StateRestarting {
		return nil
	}
	if c.AutoRemove {
		return e.remove(ctx, c, RemoveOptions{Volumes: true})
	}
	if err := e.runtimeDelete(ctx, &c); err != nil {
		return err
	}
	if ownsNetNS(&c) {
		if err := e.teardownNetwork(ctx, &c); err != nil {
			return err
		}
		if err := e.PutContainer(c); err != nil {
			return err
		}
	}
	e.unmountShm(&c)
	if err := unmountRootfs(e.rootfsDir(c.ID)); err != nil {
		return err
	}
	// The restart policy (container_restart_policy.go): this process may
	// wait out the back-off and start the container again.
	_, err = e.restartAfterExit(ctx, c, lock)
	return err
}

// runtimeDelete removes the runtime's state of the container, killing
// what is left of it.
func (e *Engine) runtimeDelete(ctx context.Context, c *Container) error {
	rt, err := e.ociRuntime(c)
	if err != nil {
		return err
	}
	return rt.Delete(ctx, c.ID, true)
}
