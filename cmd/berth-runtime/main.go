// Command berth-runtime is Berth's OCI runtime, with a runc-compatible command line.

// A command lives for milliseconds: the goroutine that would follow cgroup CPU limit changes
// to adjust GOMAXPROCS is not worth its start.
//
//go:debug updatemaxprocs=0
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/container"
)

const version = "0.1.0"

// globals are runc's global flags.
type globals struct {
	root      string
	log       string
	logFormat string
	debug     bool
	logger    *logger
	// rootless is runc's --rootless (auto, true or false), resolved.
	rootless bool
}

type command struct {
	name  string
	usage string
	run   func(g *globals, args []string) error
}

var commands = []command{
	{"create", "create [options] CONTAINER", cmdCreate},
	{"start", "start CONTAINER", cmdStart},
	{"run", "run [options] CONTAINER", cmdRun},
	{"state", "state CONTAINER", cmdState},
	{"kill", "kill [--all] CONTAINER [SIGNAL]", cmdKill},
	{"delete", "delete [--force] CONTAINER", cmdDelete},
	{"exec", "exec [options] CONTAINER COMMAND [ARGS...]", cmdExec},
	{"list", "list [--format table|json] [-q]", cmdList},
	{"ps", "ps [--format table|json] CONTAINER", cmdPs},
	{"pause", "pause CONTAINER", cmdPause},
	{"resume", "resume CONTAINER", cmdResume},
	{"events", "events [--stats] [--interval D] CONTAINER", cmdEvents},
	{"update", "update [-r resources.json] [--memory N --pids-limit N ...] CONTAINER", cmdUpdate},
	{"spec", "spec [--bundle DIR] [--rootless]", cmdSpec},
	{"features", "features", cmdFeatures},
}

// exitError carries an exit status without an error message (run's container status).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// Before anything else, and above all before any process is started: no descriptor the
	// caller leaked to us reaches a container unless it is asked for (CVE-2024-21626).
	if err := container.CloexecInherited(); err != nil {
		fmt.Fprintf(os.Stderr, "berth-runtime: %v\n", err)
		os.Exit(1)
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	g := &globals{}
	fs := flag.NewFlagSet("berth-runtime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&g.root, "root", defaultRoot(), "root directory for container state")
	fs.StringVar(&g.log, "log", "", "log file (default stderr)")
	fs.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&g.debug, "debug", false, "debug logging")
	var showVersion bool
	fs.BoolVar(&showVersion, "version", false, "print the version")
	fs.BoolVar(&showVersion, "v", false, "print the version")
	// Accepted for compatibility with callers that always pass them.
	var ignoredBool bool
	var ignoredStr string
	fs.BoolVar(&ignoredBool, "systemd-cgroup", false, "use the systemd cgroup driver (not supported: cgroupfs is used)")
	var rootless string
	fs.StringVar(&rootless, "rootless", "auto", "rootless mode (auto, true, false): skip cgroups that cannot be created")
	fs.StringVar(&ignoredStr, "criu", "criu", "path to criu (checkpoint is not supported)")
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if showVersion {
		// runc's shape ("NAME version V", then "commit:", "spec:", "go:" lines): Docker's
		// `info` and Podman's `info` parse or show it as it is.
		fmt.Fprintf(stdout, "berth-runtime version %s\ncommit: %s\nspec: %s\ngo: %s\n", version, commit(), specs.Version, runtime.Version())
		return 0
	}
	if g.logFormat != "text" && g.logFormat != "json" {
		fmt.Fprintf(stderr, "berth-runtime: unknown --log-format %q (text or json)\n", g.logFormat)
		return 1
	}
	lg, err := newLogger(g.log, g.logFormat, g.debug, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "berth-runtime: %v\n", err)
		return 1
	}
	defer lg.close()
	g.logger = lg
	if g.rootless, err = container.RootlessMode(rootless); err != nil {
		lg.errorf("%v", err)
		return 1
	}
	rootSet := false
	fs.Visit(func(f *flag.Flag) { rootSet = rootSet || f.Name == "root" })
	if xdg, ok := xdgRoot(); ok && !rootSet && g.root == xdg {
		// As runc: a directory in XDG_RUNTIME_DIR is made sticky, so that the periodic
		// clean-up of that directory leaves it alone.
		if err := os.MkdirAll(xdg, 0o700); err != nil {
			lg.errorf("the path in $XDG_RUNTIME_DIR must be writable by the user: %v", err)
			return 1
		}
		if err := os.Chmod(xdg, 0o700|os.ModeSticky); err != nil {
			lg.errorf("check the permissions of the path in $XDG_RUNTIME_DIR: %v", err)
			return 1
		}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr, fs)
		return 1
	}
	name := rest[0]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(g, rest[1:])
		if err == nil {
			return 0
		}
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		lg.errorf("%v", err)
		return 1
	}
	lg.errorf("unknown command %q", name)
	return 1
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: berth-runtime [global options] COMMAND [options] [ARGS]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n", c.usage)
	}
	fmt.Fprintf(w, "\nglobal options:\n")
	fs.PrintDefaults()
}

// commit is the VCS revision the binary was built from, as `go build` records it.
func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" {
				return st.Value
			}
		}
	}
	return "unknown"
}

// defaultRoot is runc's choice: $XDG_RUNTIME_DIR/berth-runtime for a non-root user (or root of
// a user namespace other than USER=root, as in `podman unshare`), else /run/berth-runtime.
// Like runc, there is no fallback when XDG_RUNTIME_DIR is unset: a non-root user then gets a
// permission error naming /run/berth-runtime and the fix.
func defaultRoot() string {
	if v, ok := xdgRoot(); ok {
		return v
	}
	return "/run/berth-runtime"
}

func xdgRoot() (string, bool) {
	v := os.Getenv("XDG_RUNTIME_DIR")
	if v == "" {
		return "", false
	}
	if os.Geteuid() != 0 {
		return v + "/berth-runtime", true
	}
	if !container.RunningInUserNS() {
		return "", false
	}
	if u, ok := os.LookupEnv("USER"); ok && u == "root" {
		return "", false
	}
	return v + "/berth-runtime", true
}

// logger writes runc-style log lines: plain text, or JSON objects that conmon and the
// containerd shim read back for the error message.
type logger struct {
	w      io.Writer
	f      *os.File
	json   bool
	debug  bool
	stderr io.Writer
}

func newLogger(path, format string, debug bool, stderr io.Writer) (*logger, error) {
	l := &logger{json: format == "json", debug: debug, stderr: stderr}
	if path == "" {
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	l.f, l.w = f, f
	return l, nil
}

func (l *logger) close() {
	if l.f != nil {
		l.f.Close()
	}
}

func (l *logger) write(level, msg string) {
	if l.w == nil {
		return
	}
	now := time.Now().Format(time.RFC3339Nano)
	if l.json {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(l.w, "%s\n", b)
		return
	}
	fmt.Fprintf(l.w, "time=%q level=%s msg=%q\n", now, level, msg)
}

func (l *logger) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	l.write("error", msg)
	fmt.Fprintf(l.stderr, "berth-runtime: %s\n", msg)
}

func (l *logger) warnf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	l.write("warning", msg)
	if l.w == nil {
		fmt.Fprintf(l.stderr, "berth-runtime: warning: %s\n", msg)
	}
}

// debugFunc returns a debug sink, or nil when debugging is off (so callers skip the work).
func (l *logger) debugFunc() func(string) {
	if !l.debug {
		return nil
	}
	return func(s string) {
		if l.w == nil {
			fmt.Fprintf(l.stderr, "berth-runtime: debug: %s\n", s)
			return
		}
		l.write("debug", s)
	}
}

func (l *logger) debugf(format string, a ...any) {
	if f := l.debugFunc(); f != nil {
		f(fmt.Sprintf(format, a...))
	}
}

// parse parses a subcommand's flags and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if len(rest) < min || (max >= 0 && len(rest) > max) {
		switch {
		case min == 1 && len(rest) == 0:
			return nil, fmt.Errorf("%s: missing container id", fs.Name())
		default:
			return nil, fmt.Errorf("%s: wrong number of arguments (%d)", fs.Name(), len(rest))
		}
	}
	return rest, nil
}

var _ = strings.TrimSpace
