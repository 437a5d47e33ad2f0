package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is a container's lifecycle state as the engine records it.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateStopped State = "stopped"
)

// Container is the record of one container in the containers bucket
// (key: ID). Later issues add what a container needs; this is what the
// engine foundation reads: the image it pins and, while it runs, its
// process.
type Container struct {
	ID       string    `json:"id"`
	Name     string    `json:"name,omitempty"`
	Image    string    `json:"image,omitempty"` // image ID, "sha256:…"
	State    State     `json:"state"`
	PID      int       `json:"pid,omitempty"`
	PIDStart uint64    `json:"pidStart,omitempty"` // /proc/PID/stat starttime
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished,omitzero"`
}

// PutContainer records c in one transaction. For a running container the
// run root says so first (RUNROOT/containers/ID holds "PID START"), so
// that a crash between the two leaves a file that reconciliation checks
// rather than a record nobody looks at.
func (e *Engine) PutContainer(c Container) error {
	if c.ID == "" || strings.ContainsAny(c.ID, "/\x00") || c.ID == "." || c.ID == ".." {
		return fmt.Errorf("put container: invalid id %q", c.ID)
	}
	run := filepath.Join(e.runRoot, "containers", c.ID)
	if c.State == StateRunning {
		if err := os.WriteFile(run, []byte(fmt.Sprintf("%d %d\n", c.PID, c.PIDStart)), 0o600); err != nil {
			return fmt.Errorf("put container %s: %w", c.ID, err)
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := e.meta.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Put([]byte(c.ID), b)
	}); err != nil {
		return fmt.Errorf("put container %s: %w", c.ID, err)
	}
	if c.State != StateRunning {
		if err := os.Remove(run); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("put container %s: %w", c.ID, err)
		}
	}
	return nil
}

// GetContainer reads one container record.
func (e *Engine) GetContainer(id string) (Container, error) {
	var c Container
	err := e.meta.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketContainers).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("no such container: %s", id)
		}
		return json.Unmarshal(v, &c)
	})
	return c, err
}

func forEachContainer(tx *bolt.Tx, fn func(*Container) error) error {
	b := tx.Bucket(bucketContainers)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var c Container
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("container record %s: %w", k, err)
		}
		return fn(&c)
	})
}

// reconcile squares the run root with what runs, cheaply: only containers
// the run root lists as running are looked at (stopped ones cost
// nothing), and the whole containers bucket only once per boot, when the
// run root was not reconciled for this boot (it is a tmpfs that a reboot
// empties, or it was moved). Leases of dead processes go too.
func (e *Engine) reconcile() error {
	dir := filepath.Join(e.runRoot, "containers")
	bootFile := filepath.Join(e.runRoot, "boot-id")
	boot := currentBoot()
	if b, _ := os.ReadFile(bootFile); string(b) != boot {
		if err := e.stopAll(); err != nil {
			return err
		}
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			os.Remove(filepath.Join(dir, ent.Name()))
		}
		if err := os.WriteFile(bootFile, []byte(boot), 0o600); err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	gone := map[string]int{}
	for _, ent := range entries {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		var pid int
		var start uint64
		f := strings.Fields(string(b))
		if len(f) == 2 {
			pid, _ = strconv.Atoi(f[0])
			start, _ = strconv.ParseUint(f[1], 10, 64)
		}
		if !alive(pid, start) {
			gone[ent.Name()] = pid
		}
	}
	if len(gone) > 0 {
		now := time.Now().UTC()
		err := e.meta.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketContainers)
			for id, pid := range gone {
				v := b.Get([]byte(id))
				if v == nil {
					continue
				}
				var c Container
				if json.Unmarshal(v, &c) != nil {
					// A damaged record is for the container commands to
					// report; it must not keep the engine from opening.
					continue
				}
				if c.State != StateRunning || c.PID != pid {
					continue // restarted under another pid meanwhile
				}
				if err := putStopped(b, id, c, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		for id := range gone {
			os.Remove(filepath.Join(dir, id))
		}
	}
	return e.liveLeases(nil)
}

// putStopped writes c back under id as stopped at now, its process forgotten.
func putStopped(b *bolt.Bucket, id string, c Container, now time.Time) error {
	c.State, c.PID, c.PIDStart, c.Finished = StateStopped, 0, 0, now
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), v)
}

// stopAll marks every container recorded as running stopped whose
// process is gone (after a reboot: all of them); it writes only if one is.
func (e *Engine) stopAll() error {
	var ids []string
	err := e.meta.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).ForEach(func(k, v []byte) error {
			var c Container
			// Damaged records are skipped, as in reconcile.
			if json.Unmarshal(v, &c) == nil && c.State == StateRunning && !alive(c.PID, c.PIDStart) {
				ids = append(ids, string(k))
			}
			return nil
		})
	})
	if err != nil || len(ids) == 0 {
		return err
	}
	now := time.Now().UTC()
	return e.meta.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		for _, id := range ids {
			var c Container
			if v := b.Get([]byte(id)); v == nil || json.Unmarshal(v, &c) != nil || c.State != StateRunning {
				continue
			}
			if err := putStopped(b, id, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}
