// Package ociruntime runs an OCI runtime binary (berth-runtime, runc, crun) for the engine: the
// commands of runc's command line that the engine needs after the monitor has created a
// container (start, kill, delete, state, exec). Errors carry the runtime's own message.
package ociruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime is one runtime binary with its global flags.
type Runtime struct {
	Path string   // absolute path of the binary
	Root string   // its --root; empty: its default
	Args []string // more global flags
}

// Command is the runtime invoked with args after the global flags.
func (r *Runtime) Command(ctx context.Context, args ...string) *exec.Cmd {
	a := make([]string, 0, len(r.Args)+len(args)+2)
	if r.Root != "" {
		a = append(a, "--root", r.Root)
	}
	a = append(a, r.Args...)
	a = append(a, args...)
	cmd := exec.CommandContext(ctx, r.Path, a...)
	cmd.Dir = "/"
	return cmd
}

// Error is a runtime command that failed, with what it printed.
type Error struct {
	Command string
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("runtime %s: exit status %d", e.Command, e.Status)
	}
	return e.Message
}

// ErrNotExist is wrapped when the runtime does not know the container.
var ErrNotExist = errors.New("container does not exist in the runtime")

func (r *Runtime) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := r.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return nil, fmt.Errorf("runtime %s: %w", args[0], err)
	}
	msg := message(stderr.String())
	e := &Error{Command: args[0], Status: ee.ExitCode(), Message: msg}
	if strings.Contains(msg, "does not exist") || strings.Contains(msg, "not found") && strings.Contains(msg, "container") {
		return nil, errors.Join(e, ErrNotExist)
	}
	return nil, e
}

// message is the runtime's last error line, without runc's "level=error msg=" dressing.
func message(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	m := strings.TrimSpace(lines[len(lines)-1])
	if i := strings.Index(m, "msg="); i >= 0 {
		m = strings.Trim(m[i+4:], `"`)
	}
	return m
}

// Start starts a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, "start", id)
	return err
}

// Kill sends sig to the container's init (all: to every process of it).
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.run(ctx, append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

// Delete removes the runtime's state of the container; force kills it first. A container the
// runtime does not know is not an error.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, append(args, id)...)
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	return err
}

// State is the runtime's state of the container.
func (r *Runtime) State(ctx context.Context, id string) (*specs.State, error) {
	out, err := r.run(ctx, "state", id)
	if err != nil {
		return nil, err
	}
	var s specs.State
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("runtime state %s: %w", id, err)
	}
	return &s, nil
}
