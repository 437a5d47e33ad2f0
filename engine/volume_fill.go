package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// FillVolume is Docker's copy-up: when the volume's data is empty and dst
// (a path inside the container) is a directory of the container's rootfs,
// its tree is copied into the volume, with owners, modes, times, xattrs
// (best effort), symlinks as links, hardlinks as links, device nodes and
// fifos; the volume's top directory takes dst's owner and mode. A dst
// that is missing or not a directory leaves the volume as it is.
//
// The rootfs is the image author's: dst is resolved inside it (a symlink
// on the way cannot lead out), and the walk never follows a symlink, on
// either side. Every step works on directory descriptors already checked,
// so a container that runs with the volume mounted while it is filled
// cannot steer the copy elsewhere by swapping in symlinks.
func (e *Engine) FillVolume(v Volume, rootfs, dst string) error {
	if err := ValidVolumeName(v.Name); err != nil {
		return fmt.Errorf("fill volume: %w", err)
	}
	data := e.volumeData(v.Name)
	fail := func(err error) error { return fmt.Errorf("fill volume %s from %s: %w", v.Name, dst, err) }
	df, err := os.OpenFile(data, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer df.Close()
	dataFd := int(df.Fd())
	// Two containers that start with one new volume: the second waits,
	// then finds it full. (The lock goes with the descriptor.)
	if err := unix.Flock(dataFd, unix.LOCK_EX); err != nil {
		return fail(err)
	}
	if _, err := df.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err != nil {
			return fail(err)
		}
		return nil // not empty: the volume has its data
	}
	h, err := securejoin.OpenInRoot(rootfs, dst)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil
		}
		return fail(err)
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return fail(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	src, err := securejoin.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	c := &filler{root: dataFd, links: map[fillInode]string{}}
	if err := c.dir(src, dataFd, ""); err != nil {
		// What was copied goes, so that the next start fills it again
		// rather than finding a half volume that looks whole.
		for _, name := range c.top {
			os.RemoveAll(filepath.Join(data, name))
		}
		return fail(err)
	}
	if err := unix.Fchown(dataFd, int(st.Uid), int(st.Gid)); err != nil {
		return fail(err)
	}
	if err := unix.Fchmod(dataFd, st.Mode&0o7777); err != nil {
		return fail(err)
	}
	return nil
}

type fillInode struct{ dev, ino uint64 }

// filler copies one tree into a volume's data (root, a descriptor);
// links maps each multiply-linked source inode to the path of its first
// copy, relative to root.
type filler struct {
	root  int
	links map[fillInode]string
	top   []string // names made in root, undone on failure
}

// dir copies the entries of src into the directory dstFd.
func (c *filler) dir(src *os.File, dstFd int, rel string) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", fillRel(rel), err)
	}
	for _, name := range names {
		if rel == "" {
			c.top = append(c.top, name)
		}
		if err := c.entry(int(src.Fd()), dstFd, name, path.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

func fillRel(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// fillFault, set by tests only, fails the copy of an entry.
var fillFault func(rel string) error

func (c *filler) entry(srcFd, dstFd int, name, rel string) error {
	if fillFault != nil {
		if err := fillFault(rel); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstatat(srcFd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", rel, err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		key := fillInode{st.Dev, st.Ino}
		if first, ok := c.links[key]; ok {
			if err := c.link(first, dstFd, name); err == nil {
				return nil
			}
			// A link that cannot be made (too many links) is a copy.
		} else {
			c.links[key] = rel
		}
	}
	var err error
	switch typ {
	case unix.S_IFDIR:
		err = c.copyDir(srcFd, dstFd, name, rel, &st)
	case unix.S_IFREG:
		err = fillFile(srcFd, dstFd, name, &st)
	case unix.S_IFLNK:
		err = fillSymlink(srcFd, dstFd, name, &st)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		err = fillNode(srcFd, dstFd, name, &st)
	default:
		err = fmt.Errorf("unsupported file type %o", typ)
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	// Times last: filling a directory changed its own.
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dstFd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("copy %s: times: %w", rel, err)
	}
	return nil
}

// link hardlinks the earlier copy first (relative to the root) as name
// in dstFd, resolving first with no symlinks and never out of the root.
func (c *filler) link(first string, dstFd int, name string) error {
	parent, base := path.Split(first)
	pfd, err := unix.Openat2(c.root, fillRel(strings.TrimSuffix(parent, "/")), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	return unix.Linkat(pfd, base, dstFd, name, 0)
}

// fillOpenSame opens name in dirFd without following it and checks that it
// is still the inode st describes (it may have been swapped since).
func fillOpenSame(dirFd int, name string, flags int, st *unix.Stat_t) (*os.File, error) {
	fd, err := unix.Openat(dirFd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino {
		unix.Close(fd)
		return nil, errors.New("changed while being copied")
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (c *filler) copyDir(srcFd, dstFd int, name, rel string, st *unix.Stat_t) error {
	s, err := fillOpenSame(srcFd, name, unix.O_RDONLY|unix.O_DIRECTORY, st)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := unix.Mkdirat(dstFd, name, 0o700); err != nil {
		return err
	}
	dfd, err := unix.Openat(dstFd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := c.dir(s, dfd, rel); err != nil {
		return err
	}
	return fillMeta(int(s.Fd()), dfd, st)
}

func fillFile(srcFd, dstFd int, name string, st *unix.Stat_t) error {
	// O_NONBLOCK: if a fifo was swapped in, opening it must not hang
	// (fillOpenSame then refuses it).
	s, err := fillOpenSame(srcFd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, st)
	if err != nil {
		return err
	}
	defer s.Close()
	dfd, err := unix.Openat(dstFd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dfd), name)
	defer d.Close()
	// File to file: io.Copy uses copy_file_range, which shares extents
	// where the file system can.
	if _, err := io.Copy(d, s); err != nil {
		return err
	}
	return fillMeta(int(s.Fd()), dfd, st)
}

// fillMeta gives the open dst the owner, mode and xattrs of src: chown
// first (it clears set-id bits and file capabilities), xattrs last.
func fillMeta(src, dst int, st *unix.Stat_t) error {
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	fillXattrs(
		func(b []byte) (int, error) { return unix.Flistxattr(src, b) },
		func(n string, b []byte) (int, error) { return unix.Fgetxattr(src, n, b) },
		func(n string, v []byte) error { return unix.Fsetxattr(dst, n, v, 0) },
	)
	return nil
}

func fillSymlink(srcFd, dstFd int, name string, st *unix.Stat_t) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(srcFd, name, buf)
	if err != nil {
		return err
	}
	if err := unix.Symlinkat(string(buf[:n]), dstFd, name); err != nil {
		return err
	}
	if err := unix.Fchownat(dstFd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	// Only trusted.* and security.* may sit on a symlink; l*xattr on
	// the name under /proc/self/fd/DIR never follows it.
	sp, dp := fillFdPath(srcFd, name), fillFdPath(dstFd, name)
	fillXattrs(
		func(b []byte) (int, error) { return unix.Llistxattr(sp, b) },
		func(n string, b []byte) (int, error) { return unix.Lgetxattr(sp, n, b) },
		func(n string, v []byte) error { return unix.Lsetxattr(dp, n, v, 0) },
	)
	return nil
}

func fillNode(srcFd, dstFd int, name string, st *unix.Stat_t) error {
	typ := st.Mode & unix.S_IFMT
	if err := unix.Mknodat(dstFd, name, typ|0o600, int(st.Rdev)); err != nil {
		return err
	}
	// chmod has no descriptor form for a node that cannot be opened
	// for I/O: an O_PATH descriptor, checked to be the node, is named
	// through /proc.
	fd, err := unix.Openat(dstFd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if now.Mode&unix.S_IFMT != typ {
		return errors.New("changed while being copied")
	}
	if err := unix.Fchownat(fd, "", int(st.Uid), int(st.Gid), unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Chmod(p, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	sp := fillFdPath(srcFd, name)
	fillXattrs(
		func(b []byte) (int, error) { return unix.Llistxattr(sp, b) },
		func(n string, b []byte) (int, error) { return unix.Lgetxattr(sp, n, b) },
		func(n string, v []byte) error { return unix.Setxattr(p, n, v, 0) },
	)
	return nil
}

func fillFdPath(dirFd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirFd) + "/" + name
}

// fillXattrs copies extended attributes, best effort: a file system or
// namespace that refuses one (no user xattrs on tmpfs, security.* without
// the capability) does not stop the copy. overlayfs's own are skipped.
func fillXattrs(list func([]byte) (int, error), get func(string, []byte) (int, error), set func(string, []byte) error) {
	sz, err := list(nil)
	if err != nil || sz <= 0 {
		return
	}
	buf := make([]byte, sz)
	if sz, err = list(buf); err != nil {
		return
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		n, err := get(name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, n)
		if n, err = get(name, val); err != nil {
			continue
		}
		set(name, val[:n])
	}
}
