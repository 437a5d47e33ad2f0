// Package copy prepares a container's root file system without
// overlayfs: the image's layer directories (overlayfs layer dirs from
// package snapshot) are copied, bottom first, into one plain directory,
// applying their whiteouts and opaque directories the way overlayfs would
// show them. It is the fallback where overlayfs is missing (some nested
// containers, old or locked-down kernels) or when asked for.
//
// It costs a full copy per container, so it is slower and bigger than
// overlay; file data is copied with copy_file_range, which shares extents
// on file systems that can (btrfs, XFS with reflink).
package copy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Rootfs is a container's root made by copying: DIR/merged holds it and
// is written to directly (there is no separate upper dir).
type Rootfs struct {
	Dir string
}

// Merged is the root file system.
func (r Rootfs) Merged() string { return filepath.Join(r.Dir, "merged") }

// Upper is where the container's changes go: the copy itself.
func (r Rootfs) Upper() string { return r.Merged() }

// Unmount does nothing: nothing is mounted. It is there so that a copy
// rootfs can stand where an overlay one does.
func (r Rootfs) Unmount() error { return nil }

// Remove deletes the rootfs with the container's changes.
func (r Rootfs) Remove() error {
	if err := os.RemoveAll(r.Dir); err != nil {
		return fmt.Errorf("remove rootfs %s: %w", r.Dir, err)
	}
	return nil
}

// Prepare makes DIR/merged from the layer dirs lowers, given topmost
// first as for overlayfs. On error nothing is left in dir's merged.
func Prepare(dir string, lowers []string) (Rootfs, error) {
	r := Rootfs{Dir: dir}
	if len(lowers) == 0 {
		return r, errors.New("copy rootfs: no layers")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, fmt.Errorf("prepare rootfs %s: %w", dir, err)
	}
	if err := Build(r.Merged(), lowers); err != nil {
		return r, fmt.Errorf("prepare rootfs %s: %w", dir, err)
	}
	return r, nil
}

// Build makes the directory dst (which must not exist; its parent must)
// from the layer dirs lowers, topmost first; no lowers make it empty. It
// builds next to dst and renames: a crash never leaves a half copy that
// looks whole.
func Build(dst string, lowers []string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for i := len(lowers) - 1; i >= 0; i-- {
		c := &copier{links: map[inode]string{}}
		if err := c.layer(lowers[i], tmp); err != nil {
			return fmt.Errorf("layer %s: %w", lowers[i], err)
		}
	}
	return os.Rename(tmp, dst)
}

type inode struct{ dev, ino uint64 }

// copier copies one layer; links maps the layer's multiply-linked inodes
// to their first copy, so hardlinks stay hardlinks.
type copier struct {
	links map[inode]string
}

const overlayXattrPrefix = "trusted.overlay."

func isOpaque(p string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(p, overlayXattrPrefix+"opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// isWhiteout: overlayfs marks a deleted name with a 0:0 character device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// layer applies the layer dir src onto dst (the rootfs being built).
func (c *copier) layer(src, dst string) error {
	if isOpaque(src) {
		if err := clearDir(dst); err != nil {
			return err
		}
	}
	return c.dir(src, dst)
}

// clearDir removes what dir holds, keeping dir itself.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// dir copies the entries of src into dst, which is a real directory
// (never a symlink: only directories made or checked here are entered).
func (c *copier) dir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := c.entry(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) entry(s, d string) error {
	var st unix.Stat_t
	if err := unix.Lstat(s, &st); err != nil {
		return err
	}
	var dst unix.Stat_t
	derr := unix.Lstat(d, &dst)
	exists := derr == nil
	if derr != nil && !errors.Is(derr, unix.ENOENT) {
		return derr
	}
	if isWhiteout(&st) {
		return os.RemoveAll(d)
	}
	mode := st.Mode & unix.S_IFMT
	if mode == unix.S_IFDIR {
		switch {
		case exists && dst.Mode&unix.S_IFMT == unix.S_IFDIR:
			// Directories merge, unless this layer's is opaque.
			if isOpaque(s) {
				if err := clearDir(d); err != nil {
					return err
				}
			}
		default:
			if exists {
				if err := os.RemoveAll(d); err != nil {
					return err
				}
			}
			if err := unix.Mkdir(d, 0o700); err != nil {
				return err
			}
		}
		if err := c.dir(s, d); err != nil {
			return err
		}
		// The top layer's directory metadata wins; times last, since
		// filling the directory changed them.
		return setMeta(s, d, &st)
	}
	if exists {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if st.Nlink > 1 {
		key := inode{uint64(st.Dev), st.Ino}
		if first, ok := c.links[key]; ok {
			return unix.Linkat(unix.AT_FDCWD, first, unix.AT_FDCWD, d, 0)
		}
		c.links[key] = d
	}
	switch mode {
	case unix.S_IFREG:
		if err := copyFile(s, d); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(s)
		if err != nil {
			return err
		}
		if err := unix.Symlink(target, d); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknod(d, mode|0o600, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: unsupported file type %o", s, mode)
	}
	return setMeta(s, d, &st)
}

func copyFile(s, d string) error {
	in, err := os.Open(s)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(d, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// *os.File to *os.File: io.Copy uses copy_file_range.
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// setMeta gives d the owner, mode, xattrs and times of s (st).
func setMeta(s, d string, st *unix.Stat_t) error {
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := unix.Lchown(d, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", d, err)
	}
	if !isLink {
		// After chown, which clears set-id bits.
		if err := unix.Chmod(d, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
	}
	if err := copyXattrs(s, d); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, d, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times %s: %w", d, err)
	}
	return nil
}

func copyXattrs(s, d string) error {
	names, err := listXattrs(s)
	if err != nil {
		return fmt.Errorf("list xattrs %s: %w", s, err)
	}
	for _, n := range names {
		// overlayfs's own attributes describe the layer dir, not the file.
		if strings.HasPrefix(n, overlayXattrPrefix) {
			continue
		}
		v, err := getXattr(s, n)
		if err != nil {
			return fmt.Errorf("read xattr %s of %s: %w", n, s, err)
		}
		if err := unix.Lsetxattr(d, n, v, 0); err != nil {
			return fmt.Errorf("set xattr %s on %s: %w", n, d, err)
		}
	}
	return nil
}

func listXattrs(p string) ([]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range strings.Split(string(buf[:size]), "\x00") {
		if n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}

func getXattr(p, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:size], nil
}
