package snapshot

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot/overlay"
)

// Mount is one mount of a snapshot, as mount(8) would take it: an overlay
// (options lowerdir=, upperdir=, workdir=, ro) or a bind (options rbind or
// bind, ro or rw). Paths are absolute. An overlay with many layers may not
// fit mount(2)'s one page of options: Mount.Mount knows how to mount it
// anyway; a caller that mounts by other means (an OCI runtime) must too.
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// Mount mounts m on target.
func (m Mount) Mount(target string) error { return m.MountWith(target, overlay.Auto) }

// MountWith is Mount with the overlay mount method forced (tests).
func (m Mount) MountWith(target string, method overlay.Method) error {
	ro := false
	var rest []string
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw":
		default:
			rest = append(rest, o)
		}
	}
	switch m.Type {
	case "bind":
		flags := uintptr(unix.MS_BIND)
		for _, o := range rest {
			switch o {
			case "rbind":
				flags |= unix.MS_REC
			case "bind":
			default:
				return fmt.Errorf("bind mount %s: unknown option %q", m.Source, o)
			}
		}
		if err := unix.Mount(m.Source, target, "", flags, ""); err != nil {
			return fmt.Errorf("bind mount %s on %s: %w", m.Source, target, err)
		}
		if ro {
			if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				unix.Unmount(target, unix.MNT_DETACH)
				return fmt.Errorf("read-only remount of %s: %w", target, err)
			}
		}
		return nil
	case "overlay":
		var lowers []string
		var upper, work string
		for _, o := range rest {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "lowerdir":
				lowers = strings.Split(v, ":")
			case "upperdir":
				upper = v
			case "workdir":
				work = v
			default:
				return fmt.Errorf("overlay mount: unsupported option %q", o)
			}
		}
		return overlay.MountWith(method, lowers, upper, work, target, ro)
	}
	return fmt.Errorf("mount on %s: unknown type %q", target, m.Type)
}

// MountAll mounts mounts on target, one on the other.
func MountAll(mounts []Mount, target string) error {
	if len(mounts) == 0 {
		return errors.New("mount: nothing to mount")
	}
	for i, m := range mounts {
		if err := m.Mount(target); err != nil {
			for range i {
				unix.Unmount(target, 0)
			}
			return err
		}
	}
	return nil
}

// Unmount unmounts everything on target; nothing mounted is not an error.
func Unmount(target string) error {
	for range 16 {
		err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted", target)
}
