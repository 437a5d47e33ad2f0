package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	snapcopy "github.com/berth-dev/berth/snapshot/copy"
	"github.com/berth-dev/berth/snapshot/overlay"
)

// Driver names, as given to --storage-driver or $BERTH_SNAPSHOTTER.
const (
	DriverOverlay = "overlay"
	DriverCopy    = "copy"
)

// EnvDriver forces a snapshot driver when no setting names one.
const EnvDriver = "BERTH_SNAPSHOTTER"

// Rootfs is a container's writable root file system, whichever driver
// made it.
type Rootfs interface {
	// Merged is the directory to use as the container's root.
	Merged() string
	// Upper holds the container's changes (the whole copy for "copy").
	Upper() string
	// Unmount releases the root but keeps the container's changes.
	Unmount() error
	// Remove unmounts and deletes the root with the changes.
	Remove() error
}

// Driver makes container roots from an image's layer dirs.
type Driver interface {
	Name() string
	// Prepare makes the root in dir from lowers (topmost first, as
	// Store.LowerDirs gives them).
	Prepare(dir string, lowers []string) (Rootfs, error)
}

type overlayDriver struct{}

func (overlayDriver) Name() string { return DriverOverlay }
func (overlayDriver) Prepare(dir string, lowers []string) (Rootfs, error) {
	r, err := overlay.Prepare(dir, lowers)
	if err != nil {
		return nil, err
	}
	return r, nil
}

type copyDriver struct{}

func (copyDriver) Name() string { return DriverCopy }
func (copyDriver) Prepare(dir string, lowers []string) (Rootfs, error) {
	r, err := snapcopy.Prepare(dir, lowers)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// NewDriver returns the driver named by setting (a config field or flag);
// when it is empty, the one named by $BERTH_SNAPSHOTTER; when that is
// empty too, overlay if this kernel mounts it for the store, else copy.
func (s *Store) NewDriver(setting string) (Driver, error) {
	name := setting
	if name == "" {
		name = os.Getenv(EnvDriver)
	}
	switch name {
	case DriverOverlay, "overlay2", "overlayfs":
		return overlayDriver{}, nil
	case DriverCopy, "vfs":
		return copyDriver{}, nil
	case "":
		if err := s.OverlaySupported(); err != nil {
			return copyDriver{}, nil
		}
		return overlayDriver{}, nil
	default:
		return nil, fmt.Errorf("unknown snapshot driver %q (want %q or %q)", name, DriverOverlay, DriverCopy)
	}
}

var overlayProbe struct {
	sync.Mutex
	done map[string]error
}

// OverlaySupported tells, by mounting a tiny overlay under the store's
// tmp dir once per process, whether overlayfs works here: the kernel may
// lack it, or refuse it on this file system or in this user namespace.
func (s *Store) OverlaySupported() error {
	overlayProbe.Lock()
	defer overlayProbe.Unlock()
	if err, ok := overlayProbe.done[s.dir]; ok {
		return err
	}
	err := probeOverlay(filepath.Join(s.dir, "tmp"))
	if overlayProbe.done == nil {
		overlayProbe.done = map[string]error{}
	}
	overlayProbe.done[s.dir] = err
	return err
}

func probeOverlay(tmp string) error {
	dir, err := os.MkdirTemp(tmp, "probe-")
	if err != nil {
		return fmt.Errorf("overlay probe: %w", err)
	}
	defer os.RemoveAll(dir)
	p := func(n string) string { return filepath.Join(dir, n) }
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(p(d), 0o700); err != nil {
			return fmt.Errorf("overlay probe: %w", err)
		}
	}
	if err := overlay.Mount([]string{p("lower")}, p("upper"), p("work"), p("merged")); err != nil {
		return err
	}
	return overlay.Unmount(p("merged"))
}
