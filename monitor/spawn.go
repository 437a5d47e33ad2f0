package monitor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Log drivers.
const (
	LogNone     = "none"
	LogJSONFile = "json-file"
	LogK8sFile  = "k8s-file"
)

// Options say what one monitor watches and where its files go. Paths should be absolute: the
// monitor runs in /.
type Options struct {
	Binary      string   // berth-monitor
	Runtime     string   // the OCI runtime: berth-runtime, runc or crun
	RuntimeRoot string   // the runtime's --root; empty: its default
	RuntimeLog  string   // the runtime's --log (json); create errors are read from it
	RuntimeArgs []string // more global runtime flags, before "create"

	ID, Bundle string
	PidFile    string // the runtime's --pid-file
	ExitFile   string // where the exit status goes (see the package doc)

	AttachSocket  string // the attach socket; empty: none (at most 107 bytes: a unix socket path)
	Terminal      bool   // the spec asks for a terminal: the pty master comes over ConsoleSocket
	ConsoleSocket string // required with Terminal
	Stdin         bool   // keep a stdin pipe open for attach (without a terminal)

	LogDriver  string // LogNone (default), LogJSONFile or LogK8sFile
	LogPath    string
	LogMaxSize int64 // bytes; 0: no rotation
	LogMaxFile int   // files kept in all, with LogMaxSize; 0 or 1: truncate in place

	// DNSConfig is the container's resolver config (upstreams, records files), read at each
	// query; DNSNetNS the container's network namespace, where the monitor answers on
	// 127.0.0.11:53. Empty: no resolver.
	DNSConfig, DNSNetNS string

	ExitCommand []string       // run (not waited for) after the container exited and the logs closed
	Health      *HealthOptions // health checks to run; nil: none
	MonitorLog  string         // the monitor's own stderr (diagnostics); empty: /dev/null
	Timeout     time.Duration
}

// HealthOptions are a container's health checks, which the monitor runs as exec sessions
// (see the package doc).
type HealthOptions struct {
	ProcessFile string // the check's process.json, for the runtime's exec --process
	StateFile   string // where the monitor keeps the status and the last results (JSON)
	EventsLog   string // the engine's event log: health_status events are appended; empty: none
	// EventActorFile holds the events' Actor as JSON, read at each event (a rename rewrites it).
	EventActorFile string

	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
}

func (h *HealthOptions) args() ([]string, error) {
	if h.ProcessFile == "" || h.StateFile == "" {
		return nil, errors.New("monitor: health checks need a ProcessFile and a StateFile")
	}
	if h.Interval <= 0 || h.Timeout <= 0 || h.StartInterval <= 0 || h.StartPeriod < 0 || h.Retries <= 0 {
		return nil, fmt.Errorf("monitor: bad health check timing %+v", *h)
	}
	for _, p := range []*string{&h.ProcessFile, &h.StateFile, &h.EventsLog, &h.EventActorFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, fmt.Errorf("monitor: %w", err)
			}
			*p = abs
		}
	}
	ns := func(d time.Duration) string { return strconv.FormatInt(int64(d), 10) }
	a := []string{"--health-process", h.ProcessFile, "--health-file", h.StateFile,
		"--health-interval", ns(h.Interval), "--health-timeout", ns(h.Timeout),
		"--health-start-period", ns(h.StartPeriod), "--health-start-interval", ns(h.StartInterval),
		"--health-retries", strconv.Itoa(h.Retries)}
	if h.EventsLog != "" {
		a = append(a, "--health-events", h.EventsLog, "--health-actor-file", h.EventActorFile)
	}
	return a, nil
}

// Process identifies a running monitor and its container's init, by pid and start time so that
// a recycled pid is never taken for them. The engine stores it.
type Process struct {
	Pid           int    `json:"pid"`
	StartTime     uint64 `json:"startTime"`
	InitPid       int    `json:"initPid"`
	InitStartTime uint64 `json:"initStartTime"`
}

// CreateError is the runtime's failure to create the container, with its own message.
type CreateError struct {
	Status  int
	Message string
}

func (e *CreateError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("runtime create exited with status %d", e.Status)
	}
	return e.Message
}

func (o *Options) args() ([]string, error) {
	if o.Binary == "" || o.Runtime == "" || o.ID == "" || o.Bundle == "" || o.PidFile == "" || o.ExitFile == "" {
		return nil, errors.New("monitor: Binary, Runtime, ID, Bundle, PidFile and ExitFile are required")
	}
	if o.Terminal && o.ConsoleSocket == "" {
		return nil, errors.New("monitor: a terminal needs a ConsoleSocket")
	}
	// The monitor runs in /: relative paths are made absolute here.
	for _, p := range []*string{&o.Binary, &o.Runtime, &o.RuntimeRoot, &o.RuntimeLog, &o.Bundle, &o.PidFile, &o.ExitFile,
		&o.AttachSocket, &o.ConsoleSocket, &o.LogPath, &o.MonitorLog, &o.DNSConfig, &o.DNSNetNS} {
		bare := (p == &o.Runtime || p == &o.Binary) && !strings.Contains(*p, "/") // found in PATH
		if *p != "" && !filepath.IsAbs(*p) && !bare {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, fmt.Errorf("monitor: %w", err)
			}
			*p = abs
		}
	}
	for _, p := range []*string{&o.Binary, &o.Runtime} {
		if !filepath.IsAbs(*p) {
			abs, err := exec.LookPath(*p)
			if err != nil {
				return nil, fmt.Errorf("monitor: %w", err)
			}
			*p = abs
		}
	}
	for _, s := range []string{o.AttachSocket, o.ConsoleSocket} {
		if len(s) > 107 {
			return nil, fmt.Errorf("monitor: socket path %s longer than 107 bytes", s)
		}
	}
	a := []string{"--runtime", o.Runtime, "--id", o.ID, "--bundle", o.Bundle, "--pid-file", o.PidFile,
		"--exit-file", o.ExitFile}
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	add("--runtime-root", o.RuntimeRoot)
	add("--runtime-log", o.RuntimeLog)
	for _, r := range o.RuntimeArgs {
		a = append(a, "--runtime-arg", r)
	}
	add("--attach-socket", o.AttachSocket)
	add("--console-socket", o.ConsoleSocket)
	if o.Terminal {
		a = append(a, "--terminal")
	}
	if o.Stdin && !o.Terminal {
		a = append(a, "--stdin")
	}
	switch o.LogDriver {
	case "", LogNone:
	case LogJSONFile, LogK8sFile:
		if o.LogPath == "" {
			return nil, fmt.Errorf("monitor: log driver %s needs a LogPath", o.LogDriver)
		}
		a = append(a, "--log-driver", o.LogDriver, "--log-path", o.LogPath)
	default:
		return nil, fmt.Errorf("monitor: unknown log driver %q", o.LogDriver)
	}
	if o.LogMaxSize < 0 || o.LogMaxFile < 0 {
		return nil, errors.New("monitor: negative log max-size or max-file")
	}
	if o.LogMaxSize > 0 {
		a = append(a, "--log-max-size", strconv.FormatInt(o.LogMaxSize, 10), "--log-max-file", strconv.Itoa(max(o.LogMaxFile, 1)))
	}
	if o.DNSNetNS != "" && o.DNSConfig == "" {
		return nil, errors.New("monitor: a DNSNetNS needs a DNSConfig")
	}
	add("--dns-config", o.DNSConfig)
	add("--dns-netns", o.DNSNetNS)
	for _, c := range o.ExitCommand {
		a = append(a, "--exit-command-arg", c)
	}
	if o.Health != nil {
		h, err := o.Health.args()
		if err != nil {
			return nil, err
		}
		a = append(a, h...)
	}
	return a, nil
}

// Spawn starts a monitor, which runs the runtime's create, and returns once the container is
// created (its init waits for the runtime's start, which the caller runs) or creation failed.
// The monitor is detached: it outlives the caller. On a timeout or cancellation the monitor and
// the runtime are killed; a container the runtime had created by then is the caller's to delete
// (runtime delete --force), as after any failed create.
func Spawn(ctx context.Context, o Options) (*Process, error) {
	args, err := o.args()
	if err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("monitor: sync pipe: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(o.Binary, args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "_BERTH_MONITOR=1")
	cmd.ExtraFiles = []*os.File{w}
	if o.MonitorLog != "" {
		f, err := os.OpenFile(o.MonitorLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("monitor: %w", err)
		}
		defer f.Close()
		cmd.Stderr = f
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("monitor: start %s: %w", o.Binary, err)
	}
	// The first process only detaches and exits.
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("monitor: %s: %w", o.Binary, err)
	}
	deadline, ctxDeadline := time.Now().Add(o.Timeout), false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	if err := r.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stop()
	p := &Process{}
	fail := func(err error) (*Process, error) {
		if p.Pid > 0 && Alive(p.Pid, p.StartTime) {
			// Timed out or cancelled: the monitor and the runtime it waits for would go on. Both
			// are in the process group of the first process (the session it made), which the
			// container's init, in a session of its own, is not.
			killGroup(cmd.Process.Pid)
		}
		for _, s := range []string{o.AttachSocket, o.ConsoleSocket} {
			if s != "" {
				os.Remove(s)
			}
		}
		return nil, err
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		kind, val, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "monitor":
			if p.Pid, err = strconv.Atoi(val); err != nil {
				return fail(fmt.Errorf("monitor: bad sync message %q", sc.Text()))
			}
			p.StartTime, _ = StartTime(p.Pid)
		case "pid":
			if p.InitPid, err = strconv.Atoi(val); err != nil || p.Pid == 0 {
				return fail(fmt.Errorf("monitor: bad sync message %q", sc.Text()))
			}
			if p.InitStartTime, err = StartTime(p.InitPid); err != nil {
				return fail(fmt.Errorf("monitor: container init %d: %w", p.InitPid, err))
			}
			return p, nil
		case "error":
			if st, ok := strings.CutPrefix(val, "create-failed "); ok {
				n, _ := strconv.Atoi(st)
				return fail(&CreateError{Status: n, Message: runtimeError(o.RuntimeLog)})
			}
			return fail(fmt.Errorf("monitor: %s", val))
		default:
			return fail(fmt.Errorf("monitor: bad sync message %q", sc.Text()))
		}
	}
	if err := sc.Err(); err != nil {
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded) && ctxDeadline:
			err = context.DeadlineExceeded // the read deadline was ctx's, a moment early
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = fmt.Errorf("no create result within %v", o.Timeout)
		}
		return fail(fmt.Errorf("monitor: waiting for create: %w", err))
	}
	return fail(errors.New("monitor: exited before reporting the create result"))
}

// runtimeError is the last error message in a runtime's json log (runc's format: one object a
// line with "level" and "msg").
func runtimeError(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	msg := ""
	for _, l := range bytes.Split(b, []byte("\n")) {
		var e struct{ Level, Msg string }
		if json.Unmarshal(l, &e) == nil && (e.Level == "error" || e.Level == "fatal") && e.Msg != "" {
			msg = e.Msg
		}
	}
	return msg
}
