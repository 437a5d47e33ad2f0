package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/monitor"
)

// ErrNoSuchContainer is wrapped by lookups of containers that are not
// there.
var ErrNoSuchContainer = errors.New("no such container")

// LookupContainer finds a container by full id, name (with or without
// Docker's leading "/") or unique id prefix, and settles its state with
// its monitor's (a container that exited while no berth command ran is
// shown exited).
func (e *Engine) LookupContainer(ref string) (Container, error) {
	var c Container
	err := e.meta.View(func(tx *bolt.Tx) error {
		id, err := resolveContainer(tx, ref)
		if err != nil {
			return err
		}
		return json.Unmarshal(tx.Bucket(bucketContainers).Get([]byte(id)), &c)
	})
	if err != nil {
		return c, err
	}
	if e.settle(&c) {
		if err := e.persistSettled([]Container{c}); err != nil {
			return c, err
		}
	}
	return c, nil
}

func resolveContainer(tx *bolt.Tx, ref string) (string, error) {
	b := tx.Bucket(bucketContainers)
	if ref == "" {
		return "", fmt.Errorf("%w: (empty name)", ErrNoSuchContainer)
	}
	if b.Get([]byte(ref)) != nil {
		return ref, nil
	}
	if names := tx.Bucket(bucketCNames); names != nil {
		if id := names.Get([]byte(strings.TrimPrefix(ref, "/"))); id != nil {
			return string(id), nil
		}
	}
	if isHexPrefix(ref) {
		var found string
		cur := b.Cursor()
		for k, _ := cur.Seek([]byte(ref)); k != nil && strings.HasPrefix(string(k), ref); k, _ = cur.Next() {
			if found != "" {
				return "", fmt.Errorf("multiple containers found with id prefix %s", ref)
			}
			found = string(k)
		}
		if found != "" {
			return found, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
}

func isHexPrefix(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// listRecord is the part of a container record that a listing shows:
// decoding only it makes `ps -a` of 1,000 containers about twice as
// fast as decoding whole records (most of a record is its options).
type listRecord struct {
	ID          string           `json:"id"`
	Name        string           `json:"name,omitempty"`
	Image       string           `json:"image,omitempty"`
	State       State            `json:"state"`
	Paused      bool             `json:"paused,omitempty"`
	PID         int              `json:"pid,omitempty"`
	PIDStart    uint64           `json:"pidStart,omitempty"`
	Created     time.Time        `json:"created"`
	Finished    time.Time        `json:"finished,omitzero"`
	ImageName   string           `json:"imageName,omitempty"`
	Started     time.Time        `json:"started,omitzero"`
	ExitCode    int              `json:"exitCode,omitempty"`
	ExitUnknown bool             `json:"exitUnknown,omitempty"`
	Path        string           `json:"path,omitempty"`
	Args        []string         `json:"args,omitempty"`
	Config      listConfig       `json:"config"`
	Modes       NamespaceModes   `json:"modes,omitzero"`
	Snapshot    string           `json:"snapshot"`
	Mounts      []MountPoint     `json:"mounts,omitempty"`
	Monitor     *monitor.Process `json:"monitor,omitempty"`
	Runtime     string           `json:"runtime"`
	RuntimePath string           `json:"runtimePath"`
	// Restart is read for settle (a restarting container's waiter).
	Restart      RestartState      `json:"restart,omitzero"`
	RestartCount int               `json:"restartCount,omitempty"`
	Net          *ContainerNetwork `json:"net,omitempty"`
	Pod          string            `json:"pod,omitempty"`
	PodInfra     bool              `json:"podInfra,omitempty"`
}

type listConfig struct {
	Image       string            `json:"Image"`
	Labels      map[string]string `json:"Labels"`
	Healthcheck *HealthConfig     `json:"Healthcheck,omitempty"` // for ps's (healthy)
}

// ListContainers returns every container, newest first, settled. The
// records hold what a listing needs (Options and most of Config are
// left out: LookupContainer has them).
func (e *Engine) ListContainers() ([]Container, error) {
	var out []Container
	err := e.meta.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).ForEach(func(k, v []byte) error {
			var r listRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("container record %s: %w", k, err)
			}
			out = append(out, Container{ID: r.ID, Name: r.Name, Image: r.Image, State: r.State, Paused: r.Paused, PID: r.PID,
				PIDStart: r.PIDStart, Created: r.Created, Finished: r.Finished, ImageName: r.ImageName,
				Started: r.Started, ExitCode: r.ExitCode, ExitUnknown: r.ExitUnknown, Path: r.Path, Args: r.Args,
				Config: ContainerConfig{Image: r.Config.Image, Labels: r.Config.Labels, Healthcheck: r.Config.Healthcheck}, Modes: r.Modes,
				Snapshot: r.Snapshot, Mounts: r.Mounts, Monitor: r.Monitor, Runtime: r.Runtime, RuntimePath: r.RuntimePath,
				Restart: r.Restart, RestartCount: r.RestartCount, Net: r.Net, Pod: r.Pod, PodInfra: r.PodInfra})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var changed []Container
	for i := range out {
		if e.settle(&out[i]) {
			changed = append(changed, out[i])
		}
	}
	if len(changed) > 0 {
		if err := e.persistSettled(changed); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// settle brings a record said to be running up to date with what its
// monitor left: the exit status when the init has exited, or an unknown
// exit when the init and its monitor are both gone. It says whether c
// changed.
func (e *Engine) settle(c *Container) bool {
	if c.State == StateRestarting {
		// Its waiter died (SIGKILL, reboot): nothing brings it back now,
		// so it is exited with the status of its last run.
		if c.Restart.Waiter.alive() {
			return false
		}
		c.State, c.Restart.Waiter = StateStopped, nil
		return true
	}
	if c.State != StateRunning {
		return false
	}
	if c.Monitor == nil {
		if alive(c.PID, c.PIDStart) {
			return false
		}
		c.State, c.PID, c.PIDStart, c.Finished, c.ExitUnknown, c.ExitCode = StateStopped, 0, 0, time.Now().UTC(), true, -1
		c.Paused = false
		return true
	}
	st, err := monitor.Status(*c.Monitor, e.exitFile(c.ID))
	switch {
	case err == nil && st.State == monitor.Running:
		return false
	case err == nil && st.State == monitor.Exited:
		c.ExitCode, c.Finished, c.ExitUnknown = st.Exit.Code, st.Exit.Time, false
		c.OOMKilled = e.oomKilled(c)
	default:
		// Unknown, or an exit file that cannot be read: the status is
		// lost either way.
		c.ExitCode, c.Finished, c.ExitUnknown = -1, time.Now().UTC(), true
	}
	c.State, c.PID, c.PIDStart, c.Paused = StateStopped, 0, 0, false
	return true
}

// oomKilled says whether the memory controller killed a process of the
// container's last run, as Docker's State.OOMKilled does (any process,
// not only the init). The runtime keeps the cgroup until the container is
// deleted, and the first settle comes before that: the exit command
// settles, then deletes. Best effort: only berth-runtime, through the
// library, is asked; other runtimes have no command that tells it.
func (e *Engine) oomKilled(c *Container) bool {
	rt, err := e.ociRuntime(c)
	if err != nil {
		return false
	}
	o, ok := rt.(interface {
		OOMKills(context.Context, string) (uint64, error)
	})
	if !ok {
		return false
	}
	n, err := o.OOMKills(context.Background(), c.ID)
	return err == nil && n > 0
}

// persistSettled writes settled records back, each only if the stored
// one is still the run that was settled (a start may have come between).
// The write that ends a run is the one place that emits its die event:
// whichever process settles it (the monitor's cleanup, a wait, a ps),
// exactly one commits the change.
func (e *Engine) persistSettled(cs []Container) error {
	var done, died []Container
	err := e.meta.Update(func(tx *bolt.Tx) error {
		done, died = done[:0], died[:0]
		b := tx.Bucket(bucketContainers)
		for _, c := range cs {
			v := b.Get([]byte(c.ID))
			if v == nil {
				continue
			}
			var cur Container
			if json.Unmarshal(v, &cur) != nil || !sameSettle(&cur, &c) {
				continue
			}
			// A restart's wait that ended with its waiter had its die
			// when the run ended.
			ran := cur.State == StateRunning
			// Only what settle found goes onto the stored record: a
			// listing's c lacks most of it (listRecord), and other fields
			// (a stop's restart flags) may be newer than c's.
			cur.State, cur.PID, cur.PIDStart = c.State, c.PID, c.PIDStart
			cur.ExitCode, cur.Finished, cur.ExitUnknown, cur.OOMKilled = c.ExitCode, c.Finished, c.ExitUnknown, c.OOMKilled
			cur.Restart.Waiter = c.Restart.Waiter
			// A stop's flags (recordStop); within one run they only
			// ever get set.
			cur.Restart.ManuallyStopped = cur.Restart.ManuallyStopped || c.Restart.ManuallyStopped
			cur.Restart.Cancelled = cur.Restart.Cancelled || c.Restart.Cancelled
			nb, err := json.Marshal(cur)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(c.ID), nb); err != nil {
				return err
			}
			done = append(done, cur)
			if ran {
				died = append(died, cur)
			}
		}
		e.emitDied(died)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record container state: %w", err)
	}
	for i := range done {
		removeRunFile(e, done[i].ID)
	}
	e.reapNetworks(done)
	return nil
}

// sameSettle says whether the stored record cur is still in the state
// that c was settled from: the same run, or the same restart wait.
func sameSettle(cur, c *Container) bool {
	switch cur.State {
	case StateRunning:
		return sameRun(cur.Monitor, c.Monitor) && c.Restart.Waiter == nil
	case StateRestarting:
		w := cur.Restart.Waiter
		return w != nil && !w.alive()
	}
	return false
}

func sameRun(a, b *monitor.Process) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
