package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/runtime/oci"
	"github.com/berth-dev/berth/snapshot/flock"
)

// StartOptions are the hooks of a start.
type StartOptions struct {
	// Created runs after the monitor has created the container and
	// before the runtime starts it: a foreground run attaches here, so
	// that it misses no output. Its error aborts the start.
	Created func(c Container) error
}

// StartError is a start that failed, with the exit status Docker's CLI
// gives it: 127 when the command was not found, 126 when it could not
// be run, 125 otherwise.
type StartError struct {
	Status int
	Err    error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// startStatus is Docker's mapping of a runtime's failure to an exit
// status.
func startStatus(msg string) int {
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		return 126
	}
	return 125
}

// lockContainer serialises start, stop's bookkeeping, rm and cleanup of
// one container among berth processes.
func (e *Engine) lockContainer(id string) (*flock.Lock, error) {
	l, err := flock.Acquire(filepath.Join(e.runRoot, "c", shortID(id)+".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", shortID(id), err)
	}
	return l, nil
}

// lockedContainer looks ref up, takes the container's lock and looks it
// up again under the lock (a start, stop or rm may have come between),
// so that the record returned is the current one; release drops the lock.
func (e *Engine) lockedContainer(ref string) (c Container, release func(), err error) {
	if c, err = e.LookupContainer(ref); err != nil {
		return c, nil, err
	}
	lock, err := e.lockContainer(c.ID)
	if err != nil {
		return c, nil, err
	}
	if c, err = e.LookupContainer(c.ID); err != nil {
		lock.Release()
		return c, nil, err
	}
	return c, func() { lock.Release() }, nil
}

// ociRuntime is the container's runtime for start, kill and delete. For
// berth-runtime that is its library in this process: the same code and
// state files as the binary, without an exec each (a few ms per
// command); other runtimes are driven through runc's command line. The
// create is always the binary's, run by the monitor.
func (e *Engine) ociRuntime(c *Container) (oci.Runtime, error) {
	if filepath.Base(c.RuntimePath) == "berth-runtime" && c.Runtime == "berth-runtime" {
		return oci.NewLibrary(oci.LibraryConfig{Root: e.ctrOpts.RuntimeRoot, Exe: c.RuntimePath}), nil
	}
	rt, err := oci.NewBinary(oci.BinaryConfig{Path: c.RuntimePath, Root: e.ctrOpts.RuntimeRoot, TempDir: filepath.Join(e.runRoot, "c")})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", shortID(c.ID), err)
	}
	return rt, nil
}

// StartContainer starts a created or stopped container under a new
// monitor. Starting a running container does nothing.
func (e *Engine) StartContainer(ctx context.Context, ref string, o StartOptions) (Container, error) {
	c, release, err := e.lockedContainer(ref)
	if err != nil {
		return c, err
	}
	defer release()
	if c.State == StateRunning || c.State == StateRestarting {
		return c, nil
	}
	// A start by the user begins the restart policy anew, as Docker's
	// does: count, back-off and the stop flags reset.
	c.RestartCount, c.Restart = 0, RestartState{}
	return e.start(ctx, c, o)
}

func (e *Engine) start(ctx context.Context, c Container, o StartOptions) (Container, error) {
	c.Restart.Waiter = nil
	done, err := e.intend(opStart, c.ID)
	if err != nil {
		return c, err
	}
	defer func() {
		done()
		os.Remove(e.intentPath(opCreate, c.ID)) // a run's (CreateOptions.KeepMounted)
	}()
	killPoint("start-intent")
	rt, err := e.ociRuntime(&c)
	if err != nil {
		return c, err
	}
	run := e.ctrRunDir(c.ID)
	if c.Monitor != nil {
		// The runtime's state of the last run, if cleanup did not come.
		if err := rt.Delete(ctx, c.ID, true); err != nil {
			return c, fmt.Errorf("start: clean up the last run: %w", err)
		}
	}
	if c.Pod != "" {
		// The pod's cgroup (gone after a reboot) and, for a member, the
		// infra whose namespaces it joins.
		if err := e.preparePodStart(ctx, &c); err != nil {
			return c, &StartError{Status: 125, Err: err}
		}
	}
	if err := os.MkdirAll(run, 0o700); err != nil {
		return c, fmt.Errorf("start: %w", err)
	}
	for _, f := range []string{"exit", "attach", "console.sock", "pid", "runtime.log", "health.json"} {
		os.Remove(filepath.Join(run, f))
	}
	if err := e.mountRootfs(c.ID, c.Snapshot); err != nil {
		return c, err
	}
	if err := e.mountShm(&c); err != nil {
		return c, err
	}
	attachNet, err := e.setupNetwork(ctx, &c)
	if err != nil {
		unmountRootfs(e.rootfsDir(c.ID))
		e.unmountShm(&c)
		return c, &StartError{Status: 125, Err: err}
	}
	// Until the monitor is spawned, a failure undoes what is made.
	undo := func(err error) (Container, error) {
		e.teardownNetwork(context.WithoutCancel(ctx), &c)
		unmountRootfs(e.rootfsDir(c.ID))
		e.unmountShm(&c)
		return c, err
	}
	if joinsContainer(c.Modes) {
		// The namespaces joined are another container's current process's.
		so := c.Options
		if err := e.resolveModes(&so, c.Modes); err != nil {
			return undo(err)
		}
		img, err := e.images.Resolve(c.Image)
		if err != nil {
			return undo(fmt.Errorf("start: image %s: %w", c.Image, err))
		}
		cfg, err := e.config(img)
		if err != nil {
			return undo(err)
		}
		res, err := spec.Generate(cfg, &so)
		if err != nil {
			return undo(err)
		}
		if err := writeSpec(e.bundleDir(c.ID), res, c.RuntimePath); err != nil {
			return undo(err)
		}
	}
	mon, err := e.monitorBinary()
	if err != nil {
		return undo(err)
	}
	var exitCmd []string
	if len(e.ctrOpts.ExitCommand) > 0 {
		exitCmd = append(append(exitCmd, e.ctrOpts.ExitCommand...), c.ID)
	}
	mo := monitor.Options{
		Binary: mon, Runtime: c.RuntimePath, RuntimeRoot: e.ctrOpts.RuntimeRoot,
		RuntimeLog: filepath.Join(run, "runtime.log"),
		ID:         c.ID, Bundle: e.bundleDir(c.ID),
		PidFile: filepath.Join(run, "pid"), ExitFile: e.exitFile(c.ID),
		AttachSocket: e.attachSocket(c.ID),
		Terminal:     c.Config.Tty, Stdin: c.Config.OpenStdin,
		LogDriver: c.Log.Driver, LogPath: c.Log.Path, LogMaxSize: c.Log.MaxSize, LogMaxFile: c.Log.MaxFile,
		ExitCommand: exitCmd,
		MonitorLog:  filepath.Join(run, "monitor.log"),
	}
	e.dnsMonitorOptions(&c, &mo)
	if c.Config.Tty {
		mo.ConsoleSocket = filepath.Join(run, "console.sock")
	}
	// The plugins run while the monitor has the runtime create the
	// container; its process starts only once they are done (waitNet).
	var netDone chan error
	waitNet := func() error {
		if netDone == nil {
			return nil
		}
		err := <-netDone
		netDone = nil
		return err
	}
	fail := func(err error) (Container, error) {
		waitNet()
		msg := err.Error()
		var ce *monitor.CreateError
		if errors.As(err, &ce) && ce.Message == "" {
			msg = fmt.Sprintf("runtime %s create failed with status %d", c.Runtime, ce.Status)
		}
		// Best effort: a half-created container must not stay in the
		// runtime; the record says why the start failed.
		rt.Delete(context.WithoutCancel(ctx), c.ID, true)
		e.teardownNetwork(context.WithoutCancel(ctx), &c)
		unmountRootfs(e.rootfsDir(c.ID))
		e.unmountShm(&c)
		c.State, c.PID, c.PIDStart, c.Error = StateStopped, 0, 0, msg
		if c.Started.IsZero() {
			c.State = StateCreated
		} else {
			c.Finished, c.ExitCode = time.Now().UTC(), startStatus(msg)
		}
		if c.Monitor != nil && !monitor.Alive(c.Monitor.Pid, c.Monitor.StartTime) {
			c.Monitor = nil
		}
		e.PutContainer(c)
		return c, &StartError{Status: startStatus(msg), Err: errors.New(msg)}
	}
	if mo.Health, err = e.healthOptions(&c); err != nil {
		return fail(err)
	}
	killPoint("start-mounted")
	if attachNet != nil {
		netDone = make(chan error, 1)
		go func() { netDone <- attachNet() }()
	}
	p, err := monitor.Spawn(ctx, mo)
	if err != nil {
		return fail(err)
	}
	if err := waitNet(); err != nil {
		// As a record that could not be written: the created init goes.
		c.Monitor = p
		syscall.Kill(p.InitPid, syscall.SIGKILL)
		c, _ = fail(err)
		return c, &StartError{Status: 125, Err: err}
	}
	killPoint("start-spawned")
	c.State, c.PID, c.Monitor, c.Paused = StateRunning, p.InitPid, p, false
	c.PIDStart = p.InitStartTime
	c.Started, c.Finished, c.ExitCode, c.ExitUnknown, c.Error, c.OOMKilled = time.Now().UTC(), time.Time{}, 0, false, "", false
	if err := e.PutContainer(c); err != nil {
		syscall.Kill(p.InitPid, syscall.SIGKILL)
		return fail(err)
	}
	killPoint("start-recorded")
	if o.Created != nil {
		if err := o.Created(c); err != nil {
			syscall.Kill(p.InitPid, syscall.SIGKILL)
			return fail(err)
		}
	}
	// Before the start, not after it: once the process runs, any berth
	// process may see it exit and write its die, which must come after.
	// (A start that fails still ends the run the record began, with a die.)
	e.emitContainer(&c, "start", nil)
	if err := rt.Start(ctx, c.ID); err != nil {
		return fail(err)
	}
	killPoint("start-started")
	return c, nil
}

func joinsContainer(m NamespaceModes) bool {
	for _, v := range []string{m.PID, m.IPC, m.UTS, m.Network, m.Cgroup} {
		if strings.HasPrefix(v, "container:") {
			return true
		}
	}
	return false
}
