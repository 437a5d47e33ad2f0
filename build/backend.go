// Package build builds images from Dockerfiles (read by package
// dockerfile, on BuildKit's parser). It runs each step through a Backend
// that the engine provides and knows nothing of the engine itself: a
// step is a new image made from its parent by unpacking files, running
// a command, or changing the config only.
package build

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is an image of the store as the builder sees it.
type Image struct {
	ID     string // sha256:...
	Config v1.ConfigFile
}

// Backend is what the engine does for the builder.
type Backend interface {
	// Base resolves FROM's image with a pull policy ("missing",
	// "always", "never", as run's --pull). "scratch" never comes here.
	Base(ctx context.Context, ref, pull string) (Image, error)
	// Lookup is the image id if it is still in the store (a cache hit
	// is checked with it).
	Lookup(ctx context.Context, id string) (Image, bool)
	// Step makes a new image on Parent ("" is scratch): the copies are
	// unpacked, then Run runs, and what they changed becomes one layer;
	// with neither only the config changes. Config is the new image's
	// config file less its rootfs, which the backend fills in; its last
	// history entry is the step's.
	Step(ctx context.Context, s Step) (Image, error)
	// Tag points names at the image.
	Tag(ctx context.Context, id string, names []string) error
}

// Step is one layer-making (or config-only) step.
type Step struct {
	Parent string
	Config v1.ConfigFile
	Copies []Copy
	Run    *Run
}

// Copy puts files into the step's root.
type Copy struct {
	// Dest is the absolute directory that Tar is unpacked in; it is
	// made, root-owned, when it is missing.
	Dest string
	// Tar writes the files (names relative to Dest); nil: only Dest.
	Tar func(w io.Writer) error
	// Chown is --chown (user[:group], names resolved in the step's
	// root); empty: root owns the files.
	Chown string
	// IfDir, when it names a directory in the step's root (symlinks
	// followed there), makes Alt the copy instead: a single file copied
	// to a path that is a directory goes into it under its own name.
	IfDir string
	Alt   *Copy
}

// Run is a RUN step's command.
type Run struct {
	Args    []string
	Env     []string // the whole environment: the config's, then the build args
	User    string
	WorkDir string
	Network string // none, host, or "" for the engine's default
	Mounts  []Mount
	// Output gets the command's stdout and stderr.
	Output io.Writer
}

// ExitError is a RUN whose command exited non-zero.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit code: %d", e.Code) }
