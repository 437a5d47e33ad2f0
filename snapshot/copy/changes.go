package copy

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot/archive"
)

// Changes compares the plain tree root with what the layer dirs lowers
// (topmost first) show stacked, the way Prepare or overlayfs would show
// them, and returns what a layer on top of lowers needs to turn them into
// root. A path counts as changed when its type, mode, owner, size,
// modification time (to the nanosecond: copies keep it), device, symlink
// target or xattrs differ. Parents of every change are listed too (with
// their own metadata), and every name of a changed multiply-linked file,
// so that hardlinks stay links within the layer.
func Changes(lowers []string, root string) ([]archive.Change, error) {
	w := &walker{root: root, inodes: map[inode][]string{}, byPath: map[string]inode{}, changed: map[string]bool{}}
	var top []string
	for _, l := range lowers {
		top = append(top, l)
		if isOpaque(l) {
			break
		}
	}
	if err := w.dir("", top); err != nil {
		return nil, err
	}
	// Every parent of a change, so the layer carries their metadata.
	for _, c := range append([]archive.Change(nil), w.out...) {
		for d := path.Dir(c.Path); d != "."; d = path.Dir(d) {
			w.add(d)
		}
	}
	// Every name of a changed linked file.
	for _, c := range append([]archive.Change(nil), w.out...) {
		if ino, ok := w.byPath[c.Path]; ok && c.Kind == archive.ChangeAdd {
			for _, n := range w.inodes[ino] {
				w.add(n)
			}
		}
	}
	return w.out, nil
}

type walker struct {
	root    string
	out     []archive.Change
	changed map[string]bool
	inodes  map[inode][]string // multiply-linked files of root, by inode
	byPath  map[string]inode
}

func (w *walker) add(rel string) {
	if !w.changed[rel] {
		w.changed[rel] = true
		w.out = append(w.out, archive.Change{Path: rel, Kind: archive.ChangeAdd})
	}
}

type lowerEnt struct {
	path string
	st   unix.Stat_t
}

// union lists the entries a directory shows when its layer dirs (topmost
// first, already cut at an opaque one) are stacked.
func union(dirs []string) (map[string]lowerEnt, error) {
	out := map[string]lowerEnt{}
	seen := map[string]bool{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			p := filepath.Join(d, e.Name())
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return nil, err
			}
			if isWhiteout(&st) {
				continue
			}
			out[e.Name()] = lowerEnt{path: p, st: st}
		}
	}
	return out, nil
}

// childDirs: the layer dirs that make up the directory name below dirs.
func childDirs(dirs []string, name string) []string {
	var out []string
	for _, d := range dirs {
		p := filepath.Join(d, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			break // a file or whiteout here hides the layers below
		}
		out = append(out, p)
		if isOpaque(p) {
			break
		}
	}
	return out
}

func (w *walker) dir(rel string, lowerDirs []string) error {
	entries, err := os.ReadDir(filepath.Join(w.root, rel))
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	lower, err := union(lowerDirs)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	for _, e := range entries {
		r := path.Join(rel, e.Name())
		p := filepath.Join(w.root, r)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1 {
			ino := inode{uint64(st.Dev), st.Ino}
			w.inodes[ino] = append(w.inodes[ino], r)
			w.byPath[r] = ino
		}
		l, ok := lower[e.Name()]
		delete(lower, e.Name())
		var sub []string
		switch {
		case !ok:
			w.add(r)
		case l.st.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT:
			w.add(r)
		default:
			same, err := sameEntry(p, &st, l.path, &l.st)
			if err != nil {
				return fmt.Errorf("diff: %w", err)
			}
			if !same {
				w.add(r)
			}
			if isDir {
				sub = childDirs(lowerDirs, e.Name())
			}
		}
		if isDir {
			if err := w.dir(r, sub); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(lower)) {
		w.out = append(w.out, archive.Change{Path: path.Join(rel, name), Kind: archive.ChangeDelete})
	}
	return nil
}

func sameEntry(p string, st *unix.Stat_t, lp string, lst *unix.Stat_t) (bool, error) {
	if st.Mode != lst.Mode || st.Uid != lst.Uid || st.Gid != lst.Gid || st.Mtim != lst.Mtim {
		return false, nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if st.Size != lst.Size {
			return false, nil
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if st.Rdev != lst.Rdev {
			return false, nil
		}
	case unix.S_IFLNK:
		a, err := os.Readlink(p)
		if err != nil {
			return false, err
		}
		b, err := os.Readlink(lp)
		if err != nil {
			return false, err
		}
		if a != b {
			return false, nil
		}
	}
	xa, err := archive.Xattrs(p)
	if err != nil && !errors.Is(err, unix.ENODATA) {
		return false, err
	}
	xb, err := archive.Xattrs(lp)
	if err != nil && !errors.Is(err, unix.ENODATA) {
		return false, err
	}
	return maps.Equal(xa, xb), nil
}
