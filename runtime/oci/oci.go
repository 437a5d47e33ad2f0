// Package oci is an OCI runtime as the engine and a monitor drive it: one interface, with two
// implementations chosen per container.
//
//   - Library calls runtime/container in this process: no runtime process at all. The container's
//     set-up runs in a child started from a binary that links runtime/nsexec's C constructor:
//     this binary itself when it is built with cgo (importing this package links the
//     constructor; it acts only in a child the library starts), or else LibraryConfig.Exe, a
//     berth-runtime binary (bin/berth-runtime). A binary built with CGO_ENABLED=0 must set Exe:
//     nsexec.HasConstructor tells, and Create says so if it is missing. Either way the child
//     runs from a read-only view of that binary (CVE-2019-5736).
//   - Binary drives an OCI runtime executable through runc's command line: berth-runtime, runc
//     or crun.
//
// In both, the container's init and each exec'd process end up as children of the caller
// (Library: directly; Binary: once the runtime command has exited, if the caller is a child
// subreaper, prctl PR_SET_CHILD_SUBREAPER, as conmon and the containerd shim are). The caller
// reaps them and owns their exit status: the runtime never waits for them.
//
// Errors match the values of runtime/container with errors.Is (ErrNotExist, ErrExist,
// ErrNotRunning, ...), whatever the implementation: Binary maps runc's and crun's messages.
package oci

import (
	"context"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/container"
)

// Runtime is an OCI runtime. Every method names the container by id under the runtime's own
// state root.
type Runtime interface {
	// Name says which runtime this is ("library", or the binary's path).
	Name() string
	// Create creates the container from a bundle; its process waits for Start. It returns the
	// init's pid. A failed Create leaves nothing behind, except that one cut short by its
	// context may leave a half-made container of a runtime binary: Delete it with force.
	Create(ctx context.Context, id string, o CreateOpts) (pid int, err error)
	// Start lets a created container run its process.
	Start(ctx context.Context, id string) error
	// State returns the OCI state (with runc's extra fields).
	State(ctx context.Context, id string) (*State, error)
	// List returns the state of every container under the root.
	List(ctx context.Context) ([]State, error)
	// Kill sends sig to the init, or with all to every process of the container.
	Kill(ctx context.Context, id string, sig unix.Signal, all bool) error
	// Delete removes a stopped container, or with force any container (killing it).
	Delete(ctx context.Context, id string, force bool) error
	// Exec starts another process in a running container and returns its pid once it runs.
	Exec(ctx context.Context, id string, o ExecOpts) (pid int, err error)
	// Pause freezes every process of the container; Resume thaws them.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Update changes the resource limits of a live container.
	Update(ctx context.Context, id string, r *specs.LinuxResources) error
	// Ps lists the pids of the container's processes.
	Ps(ctx context.Context, id string) ([]int, error)
	// Stats reads the container's cgroup counters.
	Stats(ctx context.Context, id string) (*cgroups.Stats, error)
	// Events calls fn with the container's stats every interval and with an "oom" event for
	// each of its processes the memory controller kills, until the container stops (nil) or
	// ctx ends (ctx's error): runc's `events`.
	Events(ctx context.Context, id string, interval time.Duration, fn func(Event)) error
}

// Event is one record of runc's `events` stream.
type Event struct {
	Type  string         `json:"type"` // "stats" or "oom"
	ID    string         `json:"id"`
	Stats *cgroups.Stats `json:"data,omitempty"` // with "stats"
}

// State is the OCI state with runc's extra fields (rootfs, created, owner): what `state`
// prints.
type State = container.State

// CreateOpts are the options of Create.
type CreateOpts struct {
	Bundle string
	// Stdio of the container process when it has no terminal; nil is /dev/null. Files, not
	// readers: the process inherits them and outlives the call.
	Stdin, Stdout, Stderr *os.File
	// ConsoleSocket is a unix socket path (console.Listen) that receives the pty master when the
	// process has a terminal.
	ConsoleSocket string
	// ExtraFiles are passed to the process at fd 3, 4, ...
	ExtraFiles []*os.File
	// PidFile, when set, also gets the init's pid (runc's --pid-file).
	PidFile      string
	NoPivot      bool
	NoNewKeyring bool
}

// ExecOpts are the options of Exec.
type ExecOpts struct {
	// Process is the process to run; Terminal asks for a pty through ConsoleSocket.
	Process               *specs.Process
	Stdin, Stdout, Stderr *os.File
	ConsoleSocket         string
	ExtraFiles            []*os.File
	PidFile               string
}

// The errors of runtime/container, for callers that import only this package.
var (
	ErrNotExist   = container.ErrNotExist
	ErrExist      = container.ErrExist
	ErrNotRunning = container.ErrNotRunning
	ErrNotCreated = container.ErrNotCreated
	ErrNotStopped = container.ErrNotStopped
	ErrPaused     = container.ErrPaused
	ErrNotPaused  = container.ErrNotPaused
	ErrNoCgroup   = container.ErrNoCgroup
)

// New returns the runtime a container is configured with: "" or "library" is the in-process
// Library, anything else an OCI runtime binary (a path, or a name looked up in PATH). root is
// the runtime's state root; empty picks the runtime's own default.
func New(runtime, root string) (Runtime, error) {
	if runtime == "" || runtime == "library" {
		return NewLibrary(LibraryConfig{Root: root}), nil
	}
	return NewBinary(BinaryConfig{Path: runtime, Root: root})
}
