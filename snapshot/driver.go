package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/berth-dev/berth/snapshot/archive"
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

// NewDriver returns the snapshotter of the driver named by setting (a
// config field or flag); when it is empty, the one named by
// $BERTH_SNAPSHOTTER; when that is empty too, overlay if this kernel
// mounts it for the store, else copy.
func (s *Store) NewDriver(setting string) (Snapshotter, error) {
	name := setting
	if name == "" {
		name = os.Getenv(EnvDriver)
	}
	switch name {
	case DriverOverlay, "overlay2", "overlayfs":
		return &snapshotter{s: s, d: overlayDriver{}}, nil
	case DriverCopy, "vfs":
		return &snapshotter{s: s, d: copyDriver{}}, nil
	case "":
		if err := s.OverlaySupported(); err != nil {
			return &snapshotter{s: s, d: copyDriver{}}, nil
		}
		return &snapshotter{s: s, d: overlayDriver{}}, nil
	default:
		return nil, fmt.Errorf("unknown snapshot driver %q (want %q or %q)", name, DriverOverlay, DriverCopy)
	}
}

// overlayDriver: an active snapshot is DIR/fs (the upper dir) and DIR/work
// over the parent's layer dirs; its diff is read from the upper dir alone.
// With no parent, or for views of fewer than two layers, a bind mount
// stands in (overlayfs needs a lower layer, and two without an upper).
type overlayDriver struct{}

func (overlayDriver) name() string { return DriverOverlay }

func (overlayDriver) create(dir string, lowers []string, kind Kind) error {
	if err := os.Mkdir(filepath.Join(dir, "fs"), 0o755); err != nil {
		return err
	}
	if kind == KindActive && len(lowers) > 0 {
		return os.Mkdir(filepath.Join(dir, "work"), 0o700)
	}
	return nil
}

func (overlayDriver) mounts(dir string, lowers []string, kind Kind) []Mount {
	fs := filepath.Join(dir, "fs")
	if kind == KindView {
		switch len(lowers) {
		case 0:
			return []Mount{{Type: "bind", Source: fs, Options: []string{"rbind", "ro"}}}
		case 1:
			return []Mount{{Type: "bind", Source: lowers[0], Options: []string{"rbind", "ro"}}}
		}
		return []Mount{{Type: "overlay", Source: "overlay", Options: []string{"ro", "lowerdir=" + join(lowers)}}}
	}
	if len(lowers) == 0 {
		return []Mount{{Type: "bind", Source: fs, Options: []string{"rbind", "rw"}}}
	}
	return []Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + join(lowers), "upperdir=" + fs, "workdir=" + filepath.Join(dir, "work")}}}
}

func join(lowers []string) string { return strings.Join(lowers, ":") }
func (overlayDriver) changes(dir string, lowers []string) (string, []archive.Change, func(), error) {
	fs := filepath.Join(dir, "fs")
	if len(lowers) == 0 {
		c, err := snapcopy.Changes(nil, fs)
		return fs, c, func() {}, err
	}
	c, err := overlay.Changes(fs)
	if err == nil {
		return fs, c, func() {}, nil
	}
	if !errors.Is(err, overlay.ErrNeedsFullDiff) {
		return "", nil, nil, err
	}
	return fullDiff(dir, lowers)
}

// fullDiff compares the merged tree (mounted read-only, the upper dir as
// the top lower layer) with the lowers: for upper dirs whose redirects or
// metacopy files only the stack explains.
func fullDiff(dir string, lowers []string) (string, []archive.Change, func(), error) {
	merged, err := os.MkdirTemp(filepath.Join(dir, ".."), ".diff-")
	if err != nil {
		return "", nil, nil, err
	}
	all := append([]string{filepath.Join(dir, "fs")}, lowers...)
	if err := overlay.MountWith(overlay.Auto, all, "", "", merged, true); err != nil {
		os.Remove(merged)
		return "", nil, nil, err
	}
	done := func() {
		overlay.Unmount(merged)
		os.Remove(merged)
	}
	c, err := snapcopy.Changes(lowers, merged)
	if err != nil {
		done()
		return "", nil, nil, err
	}
	return merged, c, done, nil
}

// copyDriver: a snapshot is DIR/fs, a full copy of its parent's layers,
// bind mounted; its diff compares it with the layers.
type copyDriver struct{}

func (copyDriver) name() string { return DriverCopy }

func (copyDriver) create(dir string, lowers []string, _ Kind) error {
	return snapcopy.Build(filepath.Join(dir, "fs"), lowers)
}

func (copyDriver) mounts(dir string, _ []string, kind Kind) []Mount {
	mode := "rw"
	if kind == KindView {
		mode = "ro"
	}
	return []Mount{{Type: "bind", Source: filepath.Join(dir, "fs"), Options: []string{"rbind", mode}}}
}

func (copyDriver) changes(dir string, lowers []string) (string, []archive.Change, func(), error) {
	fs := filepath.Join(dir, "fs")
	c, err := snapcopy.Changes(lowers, fs)
	return fs, c, func() {}, err
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
