package container

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A container without a mount namespace of its own has its rootfs set up in the caller's: its
// mounts all lie under the rootfs and stay there until delete removes them.

// hostMount is a mount point in the caller's mount namespace and its mount id.
type hostMount struct {
	id   int
	path string
}

// mountsUnder lists the mounts at or under dir in the caller's mount namespace, in the order of
// /proc/self/mountinfo (parents before their children).
func mountsUnder(dir string) ([]hostMount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []hostMount
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, hostMount{id, mp})
		}
	}
	return out, nil
}

// mountIDsUnder returns the ids of the mounts at or under dir, those that were there before the
// container, which its delete must leave alone (an engine's overlay mount of the rootfs), and
// whether dir itself is a mount point.
func mountIDsUnder(dir string) (ids []int, isMount bool, err error) {
	ms, err := mountsUnder(dir)
	if err != nil {
		return nil, false, fmt.Errorf("read mountinfo: %w", err)
	}
	for _, m := range ms {
		ids = append(ids, m.id)
		isMount = isMount || m.path == dir
	}
	return ids, isMount, nil
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space and so on).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder detaches every mount at or under dir but those in keep, the last made first.
func unmountUnder(dir string, keep []int) error {
	var errs []error
	// A mount stacked over another shows up again after its top is gone: a few rounds.
	for round := 0; round < 8; round++ {
		ms, err := mountsUnder(dir)
		if err != nil {
			return fmt.Errorf("read mountinfo: %w", err)
		}
		ms = slices.DeleteFunc(ms, func(m hostMount) bool { return slices.Contains(keep, m.id) })
		if len(ms) == 0 {
			return nil
		}
		errs = errs[:0]
		for i := len(ms) - 1; i >= 0; i-- {
			// An unmount by path takes the top mount there: never one that is to be kept.
			if top, ok := topMountID(ms[i].path); ok && slices.Contains(keep, top) {
				continue
			}
			if err := unix.Unmount(ms[i].path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", ms[i].path, err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return fmt.Errorf("mounts left under %s", dir)
}

// restoreRW makes the rootfs mount writable again (a bind remount changes that mount's flags
// only), keeping its other flags.
func restoreRW(rootfs string) error {
	if lockedFlags(rootfs)&unix.MS_RDONLY == 0 {
		return nil
	}
	flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT) | lockedFlags(rootfs)&^unix.MS_RDONLY
	if err := unix.Mount("", rootfs, "", flags, ""); err != nil {
		return fmt.Errorf("make rootfs %s writable again: %w", rootfs, err)
	}
	return nil
}

// topMountID returns the id of the mount that path resolves into (the top one at a mount point).
func topMountID(path string) (int, bool) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil || stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, false
	}
	return int(stx.Mnt_id), true
}

// sameDir reports whether a and b are the same directory (device and inode).
func sameDir(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino && sa.Mode&unix.S_IFMT == unix.S_IFDIR
}
