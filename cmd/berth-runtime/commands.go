package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/container"
)

type createFlags struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring          bool
	preserveFds                    int
}

func (f *createFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.bundle, "bundle", ".", "path to the bundle")
	fs.StringVar(&f.bundle, "b", ".", "path to the bundle")
	fs.StringVar(&f.pidFile, "pid-file", "", "write the container process's pid here")
	fs.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	fs.BoolVar(&f.noPivot, "no-pivot", false, "use chroot instead of pivot_root")
	fs.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
	fs.IntVar(&f.preserveFds, "preserve-fds", 0, "pass this many fds (from 3) to the container")
}

func (f *createFlags) opts(g *globals, id string) container.CreateOpts {
	return container.CreateOpts{
		Root: g.root, ID: id, Bundle: f.bundle, PidFile: f.pidFile, ConsoleSocket: f.consoleSocket,
		NoPivot: f.noPivot, PreserveFds: f.preserveFds, NoNewKeyring: f.noNewKeyring,
		ListenFds: container.ListenFds(),
		Stdin:     os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Warn:     func(s string) { g.logger.warnf("%s", s) },
		Debug:    g.logger.debugFunc(),
		Rootless: g.rootless,
	}
}

func cmdCreate(g *globals, args []string) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	var f createFlags
	f.register(fs)
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	_, err = container.Create(f.opts(g, rest[0]))
	return err
}

// loadOnly parses the arguments of a command that takes only an ID and loads the container.
func loadOnly(g *globals, name string, args []string) (*container.Container, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return nil, err
	}
	return container.Load(g.root, rest[0])
}

func cmdStart(g *globals, args []string) error {
	c, err := loadOnly(g, "start", args)
	if err != nil {
		return err
	}
	c.SetWarn(func(s string) { g.logger.warnf("%s", s) })
	return c.Start()
}

func cmdRun(g *globals, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f createFlags
	f.register(fs)
	var detach, keep bool
	fs.BoolVar(&detach, "detach", false, "do not wait for the container")
	fs.BoolVar(&detach, "d", false, "do not wait for the container")
	fs.BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	// Forward signals from the moment the container exists; catching them before create
	// means none is lost in between.
	sigs := make(chan os.Signal, 32)
	if !detach {
		signal.Notify(sigs, forwardedSignals...)
	}
	t0 := time.Now()
	opts := f.opts(g, rest[0])
	var relay *consoleRelay
	if !detach && f.consoleSocket == "" {
		// As runc: in the foreground, a terminal without a console socket is ours to relay.
		// Create calls OpenConsole only if the process has a terminal.
		relay = newConsoleRelay()
		opts.OpenConsole = relay.open
	}
	c, err := container.Create(opts)
	if err != nil {
		relay.close()
		return err
	}
	if relay.opened() {
		defer relay.restore()
		if err := relay.start(); err != nil {
			_ = c.Delete(true)
			return fmt.Errorf("run %s: %w", c.ID(), err)
		}
	} else {
		relay = nil
	}
	if err := c.Start(); err != nil {
		_ = c.Delete(true)
		return err
	}
	g.logger.debugf("run %s: started at %s", c.ID(), time.Since(t0))
	if detach {
		return nil
	}
	var winch func()
	if relay != nil {
		winch = relay.resize
	}
	code := waitForward(c.Pid(), sigs, winch)
	relay.drain()
	g.logger.debugf("run %s: exited at %s", c.ID(), time.Since(t0))
	if !keep {
		if err := c.Delete(true); err != nil {
			g.logger.warnf("delete %s: %v", c.ID(), err)
		}
	}
	g.logger.debugf("run %s: deleted at %s", c.ID(), time.Since(t0))
	return exitError{code}
}

// forwardedSignals are passed on to the container process by `run` and `exec`. Not every signal:
// each one the Go runtime installs (and each it restores) costs a round of thread synchronisation,
// and catching all of them added ~25 ms to every run. The process exits straight after, so the
// handlers are never uninstalled.
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGWINCH, unix.SIGCONT, unix.SIGALRM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
}

// waitForward waits for the container process (our child: it was cloned with CLONE_PARENT)
// and passes on the signals we receive meanwhile. It returns the exit status as a shell would.
// With winch set, SIGWINCH calls it instead of being passed on: a relayed pty is resized, and the
// kernel signals the process itself, as with runc.
func waitForward(pid int, sigs chan os.Signal, winch func()) int {
	done := make(chan int, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				done <- 255
				return
			}
			break
		}
		if ws.Signaled() {
			done <- 128 + int(ws.Signal())
			return
		}
		done <- ws.ExitStatus()
	}()
	for {
		select {
		case code := <-done:
			return code
		case s := <-sigs:
			sig, ok := s.(unix.Signal)
			if !ok || sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGPIPE {
				continue
			}
			if sig == unix.SIGWINCH && winch != nil {
				winch()
				continue
			}
			_ = unix.Kill(pid, sig)
		}
	}
}

func cmdState(g *globals, args []string) error {
	fs := flag.NewFlagSet("state", flag.ContinueOnError)
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := container.Load(g.root, rest[0])
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(c.State(), "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", b)
	return nil
}

func cmdKill(g *globals, args []string) error {
	fs := flag.NewFlagSet("kill", flag.ContinueOnError)
	var all bool
	fs.BoolVar(&all, "all", false, "signal every process of the container")
	fs.BoolVar(&all, "a", false, "signal every process of the container")
	rest, err := parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	sig := unix.SIGTERM
	if len(rest) == 2 {
		if sig, err = parseSignal(rest[1]); err != nil {
			return err
		}
	}
	c, err := container.Load(g.root, rest[0])
	if err != nil {
		return err
	}
	return c.Kill(sig, all)
}

// parseSignal accepts runc's forms: "9", "KILL", "SIGKILL", any case.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	return sig, nil
}

func cmdDelete(g *globals, args []string) error {
	fs := flag.NewFlagSet("delete", flag.ContinueOnError)
	var force bool
	fs.BoolVar(&force, "force", false, "kill the container if it is running")
	fs.BoolVar(&force, "f", false, "kill the container if it is running")
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := container.Load(g.root, rest[0])
	if err != nil {
		// runc with --force succeeds for a container that is already gone; a state dir
		// left without its state by a runtime killed early in create goes too.
		if force && errors.Is(err, container.ErrNotExist) {
			if container.CheckID(rest[0]) == nil {
				_ = os.RemoveAll(filepath.Join(g.root, rest[0]))
			}
			return nil
		}
		return err
	}
	c.SetWarn(func(s string) { g.logger.warnf("%s", s) })
	return c.Delete(force)
}

// listEntry is runc's `list --format json` shape.
type listEntry struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func cmdList(g *globals, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	var format string
	var quiet bool
	fs.StringVar(&format, "format", "table", "table or json")
	fs.StringVar(&format, "f", "table", "table or json")
	fs.BoolVar(&quiet, "quiet", false, "print only ids")
	fs.BoolVar(&quiet, "q", false, "print only ids")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cs, err := container.List(g.root)
	if err != nil {
		return err
	}
	if quiet {
		for _, c := range cs {
			fmt.Println(c.ID())
		}
		return nil
	}
	entries := make([]listEntry, 0, len(cs))
	for _, c := range cs {
		st := c.State()
		entries = append(entries, listEntry{
			ID: c.ID(), Pid: st.Pid, Status: string(st.Status), Bundle: c.Bundle(),
			Rootfs: c.Rootfs(), Created: c.Created(), Annotations: st.Annotations, Owner: st.Owner,
		})
	}
	switch format {
	case "json":
		b, err := json.Marshal(entries)
		if err != nil {
			return err
		}
		fmt.Printf("%s\n", b)
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, e := range entries {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle, e.Created.Format(time.RFC3339Nano), e.Owner)
		}
		return w.Flush()
	default:
		return fmt.Errorf("invalid format %q (table or json)", format)
	}
	return nil
}

func cmdPs(g *globals, args []string) error {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	var format string
	fs.StringVar(&format, "format", "table", "table or json")
	fs.StringVar(&format, "f", "table", "table or json")
	rest, err := parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	c, err := container.Load(g.root, rest[0])
	if err != nil {
		return err
	}
	// From the cgroup, or the pid namespace of a rootless container without one.
	pids, err := c.Pids()
	if err != nil {
		return err
	}
	switch format {
	case "json":
		if pids == nil {
			pids = []int{}
		}
		b, _ := json.Marshal(pids)
		fmt.Printf("%s\n", b)
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 8, 1, 2, ' ', 0)
		fmt.Fprint(w, "PID\tCMD\n")
		for _, p := range pids {
			cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
			fmt.Fprintf(w, "%d\t%s\n", p, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
		return w.Flush()
	default:
		return fmt.Errorf("invalid format %q (table or json)", format)
	}
	return nil
}

func cmdPause(g *globals, args []string) error {
	c, err := loadOnly(g, "pause", args)
	if err != nil {
		return err
	}
	return c.Pause()
}

func cmdResume(g *globals, args []string) error {
	c, err := loadOnly(g, "resume", args)
	if err != nil {
		return err
	}
	return c.Resume()
}
