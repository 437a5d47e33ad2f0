package container

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/console"
	"github.com/berth-dev/berth/runtime/nsexec"
)

// launchSpec is what create and exec both hand to the plan interpreter: stdio, the fds the
// process inherits, its terminal, and the binary that carries the nsexec constructor.
type launchSpec struct {
	stdin, stdout, stderr *os.File
	// inherited are the caller's own fds from 3 (--preserve-fds), passed on at the same
	// numbers; then come extraFiles, then own (create's exec fifo), then the console socket.
	inherited  []*os.File
	extraFiles []*os.File
	own        []*os.File
	terminal   bool
	// consoleSocket, or else openConsole, gives the connection the pty master is sent on.
	consoleSocket string
	openConsole   func() (*os.File, error)
	exe           string
	// first is the plan segment the interpreter starts with.
	first *nsexec.Plan
}

// ownFd is the fd at which the launched process finds own[i].
func (ls *launchSpec) ownFd(i int) int { return 3 + len(ls.inherited) + len(ls.extraFiles) + i }

// consoleFd is the fd of the console socket in the launched process, -1 without a terminal.
func (ls *launchSpec) consoleFd() int {
	if !ls.terminal {
		return -1
	}
	return ls.ownFd(len(ls.own))
}

// firstFreeFd is the first fd that is the runtime's, not the process's: closed at its exec.
func (ls *launchSpec) firstFreeFd() int { return ls.ownFd(0) }

// launchHooks are the steps that differ between create and exec.
type launchHooks struct {
	// userns writes the id maps of a child that unshared its user namespace (create only).
	userns func(child *nsexec.Child) error
	// forked is called once the container process exists and the intermediate is reaped: it
	// puts the process in its cgroups and returns the plan it runs next.
	forked func(pid int) (*nsexec.Plan, error)
	// untilExec: the launch is done when the process has exec'd (the sync socket, close-on-exec,
	// reads EOF), as for exec; otherwise when the plan reports Ready, as for create.
	untilExec bool
}

// launch is the one start path of create and exec: it lays out the inherited fds, connects the
// console socket, starts the interpreter and answers its messages until the process runs (or
// waits for start). It returns the container process's pid; on error nothing it started is
// left running.
func launch(ls launchSpec, h launchHooks) (pid int, err error) {
	files := make([]*os.File, 0, len(ls.inherited)+len(ls.extraFiles)+len(ls.own)+1)
	files = append(files, ls.inherited...)
	files = append(files, ls.extraFiles...)
	files = append(files, ls.own...)
	consoleFd := -1
	if ls.terminal {
		var f *os.File
		if ls.consoleSocket != "" {
			// Plain syscalls rather than package net: its init and resolver are not worth
			// their start-up cost in the runtime.
			if f, err = console.Dial(ls.consoleSocket); err != nil {
				return 0, err
			}
			defer f.Close()
		} else if f, err = ls.openConsole(); err != nil {
			// The caller keeps ownership of an OpenConsole file.
			return 0, fmt.Errorf("console socket: %w", err)
		}
		consoleFd = 3 + len(files)
		files = append(files, f)
	}
	if consoleFd != ls.consoleFd() {
		return 0, fmt.Errorf("console fd %d, planned %d", consoleFd, ls.consoleFd())
	}
	child, err := nsexec.Start(nsexec.Config{
		Stdin: ls.stdin, Stdout: ls.stdout, Stderr: ls.stderr, Files: files, Exe: ls.exe,
	}, ls.first)
	if err != nil {
		return 0, err
	}
	defer child.Close()
	defer func() {
		if err == nil {
			return
		}
		child.Kill()
		if pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, 0, nil)
		}
		pid = 0
	}()
	for {
		tag, payload, err := child.Next()
		if h.untilExec && pid > 0 && errors.Is(err, nsexec.ErrClosed) {
			return pid, nil
		}
		if err != nil {
			return pid, err
		}
		switch tag {
		case nsexec.TagUserns:
			if h.userns == nil {
				return pid, fmt.Errorf("unexpected message %q from container init", tag)
			}
			if err := h.userns(child); err != nil {
				return pid, err
			}
			// The child waits in its Sync op until its id maps are written.
			if err := child.Ack(); err != nil {
				return pid, err
			}
		case nsexec.TagPid:
			if pid > 0 {
				return pid, fmt.Errorf("unexpected second pid message from container init")
			}
			p, err := nsexec.PidPayload(payload)
			if err != nil {
				return pid, err
			}
			pid = p
			// The intermediate exits once it has forked; the container process talks on.
			if err := child.Wait(); err != nil {
				return pid, err
			}
			next, err := h.forked(pid)
			if err != nil {
				return pid, err
			}
			if err := child.Ack(); err != nil {
				return pid, err
			}
			if err := child.SendPlan(next); err != nil {
				return pid, err
			}
		case nsexec.TagReady:
			if h.untilExec || pid == 0 {
				return pid, fmt.Errorf("unexpected message %q from container init", tag)
			}
			return pid, nil
		default:
			return pid, fmt.Errorf("unexpected message %q from container init", tag)
		}
	}
}
