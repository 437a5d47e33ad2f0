package inroot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ExtractOptions tune Extract.
type ExtractOptions struct {
	// Owner, when set, owns every file made ({0, 0}: the container's
	// root, what `docker cp` gives without -a); nil keeps the tar's.
	Owner *[2]int
	// NoChown leaves files to the caller (a copy to the host).
	NoChown bool
}

// ErrOutside is wrapped by errors about entries that name a path outside
// the extraction directory.
var ErrOutside = errors.New("outside of the destination")

// Extract unpacks the tar r into the directory dir (resolved inside the
// root). Entry names are confined below dir ("..", absolute names: an
// error); symlinks met on the way, old or just extracted, are followed
// inside the root only. Existing files are replaced, existing directories
// merged into; a directory never replaces a non-directory nor the
// reverse (Docker's cp refuses both).
func (r *Root) Extract(dir string, rd io.Reader, opts ExtractOptions) error {
	dfd, err := r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	unix.Close(dfd)
	x := &extractor{r: r, dir: path.Clean("/" + dir), opts: opts, pfd: -1}
	defer x.closeParent()
	tr := tar.NewReader(rd)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extract %q: %w", hdr.Name, err)
		}
	}
	return x.finishDirs()
}

type dirTime struct {
	path string
	ts   []unix.Timespec
}

type extractor struct {
	r    *Root
	dir  string
	opts ExtractOptions
	// The parent of the last entry, most often the next one's too.
	parent string
	pfd    int
	dirs   []dirTime
	buf    []byte
}

func (x *extractor) closeParent() {
	if x.pfd >= 0 {
		unix.Close(x.pfd)
		x.pfd, x.parent = -1, ""
	}
}

// confine cleans a tar name to a path below the extraction directory.
func confine(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	depth := 0
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return "", fmt.Errorf("%w: %q climbs above it", ErrOutside, name)
			}
		default:
			depth++
		}
	}
	return path.Clean("/" + name), nil
}

// parentFD opens (making missing directories as tar does) the directory
// p inside the root.
func (x *extractor) parentFD(p string) (int, error) {
	if x.pfd >= 0 && x.parent == p {
		return x.pfd, nil
	}
	x.closeParent()
	fd, err := x.r.open(p, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		fd, err = x.mkdirAll(p)
	}
	if err != nil {
		return -1, fmt.Errorf("open directory %s: %w", p, err)
	}
	x.pfd, x.parent = fd, p
	return fd, nil
}

// mkdirAll makes the missing directories of p one component at a time,
// each relative to the one before.
func (x *extractor) mkdirAll(p string) (int, error) {
	fd, err := x.r.open("/", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	done := "/"
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		if c == "" {
			continue
		}
		next := path.Join(done, c)
		nfd, err := x.r.open(next, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(fd, c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(fd)
				return -1, err
			}
			if err := x.chown(fd, c, 0, 0); err != nil {
				unix.Close(fd)
				return -1, err
			}
			nfd, err = x.r.open(next, unix.O_PATH|unix.O_DIRECTORY)
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd, done = nfd, next
	}
	return fd, nil
}

// chown sets base's owner in pfd (not following a symlink): Owner, else
// the tar's.
func (x *extractor) chown(pfd int, base string, uid, gid int) error {
	if x.opts.NoChown {
		return nil
	}
	if x.opts.Owner != nil {
		uid, gid = x.opts.Owner[0], x.opts.Owner[1]
	}
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader:
		return nil
	}
	name, err := confine(hdr.Name)
	if err != nil {
		return err
	}
	full := path.Join(x.dir, name)
	if full == x.dir {
		return nil // the directory itself ("./"): it is there already
	}
	parent, base := path.Split(full)
	pfd, err := x.parentFD(path.Clean(parent))
	if err != nil {
		return err
	}
	isDir := hdr.Typeflag == tar.TypeDir
	var st unix.Stat_t
	switch err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil:
		existsDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case existsDir && !isDir:
			return fmt.Errorf("cannot overwrite directory %q with non-directory %q", full, hdr.Name)
		case !existsDir && isDir:
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q", full, hdr.Name)
		case !existsDir:
			if err := unix.Unlinkat(pfd, base, 0); err != nil {
				return fmt.Errorf("replace: %w", err)
			}
		}
	case !errors.Is(err, unix.ENOENT):
		return err
	}

	mode := uint32(hdr.Mode) & 0o7777
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if hdr.AccessTime.IsZero() {
		ts[0] = ts[1]
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open directory: %w", err)
		}
		defer unix.Close(fd)
		if err := x.finish(hdr, fd, mode); err != nil {
			return err
		}
		// Entries extracted into it change its times: set them last.
		x.dirs = append(x.dirs, dirTime{full, ts})
		return nil
	//lint:ignore SA1019 old archives still carry the pre-POSIX regular-file type.
	case tar.TypeReg, tar.TypeRegA:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		f := os.NewFile(uintptr(fd), full)
		defer f.Close()
		if x.buf == nil {
			x.buf = make([]byte, 64<<10)
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{f}, r, x.buf); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if err := x.finish(hdr, fd, mode); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if hdr.Linkname == "" || strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return errors.New("invalid symlink target")
		}
		// Any target is fine: it is only ever followed inside the root.
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		if err := x.chown(pfd, base, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	case tar.TypeLink:
		return x.hardlink(hdr.Linkname, pfd, base)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, typ|mode, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != typ {
			return fmt.Errorf("%s changed while it was made", full)
		}
		if err := x.chown(pfd, base, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
		// The umask took bits off: chmod the inode through its fd.
		if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// finish sets the owner, mode and xattrs of a file or directory just made
// (fd open on it).
func (x *extractor) finish(hdr *tar.Header, fd int, mode uint32) error {
	if !x.opts.NoChown {
		uid, gid := hdr.Uid, hdr.Gid
		if x.opts.Owner != nil {
			uid, gid = x.opts.Owner[0], x.opts.Owner[1]
		}
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	// chmod after chown: chown clears the set-id bits.
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || strings.HasPrefix(attr, overlayPrivate) {
			continue
		}
		if err := unix.Fsetxattr(fd, attr, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

// hardlink links base in pfd to linkname, an earlier entry of the tar.
func (x *extractor) hardlink(linkname string, pfd int, base string) error {
	name, err := confine(linkname)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	target := path.Join(x.dir, name)
	tfd, err := x.r.open(path.Dir(target), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, path.Base(target), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hardlink target %q is a directory", linkname)
	}
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink.
	if err := unix.Linkat(tfd, path.Base(target), pfd, base, 0); err != nil {
		return fmt.Errorf("hardlink: %w", err)
	}
	return nil
}

// finishDirs sets the times of the directories extracted, deepest first.
func (x *extractor) finishDirs() error {
	x.closeParent()
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		pfd, err := x.r.open(path.Dir(d.path), unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue // gone meanwhile
		}
		var st unix.Stat_t
		base := path.Base(d.path)
		if unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := unix.UtimesNanoAt(pfd, base, d.ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				unix.Close(pfd)
				return fmt.Errorf("set times of %s: %w", d.path, err)
			}
		}
		unix.Close(pfd)
	}
	return nil
}
