package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/berth-dev/berth/engine/spec"
)

// ExecRequest is one exec session.
type ExecRequest struct {
	spec.ExecOptions
	Detach bool
	// Stdin is the session's input (nil: none); with Tty and a terminal
	// as Stdin, the runtime relays it (raw mode, window size) itself.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// ExecError is an exec that could not run its command, with Docker's
// status: 127 not found, 126 not runnable, 125 otherwise.
type ExecError struct {
	Status int
	Err    error
	// Printed says the runtime wrote the message to the session's
	// stderr already.
	Printed bool
}

func (e *ExecError) Error() string { return e.Err.Error() }
func (e *ExecError) Unwrap() error { return e.Err }

// ExecContainer runs a process in a running container and returns its
// exit status (0 at once with Detach). The process is the runtime's
// child while the session lasts and is reaped by it, so a session leaves
// no process behind.
func (e *Engine) ExecContainer(ctx context.Context, ref string, r ExecRequest) (status int, runErr error) {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return 0, &ExecError{Status: 125, Err: err}
	}
	if c.State == StateRestarting {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("container %s is restarting, wait until the container is running", ref)}
	}
	if c.State != StateRunning {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("container %s is not running", ref)}
	}
	if c.Paused {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("container %s is paused, unpause the container before exec", ref)}
	}
	base, err := readSpec(e.bundleDir(c.ID))
	if err != nil {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("exec: container spec: %w", err)}
	}
	// Users are resolved in the running root, as the container sees it.
	root := fmt.Sprintf("/proc/%d/root", c.PID)
	if !alive(c.PID, c.PIDStart) {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("container %s is not running", ref)}
	}
	p, err := spec.ExecProcess(base.Process, root, r.ExecOptions)
	if err != nil {
		return 0, &ExecError{Status: 125, Err: err}
	}
	if r.Detach && len(e.ctrOpts.ExecKeeper) == 0 {
		return 0, &ExecError{Status: 125, Err: errors.New("exec: a detached session needs an exec keeper (engine option ExecKeeper)")}
	}
	var nb [8]byte
	rand.Read(nb[:])
	// Docker's exec events name the session by an ID and the command.
	var xb [32]byte
	rand.Read(xb[:])
	execAttrs := map[string]string{"execID": hex.EncodeToString(xb[:])}
	e.emitContainer(&c, execAction("exec_create", p.Args), execAttrs)
	procFile := filepath.Join(e.ctrRunDir(c.ID), "exec-"+hex.EncodeToString(nb[:])+".json")
	pb, err := json.Marshal(p)
	if err != nil {
		return 0, &ExecError{Status: 125, Err: err}
	}
	if err := os.WriteFile(procFile, pb, 0o600); err != nil {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("exec: %w", err)}
	}
	defer os.Remove(procFile)
	args := []string{"exec", "--process", procFile}
	if r.Tty {
		args = append(args, "--tty")
	}
	if r.Detach {
		args = append(args, "--detach", "--pid-file", procFile+".pid")
		defer os.Remove(procFile + ".pid")
	}
	if r.Detach && r.Tty {
		args = append(args, "--console-socket", procFile+".sock")
		defer os.Remove(procFile + ".sock")
	}
	// The runtime lives as long as the session: ^C is forwarded to it
	// (and from it to the process), not a reason to kill it.
	global := []string{}
	if e.ctrOpts.RuntimeRoot != "" {
		global = append(global, "--root", e.ctrOpts.RuntimeRoot)
	}
	argv := append(append(append([]string{c.RuntimePath}, global...), args...), c.ID)
	if r.Detach {
		return e.execDetached(&c, argv, procFile, r, execAttrs, p.Args)
	}
	cmd := exec.CommandContext(context.WithoutCancel(ctx), argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout = r.Stdin, r.Stdout
	tail := &tailWriter{w: r.Stderr}
	cmd.Stderr = tail
	e.emitContainer(&c, execAction("exec_start", p.Args), execAttrs)
	if err := cmd.Start(); err != nil {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("exec: %w", err)}
	}
	defer func() {
		code := status
		var xe *ExecError
		if errors.As(runErr, &xe) {
			code = xe.Status
		}
		e.emitContainer(&c, "exec_die", map[string]string{"execID": execAttrs["execID"], "exitCode": strconv.Itoa(code)})
	}()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	close(done)
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("exec: %w", err)}
	}
	if msg := tail.runtimeError(); msg != "" {
		return 0, &ExecError{Status: startStatus(msg), Err: errors.New(msg), Printed: r.Stderr != nil}
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}

// execDetached runs a detached session through an exec keeper, which
// outlives this call (exec_keeper.go), and returns once the runtime has
// started the process, with the runtime's failure if it had one.
func (e *Engine) execDetached(c *Container, argv []string, procFile string, r ExecRequest, execAttrs map[string]string, args []string) (int, error) {
	// A pipe would be inherited by the detached process and held open; a
	// file is not waited on.
	f, err := os.CreateTemp(e.ctrRunDir(c.ID), "exec-stderr-")
	if err != nil {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("exec: %w", err)}
	}
	os.Remove(f.Name())
	defer f.Close()
	die := e.containerEvent(c, "exec_die", map[string]string{"execID": execAttrs["execID"]})
	spec := KeeperSpec{Runtime: argv, PidFile: procFile + ".pid", Tty: r.Tty,
		Events: e.eventsPath(), EventsLimit: e.eventsLimit(), Die: die}
	e.emitContainer(c, execAction("exec_start", args), execAttrs)
	code, err := e.startKeeper(spec, f, procFile+".sock")
	if err != nil {
		return 0, &ExecError{Status: 125, Err: fmt.Errorf("exec: %w", err)}
	}
	if code == 0 {
		return 0, nil
	}
	// What the runtime said before it let go of the process.
	tail := &tailWriter{w: r.Stderr}
	f.Seek(0, io.SeekStart)
	io.Copy(tail, io.LimitReader(f, 64<<10))
	if msg := tail.runtimeError(); msg != "" {
		return 0, &ExecError{Status: startStatus(msg), Err: errors.New(msg), Printed: r.Stderr != nil}
	}
	return code, nil
}

// tailWriter passes the runtime's stderr on and keeps its last line, to
// tell the runtime's own failure (its "berth-runtime: ..." or runc's
// "level=error" line) from the process's output.
type tailWriter struct {
	w    io.Writer
	mu   sync.Mutex
	last []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.last = append(t.last, p...)
	if len(t.last) > 4096 {
		t.last = t.last[len(t.last)-4096:]
	}
	t.mu.Unlock()
	if t.w == nil {
		return len(p), nil
	}
	return t.w.Write(p)
}

func (t *tailWriter) runtimeError() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.last), []byte("\n"))
	l := string(lines[len(lines)-1])
	for _, prefix := range []string{"berth-runtime: ", "runc: ", "crun: "} {
		if m, ok := strings.CutPrefix(l, prefix); ok {
			return m
		}
	}
	if i := strings.Index(l, "level=error msg="); i >= 0 {
		return strings.Trim(l[i+len("level=error msg="):], `"`)
	}
	return ""
}
