package oci

import (
	"context"
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/container"
)

// DefaultRoot is berth-runtime's state root, which the library shares: a container made by one
// can be managed by the other.
const DefaultRoot = "/run/berth-runtime"

// LibraryConfig configures the in-process runtime.
type LibraryConfig struct {
	// Root is the state root; default DefaultRoot.
	Root string
	// Exe is the binary the container's set-up runs in, one that links runtime/nsexec
	// (bin/berth-runtime); default this binary itself.
	Exe string
	// Rootless is berth-runtime's --rootless: cgroups that cannot be made are skipped.
	Rootless bool
	// Warn receives what the user should know that does not stop the container.
	Warn func(string)
}

// Library is runtime/container in this process.
type Library struct{ cfg LibraryConfig }

// NewLibrary returns the in-process runtime.
func NewLibrary(cfg LibraryConfig) *Library {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	return &Library{cfg: cfg}
}

var _ Runtime = (*Library)(nil)

// Name implements Runtime.
func (l *Library) Name() string { return "library" }

func (l *Library) load(ctx context.Context, id string) (*container.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return container.Load(l.cfg.Root, id)
}

// Create implements Runtime.
func (l *Library) Create(ctx context.Context, id string, o CreateOpts) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c, err := container.Create(container.CreateOpts{
		Root: l.cfg.Root, ID: id, Bundle: o.Bundle, PidFile: o.PidFile, ConsoleSocket: o.ConsoleSocket,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, Stdin: o.Stdin, Stdout: o.Stdout,
		Stderr: o.Stderr, Warn: l.cfg.Warn, Exe: l.cfg.Exe, Rootless: l.cfg.Rootless,
		ExtraFiles: o.ExtraFiles,
	})
	if err != nil {
		return 0, err
	}
	return c.Pid(), nil
}

// Start implements Runtime.
func (l *Library) Start(ctx context.Context, id string) error {
	c, err := l.load(ctx, id)
	if err != nil {
		return err
	}
	return c.Start()
}

// State implements Runtime.
func (l *Library) State(ctx context.Context, id string) (*State, error) {
	c, err := l.load(ctx, id)
	if err != nil {
		return nil, err
	}
	st := c.State()
	return &st, nil
}

// List implements Runtime.
func (l *Library) List(ctx context.Context) ([]State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cs, err := container.List(l.cfg.Root)
	if err != nil {
		return nil, err
	}
	out := make([]State, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.State())
	}
	return out, nil
}

// Kill implements Runtime.
func (l *Library) Kill(ctx context.Context, id string, sig unix.Signal, all bool) error {
	c, err := l.load(ctx, id)
	if err != nil {
		return err
	}
	return c.Kill(sig, all)
}

// Delete implements Runtime. With force, a container that does not exist is no error, as with
// runc.
func (l *Library) Delete(ctx context.Context, id string, force bool) error {
	c, err := l.load(ctx, id)
	if err != nil {
		if force && errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	}
	return c.Delete(force)
}

// Exec implements Runtime.
func (l *Library) Exec(ctx context.Context, id string, o ExecOpts) (int, error) {
	c, err := l.load(ctx, id)
	if err != nil {
		return 0, err
	}
	return c.Exec(container.ExecOpts{
		Process: o.Process, ConsoleSocket: o.ConsoleSocket, PidFile: o.PidFile,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Warn: l.cfg.Warn,
		ExtraFiles: o.ExtraFiles, Exe: l.cfg.Exe,
	})
}

// Pause implements Runtime.
func (l *Library) Pause(ctx context.Context, id string) error {
	c, err := l.load(ctx, id)
	if err != nil {
		return err
	}
	return c.Pause()
}

// Resume implements Runtime.
func (l *Library) Resume(ctx context.Context, id string) error {
	c, err := l.load(ctx, id)
	if err != nil {
		return err
	}
	return c.Resume()
}

// Update implements Runtime.
func (l *Library) Update(ctx context.Context, id string, r *specs.LinuxResources) error {
	c, err := l.load(ctx, id)
	if err != nil {
		return err
	}
	return c.UpdateResources(r)
}

// Ps implements Runtime.
func (l *Library) Ps(ctx context.Context, id string) ([]int, error) {
	c, err := l.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.Pids()
}

// OOMKills counts the container's processes the memory controller killed in this run. Unlike
// Stats it answers for a stopped container too, until it is deleted: that is when an engine
// asks, to tell an OOM kill from another death.
func (l *Library) OOMKills(ctx context.Context, id string) (uint64, error) {
	c, err := l.load(ctx, id)
	if err != nil {
		return 0, err
	}
	return c.OOMKills()
}

// Stats implements Runtime.
func (l *Library) Stats(ctx context.Context, id string) (*cgroups.Stats, error) {
	c, err := l.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status() == container.StatusStopped {
		return nil, container.Errorf(ErrNotRunning, "container with id %s is not running", id)
	}
	return c.Stats()
}

// oomPoll is how often Events reads the OOM kill count between stats: one small file, so that
// an "oom" event follows the kill closely.
const oomPoll = 100 * time.Millisecond

// Events implements Runtime.
func (l *Library) Events(ctx context.Context, id string, interval time.Duration, fn func(Event)) error {
	if interval <= 0 {
		return fmt.Errorf("events: interval must be positive, got %s", interval)
	}
	c, err := l.load(ctx, id)
	if err != nil {
		return err
	}
	if c.Status() == container.StatusStopped {
		return container.Errorf(ErrNotRunning, "container with id %s is not running", id)
	}
	// Kills from before the call are history, not events.
	seen, _ := c.OOMKills()
	checkOOM := func() {
		n, err := c.OOMKills()
		if err != nil {
			return
		}
		for ; seen < n; seen++ {
			fn(Event{Type: "oom", ID: id})
		}
	}
	stats := func() error {
		s, err := c.Stats()
		if err != nil {
			return err
		}
		fn(Event{Type: "stats", ID: id, Stats: s})
		return nil
	}
	if err := stats(); err != nil {
		return err
	}
	next := time.Now().Add(interval)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		t.Reset(min(oomPoll, time.Until(next)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		checkOOM()
		if c.Status() == container.StatusStopped {
			return nil
		}
		if !time.Now().Before(next) {
			// The cgroup may go with the container between the checks: that is its end.
			if err := stats(); err != nil && c.Status() != container.StatusStopped {
				return err
			}
			if next = next.Add(interval); time.Until(next) < 0 {
				next = time.Now().Add(interval)
			}
		}
	}
}
