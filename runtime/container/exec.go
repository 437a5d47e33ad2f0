package container

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/nsexec"
)

// ExecOpts are the options of `exec`.
type ExecOpts struct {
	Process               *specs.Process
	ConsoleSocket         string
	PidFile               string
	PreserveFds           int
	Stdin, Stdout, Stderr *os.File
	Warn                  func(string)
	// OpenConsole is as in CreateOpts: with a terminal and no ConsoleSocket, the socket the pty
	// master is sent on.
	OpenConsole func() (*os.File, error)
	// ExtraFiles and Exe are as in CreateOpts.
	ExtraFiles []*os.File
	Exe        string
}

// nsFiles names each namespace type's file under /proc/PID/ns.
var nsFiles = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// Exec starts another process in the container: it joins every namespace and the cgroups of
// the container's init. It returns the process's pid once the process has exec'd (it is a child
// of the caller, which may wait for it).
func (c *Container) Exec(o ExecOpts) (int, error) {
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	switch st := c.Status(); st {
	case StatusRunning, StatusCreated:
	case StatusPaused:
		return 0, errorf(ErrPaused, "cannot exec in a paused container %s", c.s.ID)
	default:
		return 0, errorf(ErrNotRunning, "cannot exec in a stopped container %s", c.s.ID)
	}
	proc := o.Process
	if proc == nil || len(proc.Args) == 0 {
		return 0, errors.New("exec: process args must not be empty")
	}
	if proc.Terminal && o.ConsoleSocket == "" && o.OpenConsole == nil {
		return 0, errors.New("exec: a terminal needs --console-socket")
	}
	if !proc.Terminal && o.ConsoleSocket != "" {
		return 0, errors.New("exec: --console-socket needs --tty")
	}
	if err := checkUser(proc.User, "process.user"); err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	if err := checkLSM(proc, ""); err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	spec, err := c.spec()
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	// Hold the namespaces open through the init's pidfd-checked /proc entries: the joins below
	// name /proc/PID/ns/*, and initAlive guards against a recycled pid.
	pid := c.s.Pid
	if proc.ApparmorProfile != "" {
		if err := appArmorProcMounted(pid, proc.ApparmorProfile); err != nil {
			return 0, fmt.Errorf("exec: %w", err)
		}
	}
	var first nsexec.Plan
	order := joinOrder
	for _, t := range order {
		if _, ok := hasNS(spec, t); !ok {
			continue
		}
		first.Setns(fmt.Sprintf("/proc/%d/ns/%s", pid, nsFiles[t]), nsFlags[t])
	}
	if !c.initAlive() {
		return 0, errorf(ErrNotRunning, "cannot exec in a stopped container %s", c.s.ID)
	}
	first.Fork()
	first.ReadPlan()

	files, err := passedFiles(o.PreserveFds, "--preserve-fds")
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	ls := launchSpec{
		stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr,
		inherited: files, extraFiles: o.ExtraFiles,
		terminal: proc.Terminal, consoleSocket: o.ConsoleSocket, openConsole: o.OpenConsole,
		exe: o.Exe, first: &first,
	}
	in := &planInput{spec: spec, consoleFd: ls.consoleFd(), firstFreeFd: ls.firstFreeFd(), warn: o.Warn, keyring: c.keyringName()}
	in.noSetgroups = setgroupsDenied(pid)
	execPid, err := launch(ls, launchHooks{
		untilExec: true,
		forked: func(execPid int) (*nsexec.Plan, error) {
			// A rootless container may have no cgroup to join.
			if len(c.s.CgroupPaths) > 0 {
				cg, err := cgroups.Load(c.s.CgroupPaths)
				if err == nil {
					err = cg.Apply(execPid)
				}
				if err != nil {
					return nil, fmt.Errorf("exec: join cgroup: %w", err)
				}
			}
			var p nsexec.Plan
			if c.s.HostMounts {
				// No mount namespace to join: enter the rootfs as the init did.
				p.ChrootInPlace(c.s.Rootfs)
			}
			if err := processPlan(&p, in, proc, false); err != nil {
				return nil, err
			}
			return &p, nil
		},
	})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", c.s.ID, err)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, execPid); err != nil {
			return execPid, err
		}
	}
	return execPid, nil
}
