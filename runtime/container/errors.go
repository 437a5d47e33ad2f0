package container

import (
	"errors"
	"fmt"
)

// The errors a caller acts on, matched with errors.Is. The messages that carry them stay runc's
// own words: conmon, the containerd shim and Podman read a runtime's errors as text.
var (
	// ErrNotExist: no container with that id under the state root.
	ErrNotExist = errors.New("container does not exist")
	// ErrExist: create of an id that is already taken.
	ErrExist = errors.New("container already exists")
	// ErrNotRunning: the container's init has exited (kill, exec, pause, update, events), or it
	// never started and an operation needs a running one.
	ErrNotRunning = errors.New("container not running")
	// ErrNotCreated: start of a container that was already started.
	ErrNotCreated = errors.New("container is not in the created state")
	// ErrNotStopped: delete without force of a container whose init is alive.
	ErrNotStopped = errors.New("container is not stopped")
	// ErrPaused: exec or start in a frozen container.
	ErrPaused = errors.New("container is paused")
	// ErrNotPaused: resume of a container that is not frozen.
	ErrNotPaused = errors.New("container not paused")
	// ErrNoCgroup: an operation that needs the container's cgroup (pause, resume, update,
	// stats) on a rootless container that could not get one.
	ErrNoCgroup = errors.New("the container has no cgroup (rootless, without a writable cgroup)")
)

// stateError is an error whose text is written for people (and for tools that match runc's
// text) and whose kind is one of the values above.
type stateError struct {
	msg  string
	kind error
}

func (e *stateError) Error() string { return e.msg }
func (e *stateError) Unwrap() error { return e.kind }

// Errorf returns an error with the formatted message that errors.Is matches to kind (one of the
// values above), for callers that report one of these conditions in their own words: the
// command line, and drivers that map another runtime's messages to them.
func Errorf(kind error, format string, a ...any) error {
	return &stateError{msg: fmt.Sprintf(format, a...), kind: kind}
}

func errorf(kind error, format string, a ...any) error { return Errorf(kind, format, a...) }
