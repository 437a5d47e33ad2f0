package inroot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Archive writes p, resolved as Lstat does, to w as a tar whose entries
// start with name (a directory's own entry is "name/", its files
// "name/..."): Docker's archive of a container path. name "." gives
// "./" and "./...", the form of SRC/. in `docker cp`.
func (r *Root) Archive(w io.Writer, p, name string) error {
	fd, err := r.open(p, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	defer unix.Close(fd)
	tw := tar.NewWriter(w)
	aw := &archiver{tw: tw, links: map[[2]uint64]string{}}
	if err := aw.write(fd, name); err != nil {
		return err
	}
	return tw.Close()
}

// ArchiveTree writes the whole root to w with names relative to it and
// no entry for the root itself, as `docker export` does.
func (r *Root) ArchiveTree(w io.Writer) error {
	tw := tar.NewWriter(w)
	aw := &archiver{tw: tw, links: map[[2]uint64]string{}}
	dfd, err := reopen(r.fd, unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open root: %w", err)
	}
	if err := aw.children(dfd, ""); err != nil {
		return err
	}
	return tw.Close()
}

type archiver struct {
	tw    *tar.Writer
	links map[[2]uint64]string // first name of each multiply-linked file
	buf   []byte
}

// write writes the file of the O_PATH fd as name, and what is below it.
func (a *archiver) write(fd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec), Format: tar.FormatPAX,
	}
	var content int = -1 // an fd to read contents or entries from
	defer func() {
		if content >= 0 {
			unix.Close(content)
		}
	}()
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		if !strings.HasSuffix(hdr.Name, "/") {
			hdr.Name += "/"
		}
		if content, err = reopen(fd, unix.O_DIRECTORY); err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := a.links[key]; ok {
				hdr.Typeflag, hdr.Size, hdr.Linkname = tar.TypeLink, 0, first
				return a.tw.WriteHeader(hdr)
			}
			a.links[key] = name
		}
		if content, err = reopen(fd, unix.O_NONBLOCK); err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(buf[:n])
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets: tar cannot carry them
	}
	if content >= 0 {
		xattrs, err := fdXattrs(content)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for k, v := range xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if a.buf == nil {
			a.buf = make([]byte, 64<<10)
		}
		f := os.NewFile(uintptr(content), name)
		content = -1 // f owns it now
		n, err := io.CopyBuffer(a.tw, io.LimitReader(f, hdr.Size), a.buf)
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("read %s: it shrank while it was read (%d of %d bytes)", name, n, hdr.Size)
		}
	case tar.TypeDir:
		dfd := content
		content = -1
		return a.children(dfd, hdr.Name)
	}
	return nil
}

// children writes the entries of the directory dfd (which it closes),
// named prefix+NAME.
func (a *archiver) children(dfd int, prefix string) error {
	d := os.NewFile(uintptr(dfd), prefix)
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return fmt.Errorf("read directory %s: %w", prefix, err)
	}
	sort.Strings(names)
	defer d.Close()
	for _, n := range names {
		// One component, not followed: a child swapped for a symlink is
		// archived as that symlink.
		cfd, err := unix.Openat(dfd, n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", path.Join(prefix, n), err)
		}
		err = a.write(cfd, prefix+n)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// overlayPrivate are xattrs overlayfs keeps for itself.
const overlayPrivate = "trusted.overlay."

func fdXattrs(fd int) (map[string]string, error) {
	size, err := unix.Flistxattr(fd, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	buf := make([]byte, size)
	if size, err = unix.Flistxattr(fd, buf); err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	var out map[string]string
	for _, k := range strings.Split(string(buf[:size]), "\x00") {
		if k == "" || strings.HasPrefix(k, overlayPrivate) {
			continue
		}
		n, err := unix.Fgetxattr(fd, k, nil)
		if err != nil {
			continue // removed meanwhile
		}
		v := make([]byte, n)
		if n, err = unix.Fgetxattr(fd, k, v); err != nil {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = string(v[:n])
	}
	return out, nil
}
