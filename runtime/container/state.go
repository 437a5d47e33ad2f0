package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Status values of the OCI state, plus runc's "paused".
const (
	StatusCreating = "creating"
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusPaused   = "paused"
	StatusStopped  = "stopped"
)

const (
	stateFile = "state.json"
	fifoFile  = "exec.fifo"
)

// saved is what a container keeps in its state dir between commands.
type saved struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pid_start"`
	Created     time.Time         `json:"created"`
	CgroupPaths map[string]string `json:"cgroup_paths,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	// RawSpec is the config.json as read (re-encoded after an update), kept as bytes: create
	// never encodes the spec and most commands never decode it, since encoding/json builds its
	// coders for the whole spec type tree by reflection (~0.5 ms a process). spec() decodes it.
	RawSpec json.RawMessage `json:"config"`
	// Hooks are what start and delete need of the spec, kept in the state as HooksJSON and
	// decoded once needed. The key is always written ("hooks": null without any), so that a
	// state without it is known to come from an older binary: its hooks are read from RawSpec.
	Hooks     *specs.Hooks    `json:"-"`
	HooksJSON json.RawMessage `json:"hooks"`
	// Spec is RawSpec decoded, once needed.
	Spec         *specs.Spec       `json:"-"`
	NsPaths      map[string]string `json:"namespace_paths,omitempty"`
	StartedOnce  bool              `json:"started,omitempty"`
	CgroupsOwned bool              `json:"cgroups_owned,omitempty"`
	// NoNewKeyring: created with --no-new-keyring, so exec'd processes keep the caller's
	// session keyring too (as runc does).
	NoNewKeyring bool `json:"no_new_keyring,omitempty"`
	// HostMounts: the container has no mount namespace of its own, so the mounts of its rootfs
	// were made in the caller's; delete removes every mount under Rootfs.
	HostMounts bool `json:"host_mounts,omitempty"`
	// KeepMounts are the ids of the mounts under Rootfs before create (an engine's mount of the
	// rootfs itself): delete leaves them.
	KeepMounts []int `json:"keep_mounts,omitempty"`
	// RestoreRootfsRW: the rootfs was such a mount, writable, and the container's read-only
	// root made it read-only: delete makes it writable again.
	RestoreRootfsRW bool `json:"restore_rootfs_rw,omitempty"`
}

// State is the OCI state, with runc's extra fields that tools read.
type State struct {
	specs.State
	// Pid shadows specs.State's omitempty pid: runc prints "pid": 0 for a stopped container,
	// and scripts read it.
	Pid     int       `json:"pid"`
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// Container is a container with a state dir under the runtime's root.
type Container struct {
	root string
	dir  string
	s    saved
	// hooksPending: loaded from a state whose HooksJSON is not decoded yet.
	hooksPending bool
	warn         func(string)
}

// SetWarn sets where warnings go that do not fail an operation (a failing poststart or
// poststop hook). Without one they are dropped.
func (c *Container) SetWarn(warn func(string)) { c.warn = warn }

func (c *Container) warnf(format string, a ...any) {
	if c.warn != nil {
		c.warn(fmt.Sprintf(format, a...))
	}
}

// hooks returns the container's hooks, from its spec when the state predates the hooks key.
func (c *Container) hooks() *specs.Hooks {
	if !c.hooksPending {
		return c.s.Hooks
	}
	c.hooksPending = false
	var err error
	if c.s.HooksJSON == nil {
		var spec *specs.Spec
		if spec, err = c.spec(); err == nil {
			c.s.Hooks = spec.Hooks
		}
	} else {
		err = json.Unmarshal(c.s.HooksJSON, &c.s.Hooks)
	}
	if err != nil {
		c.warnf("hooks of %s: %v", c.s.ID, err)
	}
	return c.s.Hooks
}

// Load opens an existing container.
func Load(root, id string) (*Container, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errorf(ErrNotExist, "container %s does not exist", id)
		}
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	c := &Container{root: root, dir: dir, hooksPending: true}
	if err := json.Unmarshal(data, &c.s); err != nil {
		return nil, fmt.Errorf("state of %s is corrupt: %w", id, err)
	}
	return c, nil
}

// List returns the containers under root, sorted by name.
func List(root string) ([]*Container, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue // a container being created or deleted right now
		}
		out = append(out, c)
	}
	return out, nil
}

func (c *Container) save() error {
	hooks, err := json.Marshal(c.hooks())
	if err != nil {
		return fmt.Errorf("encode hooks: %w", err)
	}
	c.s.HooksJSON = hooks
	if c.s.RawSpec == nil && c.s.Spec != nil {
		raw, err := json.Marshal(c.s.Spec)
		if err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
		c.s.RawSpec = raw
	}
	data, err := encodeSaved(&c.s)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp := filepath.Join(c.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, stateFile)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// ID returns the container's id.
func (c *Container) ID() string { return c.s.ID }

// Pid returns the container init's pid (in the runtime's pid namespace).
func (c *Container) Pid() int { return c.s.Pid }

// Bundle returns the bundle path.
func (c *Container) Bundle() string { return c.s.Bundle }

// Created returns the creation time.
func (c *Container) Created() time.Time { return c.s.Created }

// Spec returns the config the container was created from.
func (c *Container) Spec() (*specs.Spec, error) { return c.spec() }

func (c *Container) spec() (*specs.Spec, error) {
	if c.s.Spec == nil {
		spec, err := decodeSpec(c.s.RawSpec)
		if err != nil {
			return nil, fmt.Errorf("config of %s in its state is corrupt: %w", c.s.ID, err)
		}
		c.s.Spec = spec
	}
	return c.s.Spec, nil
}

// Status works out the status from the kernel: is init alive, is it still waiting for start,
// is it frozen.
func (c *Container) Status() string {
	if !c.initAlive() {
		return StatusStopped
	}
	if _, err := os.Stat(filepath.Join(c.dir, fifoFile)); err == nil {
		return StatusCreated
	}
	if c.frozen() {
		return StatusPaused
	}
	return StatusRunning
}

// State returns the OCI state.
func (c *Container) State() State {
	st := State{
		State: specs.State{
			Version:     specs.Version,
			ID:          c.s.ID,
			Status:      specs.ContainerState(c.Status()),
			Bundle:      c.s.Bundle,
			Annotations: c.s.Annotations,
		},
		Rootfs:  c.s.Rootfs,
		Created: c.s.Created,
		Owner:   c.s.Owner,
	}
	if st.Status != StatusStopped {
		st.Pid = c.s.Pid
	}
	return st
}

// stateJSON is the state passed to hooks on stdin.
func (c *Container) stateJSON(status string) []byte {
	st := specs.State{
		Version:     specs.Version,
		ID:          c.s.ID,
		Status:      specs.ContainerState(status),
		Pid:         c.s.Pid,
		Bundle:      c.s.Bundle,
		Annotations: c.s.Annotations,
	}
	if status == StatusStopped {
		st.Pid = 0
	}
	b, _ := json.Marshal(st)
	return b
}

func (c *Container) initAlive() bool {
	if c.s.Pid <= 0 {
		return false
	}
	start, state, err := procStat(c.s.Pid)
	if err != nil {
		return false
	}
	return start == c.s.PidStart && state != 'Z' && state != 'X'
}

// procStat reads a process's start time (in clock ticks since boot) and state letter, so that
// a recycled pid is not taken for our container.
func procStat(pid int) (uint64, byte, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+2:]))
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("bad /proc/%d/stat: %w", pid, err)
	}
	return start, fields[0][0], nil
}

// signalInit sends sig to init if it is still ours. Through a pidfd, so that a pid recycled
// between the check and the kill is never signalled.
func (c *Container) signalInit(sig unix.Signal) error {
	fd, err := unix.PidfdOpen(c.s.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("open pidfd of %d: %w", c.s.Pid, err)
	}
	defer unix.Close(fd)
	if !c.initAlive() {
		return ErrNotRunning
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("signal %d: %w", c.s.Pid, err)
	}
	return nil
}

// Rootfs returns the container's root filesystem path on the host.
func (c *Container) Rootfs() string { return c.s.Rootfs }

// CgroupPaths returns the container's cgroup directories by controller ("" on cgroup v2).
func (c *Container) CgroupPaths() map[string]string { return c.s.CgroupPaths }
