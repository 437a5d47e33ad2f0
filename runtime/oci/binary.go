package oci

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

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/container"
)

// BinaryConfig configures an OCI runtime executable.
type BinaryConfig struct {
	// Path is the executable: a path, or a name looked up in PATH.
	Path string
	// Root is its --root; empty leaves the runtime's default.
	Root string
	// Args are global options put before each command (e.g. --systemd-cgroup).
	Args []string
	// Env is the runtime's environment; nil inherits ours.
	Env []string
	// TempDir holds the per-command log files (--log, JSON), removed after each command;
	// default os.TempDir().
	TempDir string
}

// Binary drives an OCI runtime binary through runc's command line.
type Binary struct {
	cfg  BinaryConfig
	path string
}

var _ Runtime = (*Binary)(nil)

// NewBinary returns the runtime at cfg.Path.
func NewBinary(cfg BinaryConfig) (*Binary, error) {
	path, err := exec.LookPath(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("oci runtime %q: %w", cfg.Path, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, fmt.Errorf("oci runtime %q: %w", cfg.Path, err)
	}
	return &Binary{cfg: cfg, path: path}, nil
}

// Name implements Runtime: the binary's path.
func (b *Binary) Name() string { return b.path }

// Error is a failed runtime command. Its Msg is the runtime's own error message; errors.Is
// matches it to the runtime/container error it means, when there is one.
type Error struct {
	Runtime  string // the binary's path
	Command  string // create, start, ...
	Msg      string
	ExitCode int
	Kind     error // one of the Err values, or nil
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s", filepath.Base(e.Runtime), e.Command, e.Msg)
}

func (e *Error) Unwrap() error { return e.Kind }

// kinds maps the messages of berth-runtime, runc and crun to error values. The first rule
// that matches wins, so the more specific come first.
var kinds = []struct {
	subs []string // all of them, in the lower-cased message
	kind error
}{
	{[]string{"already exists"}, ErrExist},
	{[]string{"does not exist"}, ErrNotExist},
	// crun names the file it could not open in the missing container's state dir.
	{[]string{"/status`: no such file"}, ErrNotExist},
	{[]string{"cannot open directory", "no such file"}, ErrNotExist},
	{[]string{"not paused"}, ErrNotPaused},
	{[]string{"no cgroup"}, ErrNoCgroup},
	{[]string{"not stopped"}, ErrNotStopped},
	{[]string{"not in `created` or `stopped` state"}, ErrNotStopped},
	{[]string{"paused container"}, ErrPaused},
	{[]string{"paused state"}, ErrPaused},
	{[]string{"is paused"}, ErrPaused},
	{[]string{"already running"}, ErrNotCreated},
	{[]string{"exec.fifo`: no such file"}, ErrNotCreated},
	{[]string{"not running"}, ErrNotRunning},
	{[]string{"has stopped"}, ErrNotRunning},
	{[]string{"stopped container"}, ErrNotRunning},
	{[]string{"process has exited"}, ErrNotRunning},
	// crun signals through a pidfd of the init, which is gone.
	{[]string{"no such process"}, ErrNotRunning},
	// A command this runtime lacks (crun has no `events`).
	{[]string{"unknown command"}, errors.ErrUnsupported},
}

// kindOf returns the error value a runtime's message about container id means, or nil. The id
// is taken out first: a container named "paused-app" is not paused.
func kindOf(msg, id string) error {
	low := strings.ToLower(withoutID(msg, id))
next:
	for _, k := range kinds {
		for _, s := range k.subs {
			if !strings.Contains(low, s) {
				continue next
			}
		}
		return k.kind
	}
	return nil
}

// withoutID replaces each whole-word occurrence of id in msg (a container id may be "c", which
// is also in "container") by "ID".
func withoutID(msg, id string) string {
	if id == "" {
		return msg
	}
	idChar := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_+-.", c) >= 0
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		j := strings.Index(msg[i:], id)
		if j < 0 {
			b.WriteString(msg[i:])
			break
		}
		j += i
		end := j + len(id)
		if (j == 0 || !idChar(msg[j-1])) && (end == len(msg) || !idChar(msg[end])) {
			b.WriteString(msg[i:j])
			b.WriteString("ID")
		} else {
			b.WriteString(msg[i:end])
		}
		i = end
	}
	return b.String()
}

// call is one runtime command.
type call struct {
	id                    string // the container's, taken out of messages before they are matched
	args                  []string
	stdin, stdout, stderr *os.File
	extra                 []*os.File
	input                 []byte // stdin when stdin is nil
	// capture: stdout and stderr are read back (commands that print). Never for create and
	// exec: the container inherits the runtime's stdio, and a pipe we read would stay open as
	// long as the container runs.
	capture bool
	// captureStderr: stderr alone is read back (for the error message), stdout goes to stdout.
	captureStderr bool
}

// run runs the runtime with a JSON log file and returns what it printed on stdout (with
// capture). A failure comes back as *Error with the runtime's last logged error.
func (b *Binary) run(ctx context.Context, c call) ([]byte, error) {
	logf, err := os.CreateTemp(b.cfg.TempDir, "berth-oci-log-")
	if err != nil {
		return nil, fmt.Errorf("runtime log: %w", err)
	}
	logPath := logf.Name()
	logf.Close()
	defer os.Remove(logPath)
	args := make([]string, 0, len(b.cfg.Args)+len(c.args)+6)
	if b.cfg.Root != "" {
		args = append(args, "--root", b.cfg.Root)
	}
	args = append(args, "--log", logPath, "--log-format", "json")
	args = append(args, b.cfg.Args...)
	args = append(args, c.args...)
	cmd := exec.CommandContext(ctx, b.path, args...)
	cmd.Env = b.cfg.Env
	cmd.ExtraFiles = c.extra
	var stdout, stderr bytes.Buffer
	switch {
	case c.stdin != nil:
		cmd.Stdin = c.stdin
	case c.input != nil:
		cmd.Stdin = bytes.NewReader(c.input)
	}
	if c.capture {
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
	} else {
		if c.stdout != nil {
			cmd.Stdout = c.stdout
		}
		if c.stderr != nil {
			cmd.Stderr = c.stderr
		} else if c.captureStderr {
			cmd.Stderr = &stderr
		}
	}
	err = cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("%s %s: %w", filepath.Base(b.path), c.args[0], ctxErr)
	}
	e := &Error{Runtime: b.path, Command: c.args[0], ExitCode: -1}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		e.ExitCode = ee.ExitCode()
	} else {
		return nil, fmt.Errorf("%s %s: %w", filepath.Base(b.path), c.args[0], err)
	}
	e.Msg = lastLoggedError(logPath)
	if e.Msg == "" {
		e.Msg = lastLine(stderr.String())
	}
	if e.Msg == "" {
		e.Msg = err.Error()
	}
	e.Kind = kindOf(e.Msg, c.id)
	return nil, e
}

// lastLoggedError is the message of the last error-level line of a runtime's JSON log.
func lastLoggedError(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var msg string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var line struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line.Level == "error" || line.Level == "fatal" || line.Level == "panic" {
			msg = line.Msg
		}
	}
	return msg
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// pidFile names a temporary pid file and reads it back after the command.
func (b *Binary) pidFile(given string) (path string, read func() (int, error), done func(), err error) {
	done = func() {}
	if given == "" {
		dir, err := os.MkdirTemp(b.cfg.TempDir, "berth-oci-pid-")
		if err != nil {
			return "", nil, nil, fmt.Errorf("pid file: %w", err)
		}
		given = filepath.Join(dir, "pid")
		done = func() { os.RemoveAll(dir) }
	}
	read = func() (int, error) {
		data, err := os.ReadFile(given)
		if err != nil {
			return 0, fmt.Errorf("pid file: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("pid file %s: bad pid %q", given, data)
		}
		return pid, nil
	}
	return given, read, done, nil
}

// Create implements Runtime.
func (b *Binary) Create(ctx context.Context, id string, o CreateOpts) (int, error) {
	pidPath, readPid, done, err := b.pidFile(o.PidFile)
	if err != nil {
		return 0, err
	}
	defer done()
	args := []string{"create", "--bundle", o.Bundle, "--pid-file", pidPath}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	if len(o.ExtraFiles) > 0 {
		args = append(args, "--preserve-fds", strconv.Itoa(len(o.ExtraFiles)))
	}
	if o.NoPivot {
		args = append(args, "--no-pivot")
	}
	if o.NoNewKeyring {
		args = append(args, "--no-new-keyring")
	}
	args = append(args, id)
	if _, err := b.run(ctx, call{id: id, args: args, stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr, extra: o.ExtraFiles}); err != nil {
		return 0, err
	}
	return readPid()
}

// Start implements Runtime.
func (b *Binary) Start(ctx context.Context, id string) error {
	_, err := b.run(ctx, call{id: id, args: []string{"start", id}, capture: true})
	return err
}

// State implements Runtime.
func (b *Binary) State(ctx context.Context, id string) (*State, error) {
	out, err := b.run(ctx, call{id: id, args: []string{"state", id}, capture: true})
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("%s state %s: %w", filepath.Base(b.path), id, err)
	}
	return &st, nil
}

// List implements Runtime.
func (b *Binary) List(ctx context.Context) ([]State, error) {
	out, err := b.run(ctx, call{args: []string{"list", "--format", "json"}, capture: true})
	if err != nil {
		return nil, err
	}
	var sts []State
	if t := bytes.TrimSpace(out); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	if err := json.Unmarshal(out, &sts); err != nil {
		return nil, fmt.Errorf("%s list: %w", filepath.Base(b.path), err)
	}
	return sts, nil
}

// Kill implements Runtime.
func (b *Binary) Kill(ctx context.Context, id string, sig unix.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	args = append(args, id, strconv.Itoa(int(sig)))
	_, err := b.run(ctx, call{id: id, args: args, capture: true})
	return err
}

// Delete implements Runtime. With force, a container that does not exist is no error.
func (b *Binary) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := b.run(ctx, call{id: id, args: append(args, id), capture: true})
	if force && errors.Is(err, ErrNotExist) {
		return nil
	}
	return err
}

// Exec implements Runtime: the process is started detached, and is the caller's to reap once
// the runtime command has exited (as a child subreaper).
func (b *Binary) Exec(ctx context.Context, id string, o ExecOpts) (int, error) {
	if o.Process == nil || len(o.Process.Args) == 0 {
		return 0, errors.New("exec: process args must not be empty")
	}
	proc, err := json.Marshal(o.Process)
	if err != nil {
		return 0, fmt.Errorf("exec: encode process: %w", err)
	}
	dir, err := os.MkdirTemp(b.cfg.TempDir, "berth-oci-exec-")
	if err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	defer os.RemoveAll(dir)
	procPath := filepath.Join(dir, "process.json")
	if err := os.WriteFile(procPath, proc, 0o600); err != nil {
		return 0, fmt.Errorf("exec: %w", err)
	}
	pidPath := o.PidFile
	if pidPath == "" {
		pidPath = filepath.Join(dir, "pid")
	}
	_, readPid, _, _ := b.pidFile(pidPath)
	args := []string{"exec", "--process", procPath, "--detach", "--pid-file", pidPath}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	if len(o.ExtraFiles) > 0 {
		args = append(args, "--preserve-fds", strconv.Itoa(len(o.ExtraFiles)))
	}
	args = append(args, id)
	if _, err := b.run(ctx, call{id: id, args: args, stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr, extra: o.ExtraFiles}); err != nil {
		return 0, err
	}
	return readPid()
}

// Pause implements Runtime.
func (b *Binary) Pause(ctx context.Context, id string) error {
	_, err := b.run(ctx, call{id: id, args: []string{"pause", id}, capture: true})
	return err
}

// Resume implements Runtime.
func (b *Binary) Resume(ctx context.Context, id string) error {
	_, err := b.run(ctx, call{id: id, args: []string{"resume", id}, capture: true})
	return err
}

// Update implements Runtime: the resources go as JSON on the runtime's stdin (-r -).
func (b *Binary) Update(ctx context.Context, id string, r *specs.LinuxResources) error {
	if r == nil {
		return errors.New("update: no resources given")
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("update: encode resources: %w", err)
	}
	_, err = b.run(ctx, call{id: id, args: []string{"update", "--resources", "-", id}, input: data, capture: true})
	return err
}

// Ps implements Runtime.
func (b *Binary) Ps(ctx context.Context, id string) ([]int, error) {
	out, err := b.run(ctx, call{id: id, args: []string{"ps", "--format", "json", id}, capture: true})
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("%s ps %s: %w", filepath.Base(b.path), id, err)
	}
	return pids, nil
}

// Stats implements Runtime, through `events --stats`.
func (b *Binary) Stats(ctx context.Context, id string) (*cgroups.Stats, error) {
	out, err := b.run(ctx, call{id: id, args: []string{"events", "--stats", id}, capture: true})
	if err != nil {
		return nil, err
	}
	var ev struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &ev); err != nil || ev.Type != "stats" {
		return nil, fmt.Errorf("%s events --stats %s: not a stats event: %q", filepath.Base(b.path), id, out)
	}
	var s cgroups.Stats
	if err := json.Unmarshal(ev.Data, &s); err != nil {
		return nil, fmt.Errorf("%s events --stats %s: %w", filepath.Base(b.path), id, err)
	}
	return &s, nil
}

// Events implements Runtime: `events --interval`, read as it comes. runc's events goes on after
// the container has stopped, so the init is watched too (through a pidfd), and the command is
// ended a little after the init exits if it has not ended by itself.
func (b *Binary) Events(ctx context.Context, id string, interval time.Duration, fn func(Event)) error {
	if interval <= 0 {
		return fmt.Errorf("events: interval must be positive, got %s", interval)
	}
	st, err := b.State(ctx, id)
	if err != nil {
		return err
	}
	if st.Status == "stopped" || st.Pid <= 0 {
		return container.Errorf(ErrNotRunning, "container with id %s is not running", id)
	}
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return container.Errorf(ErrNotRunning, "container with id %s is not running: %v", id, err)
	}
	defer unix.Close(pidfd)
	// The pid was read before the pidfd was opened: make sure it is still the container's.
	if st2, err := b.State(ctx, id); err != nil || st2.Pid != st.Pid || st2.Status == "stopped" {
		return container.Errorf(ErrNotRunning, "container with id %s is not running", id)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer pr.Close()
	cmdCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.run(cmdCtx, call{id: id, args: []string{"events", "--interval", interval.String(), id}, stdout: pw, captureStderr: true})
		pw.Close()
		done <- err
	}()
	initExited := make(chan struct{})
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	// Polled in slices, so that the watcher ends with the call: a poll without a timeout would
	// hold its thread (and the pidfd) for as long as the container lives.
	go func() {
		defer close(watched)
		for {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 100)
			if n > 0 || (err != nil && err != unix.EINTR) {
				close(initExited)
				return
			}
			select {
			case <-stopWatch:
				return
			default:
			}
		}
	}()
	defer func() {
		close(stopWatch)
		<-watched
	}()
	go func() {
		select {
		case <-initExited:
			// Time for the runtime to report what happened last (an OOM kill of the init).
			select {
			case <-time.After(max(interval, 500*time.Millisecond)):
			case <-cmdCtx.Done():
			}
			cancel()
		case <-cmdCtx.Done():
		}
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	var decodeErr error
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			if decodeErr == nil {
				decodeErr = fmt.Errorf("%s events %s: %w: %q", filepath.Base(b.path), id, err, sc.Bytes())
			}
			continue
		}
		fn(ev)
	}
	err = <-done
	if ctx.Err() != nil {
		return ctx.Err()
	}
	select {
	case <-initExited:
		// Ended by us (or by itself) once the container stopped: that is the normal end.
		return decodeErr
	default:
	}
	if err != nil {
		return err
	}
	return decodeErr
}
