package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/hooks"
	"github.com/berth-dev/berth/runtime/nsexec"
)

// CreateOpts are the options of `create` (and of `run`).
type CreateOpts struct {
	Root          string // state root, e.g. /run/berth-runtime
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	PreserveFds   int
	// ListenFds descriptors from 3 up (systemd socket activation, see ListenFds) go to the
	// container first, its process gets LISTEN_FDS and LISTEN_PID=1, and the PreserveFds
	// follow them, as with runc.
	ListenFds int
	// NoNewKeyring keeps the caller's session keyring instead of one of the container's own.
	NoNewKeyring bool
	// Stdio of the container process when it has no terminal.
	Stdin, Stdout, Stderr *os.File
	// Warn reports something the user should know that does not stop the container.
	Warn func(string)
	// Debug, when set, receives the time each phase of create took (for --debug and profiling).
	Debug func(string)
	// Exe is the binary that carries the nsexec constructor; default /proc/self/exe.
	Exe string
	// Rootless (runc's --rootless): cgroups that cannot be created are skipped, as long as the
	// spec asks for no resource limits, and device rules are not set.
	Rootless bool
	// OpenConsole, when the process has a terminal and no ConsoleSocket is given, is called for
	// a connected unix socket to send the pty master on instead (run uses one end of a
	// socketpair to relay the terminal itself). The caller keeps ownership of the file.
	OpenConsole func() (*os.File, error)
	// ExtraFiles are passed to the container process at fds 3+PreserveFds, 3+PreserveFds+1, ...:
	// for a library caller, whose own fds from 3 are not the container's.
	ExtraFiles []*os.File
}

// Create creates a container from a bundle: its process waits for Start.
func Create(o CreateOpts) (c *Container, err error) {
	if err := CheckID(o.ID); err != nil {
		return nil, err
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle path: %w", err)
	}
	start := time.Now()
	phase := func(name string) {
		if o.Debug != nil {
			o.Debug(fmt.Sprintf("create %s: %s at %s", o.ID, name, time.Since(start)))
		}
	}
	spec, rawSpec, err := loadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if o.ListenFds < 0 {
		return nil, fmt.Errorf("LISTEN_FDS %d: must not be negative", o.ListenFds)
	}
	passed := o.ListenFds + o.PreserveFds
	files, err := passedFiles(passed, "--preserve-fds")
	if err != nil {
		return nil, err
	}
	if o.ListenFds > 0 {
		spec.Process.Env = append(spec.Process.Env, "LISTEN_FDS="+strconv.Itoa(o.ListenFds), "LISTEN_PID=1")
	}
	mountLabel := spec.Linux.MountLabel
	if mountLabel != "" && !selinuxEnabled() {
		// Without SELinux there is nothing to label a mount with, and nothing the label would
		// confine: crun and runc go on, and so do we (a process label stays an error, since the
		// process would then run unconfined).
		o.Warn(fmt.Sprintf("linux.mountLabel %q ignored: SELinux is not enabled on this host", mountLabel))
		mountLabel = ""
	}
	if err := checkLSM(spec.Process, mountLabel); err != nil {
		return nil, err
	}
	if err := appArmorNeedsProc(spec); err != nil {
		return nil, err
	}
	if spec.Process.Terminal && o.ConsoleSocket == "" && o.OpenConsole == nil {
		return nil, errors.New("process.terminal is true but no --console-socket was given: cannot allocate a tty for a detached container")
	}
	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket was given but process.terminal is false")
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	if err := os.MkdirAll(o.Root, 0o711); err != nil {
		if errors.Is(err, os.ErrPermission) && os.Geteuid() != 0 {
			return nil, fmt.Errorf("state root %s: %w (as a non-root user set XDG_RUNTIME_DIR or pass --root)", o.Root, err)
		}
		return nil, fmt.Errorf("state root %s: %w", o.Root, err)
	}
	dir := filepath.Join(o.Root, o.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, errorf(ErrExist, "container with id %s already exists", o.ID)
		}
		if errors.Is(err, os.ErrPermission) && os.Geteuid() != 0 {
			return nil, fmt.Errorf("state dir: %w (as a non-root user set XDG_RUNTIME_DIR or pass --root)", err)
		}
		return nil, fmt.Errorf("state dir: %w", err)
	}
	c = &Container{root: o.Root, dir: dir, warn: o.Warn, s: saved{
		ID: o.ID, Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(),
		Annotations: spec.Annotations, Spec: spec, RawSpec: rawSpec, Hooks: spec.Hooks, Owner: "", NoNewKeyring: o.NoNewKeyring,
	}}
	var cg cgroups.Manager
	// The error returns set the named result c to nil: clean up through our own reference.
	created := c
	defer func() {
		if err == nil {
			return
		}
		if created.s.Pid > 0 {
			_ = unix.Kill(created.s.Pid, unix.SIGKILL)
			var ws unix.WaitStatus
			_, _ = unix.Wait4(created.s.Pid, &ws, 0, nil)
		}
		if cg != nil {
			_ = cg.Destroy()
		}
		if created.s.HostMounts {
			_ = unmountUnder(created.s.Rootfs, created.s.KeepMounts)
			if created.s.RestoreRootfsRW {
				_ = restoreRW(created.s.Rootfs)
			}
		}
		_ = os.RemoveAll(dir)
	}()

	phase("spec loaded")
	cg, err = cgroups.Open(spec.Linux.CgroupsPath, o.ID)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	res := &specs.LinuxResources{}
	if spec.Linux.Resources != nil {
		r := *spec.Linux.Resources
		res = &r
	}
	res.Devices = deviceRules(spec)
	cgroupV2 := cg.Version() == 2
	if o.Rootless {
		if cg, err = rootlessCgroup(cg, res, o.Debug); err != nil {
			return nil, err
		}
	} else if err := cg.Create(res); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	if cg != nil {
		c.s.CgroupPaths = cg.Paths()
	}
	rootfsIsMount := false
	if _, hasMnt := hasNS(spec, specs.MountNamespace); !hasMnt {
		if c.s.KeepMounts, rootfsIsMount, err = mountIDsUnder(rootfs); err != nil {
			return nil, err
		}
		c.s.HostMounts = true
		c.s.RestoreRootfsRW = rootfsIsMount && spec.Root.Readonly && lockedFlags(rootfs)&unix.MS_RDONLY == 0
	}
	// Saved now, before any process exists, so that if this runtime is killed mid-create a
	// later `delete` still finds the cgroups and state to remove.
	if err := c.save(); err != nil {
		return nil, err
	}

	fifoPath := filepath.Join(dir, fifoFile)
	if err := unix.Mkfifo(fifoPath, 0o600); err != nil {
		return nil, fmt.Errorf("exec fifo: %w", err)
	}
	// Opened read-write, so the open does not block and the container's read waits for the
	// byte that `start` writes.
	fifo, err := os.OpenFile(fifoPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("exec fifo: %w", err)
	}
	defer fifo.Close()

	ls := launchSpec{
		stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr,
		inherited: files, extraFiles: o.ExtraFiles, own: []*os.File{fifo},
		terminal: spec.Process.Terminal, consoleSocket: o.ConsoleSocket, openConsole: o.OpenConsole,
		exe: o.Exe,
	}
	in := &planInput{
		spec: spec, rootfs: rootfs, bundle: bundle, noPivot: o.NoPivot,
		fifoFd: ls.ownFd(0), consoleFd: ls.consoleFd(), firstFreeFd: ls.firstFreeFd(),
		cgroupPaths: c.s.CgroupPaths, cgroupV2: cgroupV2, warn: o.Warn,
		keyring: c.keyringName(), rootfsIsMount: rootfsIsMount,
	}
	ls.first = firstPlan(in)
	phase("cgroups created")
	_, err = launch(ls, launchHooks{
		userns: func(child *nsexec.Child) error { return writeIDMaps(child.Pid, spec) },
		forked: func(pid int) (*nsexec.Plan, error) {
			c.s.Pid = pid
			var err error
			if c.s.PidStart, _, err = procStat(pid); err != nil {
				return nil, fmt.Errorf("container process %d: %w", pid, err)
			}
			phase("container process forked")
			in.selfAttach = selfAttachFiles(spec, c.s.CgroupPaths, in.cgroupV2)
			if len(in.selfAttach) == 0 && cg != nil {
				if err := cg.Apply(pid); err != nil {
					return nil, fmt.Errorf("cgroup: %w", err)
				}
			}
			phase("container process in its cgroups")
			if spec.Process.OOMScoreAdj != nil {
				if err := setOOMScoreAdj(pid, *spec.Process.OOMScoreAdj); err != nil {
					return nil, err
				}
			}
			c.s.NsPaths = nsPaths(pid, spec)
			//lint:ignore SA1019 prestart is deprecated but still part of the spec: runtimes must run it.
			if spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0) {
				// Prestart hooks see status "created", as the validation suite and crun have it;
				// createRuntime hooks run during create proper ("creating").
				//lint:ignore SA1019 prestart is deprecated but still part of the spec: runtimes must run it.
				if err := hooks.Run("prestart", spec.Hooks.Prestart, c.stateJSON(StatusCreated)); err != nil {
					return nil, err
				}
				if err := hooks.Run("createRuntime", spec.Hooks.CreateRuntime, c.stateJSON(StatusCreating)); err != nil {
					return nil, err
				}
			}
			if spec.Hooks != nil && (len(spec.Hooks.CreateContainer) > 0 || len(spec.Hooks.StartContainer) > 0) {
				// Only hooks read it: encoding the state costs a reflective encoder set-up.
				in.createCtrHook = c.stateJSON(StatusCreated)
			}
			in.noSetgroups = setgroupsDenied(pid)
			if ns, ok := hasNS(spec, specs.MountNamespace); ok && ns.Path != "" {
				// The process has joined the namespace: its /proc root is that namespace's.
				in.joinedSeesRootfs = sameDir(rootfs, "/proc/"+strconv.Itoa(pid)+"/root"+rootfs)
			}
			return secondPlan(in)
		},
	})
	if err != nil {
		// launch killed and reaped the process it started.
		c.s.Pid = 0
		return nil, err
	}
	phase("container ready")
	if err := c.save(); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, c.s.Pid); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

func setOOMScoreAdj(pid, v int) error {
	path := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
	if err := os.WriteFile(path, []byte(strconv.Itoa(v)), 0); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("set oom_score_adj to %d: %w (lowering it needs CAP_SYS_RESOURCE)", v, err)
		}
		return fmt.Errorf("set oom_score_adj to %d: %w", v, err)
	}
	return nil
}

// nsPaths records where the container's namespaces can be joined (for exec and for runc's
// state, which tools read).
func nsPaths(pid int, spec *specs.Spec) map[string]string {
	names := map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
		specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
		specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
	}
	out := map[string]string{}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path != "" {
			out[string(ns.Type)] = ns.Path
		} else {
			out[string(ns.Type)] = fmt.Sprintf("/proc/%d/ns/%s", pid, names[ns.Type])
		}
	}
	return out
}

// Start lets a created container run its process.
func (c *Container) Start() error {
	switch st := c.Status(); st {
	case StatusCreated:
	case StatusStopped:
		return errorf(ErrNotRunning, "cannot start a container that has stopped")
	case StatusPaused:
		return errorf(ErrPaused, "cannot start a container in the paused state")
	default:
		return errorf(ErrNotCreated, "cannot start an already %s container", st)
	}
	h := c.hooks()
	poststart := h != nil && len(h.Poststart) > 0
	fifoPath := filepath.Join(c.dir, fifoFile)
	// A reader of our own, opened before our write: it sees the FIFO hang up once every writer
	// is gone, and the container process holds it until the exec of the user process closes it
	// (or until it dies). It never reads: the byte below is the container's.
	hup, err := os.OpenFile(fifoPath, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer hup.Close()
	f, err := os.OpenFile(fifoPath, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ENXIO) {
			return errorf(ErrNotRunning, "cannot start container %s: its process has exited", c.s.ID)
		}
		return fmt.Errorf("open exec fifo: %w", err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("signal start: %w", err)
	}
	if err := os.Remove(fifoPath); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	// Start returns once the user process has started: poststart hooks must run only then, and
	// a caller's next command (a kill) then meets the user's process, not the runtime's code
	// before the exec. Bounded, as a safety net.
	if poststart {
		waitHangup(hup, 5*time.Second)
		c.waitSettled(20 * time.Millisecond)
		hooks.RunAll("poststart", h.Poststart, c.stateJSON(StatusRunning), c.warn)
	} else {
		waitHangup(hup, time.Second)
	}
	return nil
}

// waitHangup waits until the FIFO f has no writer left, or timeout passes.
func waitHangup(f *os.File, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	// Events 0: poll reports POLLHUP (and errors) whatever is asked, and never the data.
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: 0}}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n > 0 {
			return
		}
	}
}

// waitSettled gives the user process, just exec'd, a moment to run up to its first wait (or its
// exit) before poststart hooks run: hooks then see what a short start-up did (the OCI suite's
// poststart test wants the process's first write before the hook's). At most timeout, so a
// process that computes without sleeping delays the hooks by that much only.
func (c *Container) waitSettled(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for d := 20 * time.Microsecond; time.Now().Before(deadline); d = min(2*d, time.Millisecond) {
		_, state, err := procStat(c.s.Pid)
		if err != nil || (state != 'R' && state != 'D') {
			return
		}
		time.Sleep(d)
	}
}

// Kill sends sig to the container's init, or with all to every process in its cgroup.
func (c *Container) Kill(sig unix.Signal, all bool) error {
	st := c.Status()
	if st == StatusStopped && !all {
		return ErrNotRunning
	}
	if all {
		// As runc: --all signals whatever is left in the cgroup even once init has exited.
		// The containerd shim relies on it to kill an exited container's leftover processes
		// when there is no pid namespace to do so; with no cgroup left there is nothing to do.
		if len(c.s.CgroupPaths) == 0 {
			// A rootless container without a cgroup: its processes are found by pid namespace.
			if st == StatusStopped {
				return nil
			}
			pids, err := c.Pids()
			if err != nil {
				return fmt.Errorf("list processes: %w", err)
			}
			for _, pid := range pids {
				if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("signal %d: %w", pid, err)
				}
			}
			return nil
		}
		cg, err := cgroups.Load(c.s.CgroupPaths)
		if err != nil {
			if st == StatusStopped {
				return nil
			}
			return fmt.Errorf("cgroup: %w", err)
		}
		pids, err := cg.Pids()
		if err != nil {
			if st == StatusStopped {
				return nil
			}
			return fmt.Errorf("list processes: %w", err)
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("signal %d: %w", pid, err)
			}
		}
		// A frozen process only acts on SIGKILL once thawed.
		if st == StatusPaused && sig == unix.SIGKILL {
			_ = cg.Thaw()
		}
		return nil
	}
	if err := c.signalInit(sig); err != nil {
		return err
	}
	// As runc does: a frozen init acts on SIGKILL only once thawed.
	if st == StatusPaused && sig == unix.SIGKILL {
		if cg, err := cgroups.Load(c.s.CgroupPaths); err == nil {
			_ = cg.Thaw()
		}
	}
	return nil
}

// Delete removes a stopped container (or any container with force): its processes, cgroups
// and state, then runs the poststop hooks.
func (c *Container) Delete(force bool) error {
	st := c.Status()
	switch st {
	case StatusStopped:
	case StatusCreated:
		// A container that never started can always be deleted, as with runc.
		_ = c.signalInit(unix.SIGKILL)
	default:
		if !force {
			return errorf(ErrNotStopped, "cannot delete container %s that is not stopped: %s", c.s.ID, st)
		}
		if err := c.Kill(unix.SIGKILL, true); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		_ = c.signalInit(unix.SIGKILL)
	}
	if st != StatusStopped {
		if err := c.waitDead(10 * time.Second); err != nil {
			return err
		}
	}
	var errs []error
	if len(c.s.CgroupPaths) > 0 {
		cg, err := cgroups.Load(c.s.CgroupPaths)
		if err == nil {
			// Stray processes of a container without its own pid namespace outlive init.
			if pids, _ := cg.Pids(); len(pids) > 0 {
				for _, p := range pids {
					_ = unix.Kill(p, unix.SIGKILL)
				}
			}
			err = cg.Destroy()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	if c.s.HostMounts {
		if err := unmountUnder(c.s.Rootfs, c.s.KeepMounts); err != nil {
			errs = append(errs, fmt.Errorf("remove rootfs mounts: %w", err))
		}
		if c.s.RestoreRootfsRW {
			if err := restoreRW(c.s.Rootfs); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if h := c.hooks(); h != nil && len(h.Poststop) > 0 {
		// The spec says poststop failures are logged, and deletion goes on.
		hooks.RunAll("poststop", h.Poststop, c.stateJSON(StatusStopped), c.warn)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove state: %w", err))
	}
	return errors.Join(errs...)
}

func (c *Container) waitDead(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for c.initAlive() {
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s: process %d did not die", c.s.ID, c.s.Pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// Pause freezes every process of the container.
func (c *Container) Pause() error {
	if st := c.Status(); st != StatusRunning {
		return errorf(ErrNotRunning, "container %s is %s, not running", c.s.ID, st)
	}
	if len(c.s.CgroupPaths) == 0 {
		return fmt.Errorf("cannot pause container %s: %w", c.s.ID, ErrNoCgroup)
	}
	cg, err := cgroups.Load(c.s.CgroupPaths)
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if st := c.Status(); st != StatusPaused {
		return errorf(ErrNotPaused, "container %s is %s, not paused", c.s.ID, st)
	}
	if len(c.s.CgroupPaths) == 0 {
		return fmt.Errorf("cannot resume container %s: %w", c.s.ID, ErrNoCgroup)
	}
	cg, err := cgroups.Load(c.s.CgroupPaths)
	if err != nil {
		return err
	}
	return cg.Thaw()
}

func (c *Container) frozen() bool {
	if p := c.s.CgroupPaths["freezer"]; p != "" {
		b, err := os.ReadFile(filepath.Join(p, "freezer.state"))
		return err == nil && strings.TrimSpace(string(b)) == "FROZEN"
	}
	if p := c.s.CgroupPaths[""]; p != "" {
		b, err := os.ReadFile(filepath.Join(p, "cgroup.freeze"))
		return err == nil && strings.TrimSpace(string(b)) == "1"
	}
	return false
}
