package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/container"
)

// multi is a repeatable string flag (--env, --cap, --additional-gids).
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func cmdExec(g *globals, args []string) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var processFile, consoleSocket, pidFile, cwd, user, ignored string
	var tty, detach, noNewPrivs, ignoreBool bool
	var preserveFds int
	var env, capsAdd, gids multi
	fs.StringVar(&processFile, "process", "", "path to a process.json")
	fs.StringVar(&processFile, "p", "", "path to a process.json")
	fs.StringVar(&consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	fs.StringVar(&pidFile, "pid-file", "", "write the process's pid here")
	fs.StringVar(&cwd, "cwd", "", "working directory in the container")
	fs.StringVar(&user, "user", "", "uid[:gid]")
	fs.StringVar(&user, "u", "", "uid[:gid]")
	fs.Var(&env, "env", "set an environment variable (repeatable)")
	fs.Var(&env, "e", "set an environment variable (repeatable)")
	fs.Var(&capsAdd, "cap", "add a capability (repeatable)")
	fs.Var(&capsAdd, "c", "add a capability (repeatable)")
	fs.Var(&gids, "additional-gids", "additional group ids (repeatable)")
	fs.Var(&gids, "g", "additional group ids (repeatable)")
	fs.BoolVar(&tty, "tty", false, "allocate a pseudo-terminal")
	fs.BoolVar(&tty, "t", false, "allocate a pseudo-terminal")
	fs.BoolVar(&detach, "detach", false, "do not wait for the process")
	fs.BoolVar(&detach, "d", false, "do not wait for the process")
	fs.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privs")
	fs.IntVar(&preserveFds, "preserve-fds", 0, "pass this many fds (from 3) to the process")
	var processLabel, apparmor string
	fs.StringVar(&processLabel, "process-label", "", "SELinux label (refused: not supported)")
	fs.StringVar(&apparmor, "apparmor", "", "AppArmor profile of the process")
	fs.StringVar(&ignored, "cgroup", "", "sub-cgroup to join (not supported)")
	fs.BoolVar(&ignoreBool, "ignore-paused", false, "accepted for compatibility")
	var prepare string
	fs.StringVar(&prepare, "prepare", "", "write the exec's prepared plan to this file instead of running it (berth-monitor's health checks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fmt.Errorf("exec: missing container id")
	}
	c, err := container.Load(g.root, rest[0])
	if err != nil {
		return err
	}
	var proc *specs.Process
	if processFile != "" {
		data, err := os.ReadFile(processFile)
		if err != nil {
			return fmt.Errorf("exec: read process: %w", err)
		}
		proc = &specs.Process{}
		if err := json.Unmarshal(data, proc); err != nil {
			return fmt.Errorf("exec: parse %s: %w", processFile, err)
		}
		if len(proc.Args) == 0 {
			return fmt.Errorf("exec: %s: args must not be empty", processFile)
		}
	} else {
		if len(rest) < 2 {
			return fmt.Errorf("exec: no command given")
		}
		// As runc does: the container's process is the template.
		spec, err := c.Spec()
		if err != nil {
			return err
		}
		base := *spec.Process
		proc = &base
		proc.Args = rest[1:]
		proc.Terminal = tty
		proc.Env = append(append([]string(nil), proc.Env...), env...)
		if cwd != "" {
			proc.Cwd = cwd
		}
		if user != "" {
			uid, gid, err := parseUser(user)
			if err != nil {
				return err
			}
			proc.User.UID, proc.User.GID = uid, gid
		}
		for _, gstr := range gids {
			n, err := strconv.ParseUint(gstr, 10, 32)
			if err != nil {
				return fmt.Errorf("exec: invalid additional gid %q", gstr)
			}
			proc.User.AdditionalGids = append(proc.User.AdditionalGids, uint32(n))
		}
		if noNewPrivs {
			proc.NoNewPrivileges = true
		}
		if len(capsAdd) > 0 && proc.Capabilities != nil {
			cp := *proc.Capabilities
			add := func(l []string) []string { return append(append([]string(nil), l...), capsAdd...) }
			cp.Bounding, cp.Effective, cp.Permitted = add(cp.Bounding), add(cp.Effective), add(cp.Permitted)
			proc.Capabilities = &cp
		}
	}
	// The runtime applies the AppArmor profile, and refuses an SELinux label with a clear error
	// rather than ignore it.
	if apparmor != "" {
		proc.ApparmorProfile = apparmor
	}
	if processLabel != "" {
		proc.SelinuxLabel = processLabel
	}
	if prepare != "" {
		return writeExecPlan(c, proc, prepare, func(s string) { g.logger.warnf("%s", s) })
	}
	if detach && proc.Terminal && consoleSocket == "" {
		return fmt.Errorf("exec: cannot allocate a tty for a detached process: --detach with a terminal needs --console-socket")
	}
	sigs := make(chan os.Signal, 32)
	if !detach {
		signal.Notify(sigs, forwardedSignals...)
	}
	opts := container.ExecOpts{
		Process: proc, ConsoleSocket: consoleSocket, PidFile: pidFile, PreserveFds: preserveFds,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Warn: func(s string) { g.logger.warnf("%s", s) },
	}
	var relay *consoleRelay
	if proc.Terminal && consoleSocket == "" && !detach {
		// As runc: in the foreground, a terminal without a console socket is ours to relay.
		relay = newConsoleRelay()
		opts.OpenConsole = relay.open
		// An exec'd process runs at once, before the relay could size the pty: the size goes
		// in with the process, so that what it asks first is already right.
		if proc.ConsoleSize == nil {
			proc.ConsoleSize = ownTermSize()
		}
	}
	pid, err := c.Exec(opts)
	if err != nil {
		relay.close()
		return err
	}
	if detach {
		return nil
	}
	if relay != nil {
		defer relay.restore()
		if err := relay.start(); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, 0, nil)
			return fmt.Errorf("exec: %w", err)
		}
		code := waitForward(pid, sigs, relay.resize)
		relay.drain()
		return exitError{code}
	}
	return exitError{waitForward(pid, sigs, nil)}
}

func parseUser(s string) (uint32, uint32, error) {
	us, gs, _ := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("exec: invalid user %q: want uid[:gid]", s)
	}
	var gid uint64
	if gs != "" {
		if gid, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("exec: invalid user %q: want uid[:gid]", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}
