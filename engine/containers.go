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

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/monitor"
)

// State is a container's lifecycle state as the engine records it.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateStopped State = "stopped"
	// StateRestarting: the container exited and its restart policy
	// brings it back once the back-off delay has passed (Restart.Waiter waits
	// for it; container_restart_policy.go).
	StateRestarting State = "restarting"
)

// Container is the record of one container in the containers bucket
// (key: ID). The container's spec is its bundle's config.json
// (ROOT/containers/ID/config.json); the record holds what inspect shows
// and what the engine needs to start, watch and remove it.
type Container struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Image string `json:"image,omitempty"` // image ID, "sha256:…"
	State State  `json:"state"`
	// Paused says a running container's processes are frozen (pause).
	Paused   bool      `json:"paused,omitempty"`
	PID      int       `json:"pid,omitempty"`      // the init's, while running
	PIDStart uint64    `json:"pidStart,omitempty"` // /proc/PID/stat starttime
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished,omitzero"`

	// ImageName is the image as the user named it ("busybox").
	ImageName string    `json:"imageName,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	ExitCode  int       `json:"exitCode,omitempty"`
	// ExitUnknown says the container ended while nothing watched it (its
	// monitor had died): ExitCode is then -1 and Finished when it was seen.
	ExitUnknown bool   `json:"exitUnknown,omitempty"`
	Error       string `json:"error,omitempty"` // why the last start failed
	// OOMKilled is set when the init died of SIGKILL with the memory
	// cgroup's OOM kill counter raised (best effort).
	OOMKilled bool `json:"oomKilled,omitempty"`

	Path string   `json:"path,omitempty"` // process.args[0]
	Args []string `json:"args,omitempty"` // process.args[1:]

	Config ContainerConfig `json:"config"`
	// Options are the spec options the container was created with (its
	// HostConfig): start regenerates the spec from them when a namespace
	// joins another container's, whose process changes between starts.
	Options spec.Options `json:"options"`
	// Modes are the namespace flags as given (--pid, --ipc, --uts,
	// --network, --cgroupns): "container:ID" is resolved at each start.
	Modes NamespaceModes `json:"modes,omitzero"`

	Runtime     string       `json:"runtime"`     // its name ([runtime.runtimes])
	RuntimePath string       `json:"runtimePath"` // the binary it resolved to at create
	Snapshot    string       `json:"snapshot"`    // the writable snapshot's key
	Log         LogConfig    `json:"log"`
	AutoRemove  bool         `json:"autoRemove,omitempty"`
	Mounts      []MountPoint `json:"mounts,omitempty"`
	// Monitor is the monitor of the current or last run.
	Monitor      *monitor.Process `json:"monitor,omitempty"`
	RestartCount int              `json:"restartCount,omitempty"`
	// RestartPolicy is --restart (HostConfig.RestartPolicy); the zero
	// value is "no". Restart holds the policy's state between runs.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitzero"`
	Restart       RestartState  `json:"restart,omitzero"`
	// StopSignal is the signal stop sends first (number).
	StopSignal int `json:"stopSignal"`
	// Net are its networks, ports and DNS settings (container_network.go).
	Net *ContainerNetwork `json:"net,omitempty"`
	// Pod is the id of its pod (pod.go); PodInfra says it is that pod's
	// infra container, which holds the namespaces the others join.
	Pod      string `json:"pod,omitempty"`
	PodInfra bool   `json:"podInfra,omitempty"`
}

// ContainerConfig is what Docker's inspect shows as Config.
type ContainerConfig struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Image        string              `json:"Image"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

// RestartPolicy is Docker's HostConfig.RestartPolicy: Name is "no" (or
// ""), "always", "unless-stopped" or "on-failure".
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// NamespaceModes are the namespace flags as the user gave them.
type NamespaceModes struct {
	PID     string `json:"pid,omitempty"`
	IPC     string `json:"ipc,omitempty"`
	UTS     string `json:"uts,omitempty"`
	Network string `json:"network,omitempty"`
	Cgroup  string `json:"cgroup,omitempty"`
}

// LogConfig is a container's log driver and where its log is.
type LogConfig struct {
	Driver  string `json:"driver"`
	Path    string `json:"path,omitempty"`
	MaxSize int64  `json:"maxSize,omitempty"`
	MaxFile int    `json:"maxFile,omitempty"`
	// Opts are --log-opt as given, for inspect.
	Opts map[string]string `json:"opts,omitempty"`
}

// MountPoint is one mount as inspect shows it.
type MountPoint struct {
	Type        string `json:"Type"` // bind, volume, tmpfs
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
	// Anonymous volumes go with the container on rm -v (and on --rm).
	Anonymous bool `json:"anonymous,omitempty"`
}

// Status is the container's state in Docker's words: created, running,
// exited.
func (c *Container) Status() string {
	switch c.State {
	case StateRunning:
		if c.Paused {
			return "paused"
		}
		return "running"
	case StateStopped:
		return "exited"
	case StateRestarting:
		return "restarting"
	}
	return string(c.State)
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
		var died []Container
		err := e.meta.Update(func(tx *bolt.Tx) error {
			died = died[:0]
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
				if err := e.putStopped(b, id, c, now, &died); err != nil {
					return err
				}
			}
			e.emitDied(died)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		for id := range gone {
			os.Remove(filepath.Join(dir, id))
		}
		e.reapNetworks(died)
	}
	return e.liveLeases(nil)
}

// putStopped writes c back under id as stopped, its process forgotten:
// with the exit its monitor recorded, else at now with the code unknown.
// What it stopped is appended to died, for the die events the caller
// emits once the transaction has committed.
func (e *Engine) putStopped(b *bolt.Bucket, id string, c Container, now time.Time, died *[]Container) error {
	if c.Monitor != nil {
		// The monitor knows better: it may be writing the exit file now,
		// and then the record stays running until it has.
		if !e.settle(&c) {
			return nil
		}
	} else {
		c.State, c.PID, c.PIDStart, c.Finished, c.Paused = StateStopped, 0, 0, now, false
		c.ExitCode, c.ExitUnknown = -1, true
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(id), v); err != nil {
		return err
	}
	*died = append(*died, c)
	return nil
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
	var died []Container
	err = e.meta.Update(func(tx *bolt.Tx) error {
		died = died[:0]
		b := tx.Bucket(bucketContainers)
		for _, id := range ids {
			var c Container
			if v := b.Get([]byte(id)); v == nil || json.Unmarshal(v, &c) != nil || c.State != StateRunning {
				continue
			}
			if err := e.putStopped(b, id, c, now, &died); err != nil {
				return err
			}
		}
		e.emitDied(died)
		return nil
	})
	if err == nil {
		e.reapNetworks(died)
	}
	return err
}

func removeRunFile(e *Engine, id string) {
	os.Remove(filepath.Join(e.runRoot, "containers", id))
}
