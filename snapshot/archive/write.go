package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ChangeKind says what became of a path between a snapshot's parent and the
// snapshot.
type ChangeKind int

const (
	// ChangeAdd: the path is new or changed; the layer carries it whole, as
	// it is in the snapshot's tree.
	ChangeAdd ChangeKind = iota
	// ChangeDelete: the path is gone; the layer carries a whiteout.
	ChangeDelete
)

// Change is one entry of a layer diff.
type Change struct {
	// Path is clean and relative to the root ("etc/passwd").
	Path string
	Kind ChangeKind
	// Opaque (an added directory only): nothing of the parent's directory
	// at Path shows through; the layer carries an opaque marker.
	Opaque bool
}

// SortChanges orders changes so that a directory comes before what is in
// it and the order depends on the paths only (reproducible layers).
func SortChanges(changes []Change) {
	key := func(p string) string { return strings.ReplaceAll(p, "/", "\x00") }
	sort.Slice(changes, func(i, j int) bool { return key(changes[i].Path) < key(changes[j].Path) })
}

// overlayPrivate are the xattrs overlayfs keeps for itself; they describe a
// layer dir, never a file, so no layer carries them.
const overlayPrivate = "trusted.overlay."

// WriteChanges writes changes as an OCI layer tar to w, reading what each
// added path is from the tree root. changes is sorted first. A regular
// file whose inode was written already under another name becomes a
// hardlink to that name: callers list every name of a multiply-linked file
// they want kept linked. Sockets are left out (tar cannot carry them).
func WriteChanges(w io.Writer, root string, changes []Change) error {
	SortChanges(changes)
	tw := tar.NewWriter(w)
	cw := &changeWriter{tw: tw, root: root, links: map[inode]string{}}
	for _, c := range changes {
		if err := cw.write(c); err != nil {
			return fmt.Errorf("write layer entry %q: %w", c.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

type changeWriter struct {
	tw    *tar.Writer
	root  string
	links map[inode]string
	buf   []byte
}

// epoch stamps whiteouts: they are markers, not files, and a fixed time keeps
// layers reproducible.
var epoch = time.Unix(0, 0)

func (cw *changeWriter) write(c Change) error {
	if c.Path == "" || c.Path == "." || path.Clean(c.Path) != c.Path || strings.HasPrefix(c.Path, "/") || strings.HasPrefix(c.Path, "../") {
		return errors.New("not a clean relative path")
	}
	if c.Kind == ChangeDelete {
		dir, base := path.Split(c.Path)
		return cw.tw.WriteHeader(&tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg,
			ModTime: epoch, Format: tar.FormatPAX})
	}
	p := filepath.Join(cw.root, c.Path)
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	hdr := &tar.Header{
		Name:    c.Path,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, c.Path+"/"
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := cw.links[key]; ok {
				hdr.Typeflag, hdr.Size, hdr.Linkname = tar.TypeLink, 0, first
			} else {
				cw.links[key] = c.Path
			}
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFSOCK:
		return nil
	default:
		return fmt.Errorf("unsupported file type %o", st.Mode&unix.S_IFMT)
	}
	if hdr.Typeflag != tar.TypeLink {
		xattrs, err := Xattrs(p)
		if err != nil {
			return err
		}
		for k, v := range xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	if err := cw.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		if cw.buf == nil {
			cw.buf = make([]byte, 64<<10)
		}
		n, err := io.CopyBuffer(cw.tw, io.LimitReader(f, hdr.Size), cw.buf)
		f.Close()
		if err != nil {
			return err
		}
		if n != hdr.Size {
			return fmt.Errorf("file shrank while it was read (%d of %d bytes)", n, hdr.Size)
		}
	}
	if c.Opaque && hdr.Typeflag == tar.TypeDir {
		return cw.tw.WriteHeader(&tar.Header{Name: c.Path + "/" + opaqueMarker, Typeflag: tar.TypeReg,
			ModTime: epoch, Format: tar.FormatPAX})
	}
	return nil
}

// Xattrs returns p's extended attributes (not following a symlink) except
// overlayfs's private ones.
func Xattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	var out map[string]string
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" || strings.HasPrefix(name, overlayPrivate) {
			continue
		}
		vsize, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, fmt.Errorf("read xattr %s of %s: %w", name, p, err)
		}
		v := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(p, name, v)
		if err != nil {
			return nil, fmt.Errorf("read xattr %s of %s: %w", name, p, err)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = string(v[:vsize])
	}
	return out, nil
}
