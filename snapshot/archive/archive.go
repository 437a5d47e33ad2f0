// Package archive unpacks image layers (tar streams) into directories.
//
// This is the one place in Berth that writes paths chosen by an untrusted
// party, so it never follows a path outside its target: entry names with
// "..", absolute names, symlinks whose targets climb above the root,
// hardlinks to files outside the root and parent directories reached
// through symlinks that leave the root are all rejected with an error.
// Every file is created relative to a directory file descriptor opened with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), so even a bug in the path
// resolver here cannot make the kernel leave the root.
package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// WhiteoutMode says what to do with OCI whiteout entries (".wh.NAME" and
// the opaque marker ".wh..wh..opq").
type WhiteoutMode int

const (
	// WhiteoutOverlay writes the layer as an overlayfs layer directory: a
	// whiteout becomes a 0:0 character device and an opaque marker becomes
	// the trusted.overlay.opaque="y" xattr on its directory, so that the
	// layer can be stacked by overlayfs as is.
	WhiteoutOverlay WhiteoutMode = iota
	// WhiteoutApply applies the layer onto a directory that already holds
	// the lower layers (the copy driver): whiteouts delete what they name.
	WhiteoutApply
)

// Options tune Apply and Extract.
type Options struct {
	Whiteouts WhiteoutMode
	// NoChown skips setting ownership (the files belong to the caller).
	NoChown bool
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	// maxSymlinkHops bounds symlink resolution, as the kernel's ELOOP does.
	maxSymlinkHops = 40
)

// ErrEscape is wrapped by errors about entries that try to leave the root.
var ErrEscape = errors.New("path escapes the layer root")

// EntryError names the tar entry that made unpacking fail.
type EntryError struct {
	Entry string
	Err   error
}

func (e *EntryError) Error() string { return fmt.Sprintf("layer entry %q: %v", e.Entry, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// Extract unpacks the tar stream r into target, which must not exist yet.
// It unpacks into a temporary directory next to target and renames it into
// place only when the whole stream was unpacked: on error nothing is left.
func Extract(r io.Reader, target string, opts Options) error {
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("extract to %s: target already exists", target)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("extract to %s: %w", target, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-")
	if err != nil {
		return fmt.Errorf("extract to %s: %w", target, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("extract to %s: %w", target, err)
	}
	if err := Apply(r, tmp, opts); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("extract to %s: %w", target, err)
	}
	return nil
}

// Apply unpacks the tar stream r into the existing directory dir. It is not
// atomic: on error dir holds part of the layer (Extract cleans up for its
// callers). It reads r to its end, so a caller hashing the stream sees all
// of it.
func Apply(r io.Reader, dir string, opts Options) error {
	rootfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open layer root %s: %w", dir, err)
	}
	defer unix.Close(rootfd)
	u := &unpacker{root: dir, rootfd: rootfd, opts: opts, created: map[string]bool{}, parentFD: -1}
	defer u.forget()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return &EntryError{Entry: hdr.Name, Err: err}
		}
	}
	if err := u.finishDirs(); err != nil {
		return err
	}
	// Drain the tar padding after the end marker so a caller that hashes
	// the stream sees every byte.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("read layer tar: %w", err)
	}
	return nil
}

type dirTimes struct {
	rel string
	ts  []unix.Timespec
}

type unpacker struct {
	root    string
	rootfd  int
	opts    Options
	created map[string]bool // real relative paths written by this layer
	dirs    []dirTimes

	// parents caches, by entry parent as named in the tar, the real directory resolveDir
	// found (or made) for it; parentFD is an O_PATH fd of the last one (parentRel), since
	// most entries share the parent of the one before. Resolving and opening every parent
	// again was a third of the time per entry. Both are dropped when anything is removed
	// (a replaced entry, a whiteout, an opaque directory) or a symlink made, the only ways
	// a cached path could come to resolve differently.
	parents   map[string]string
	parentRel string
	parentFD  int
	buf       []byte // copy buffer for file contents
}

// parentDir resolves (making missing directories) and opens the parent directory of an
// entry, through the cache.
func (u *unpacker) parentDir(parent string) (string, int, error) {
	prel, ok := u.parents[parent]
	if !ok {
		var err error
		if prel, err = u.resolveDir(parent, true); err != nil {
			return "", -1, err
		}
		if u.parents == nil {
			u.parents = map[string]string{}
		}
		u.parents[parent] = prel
	}
	if u.parentFD >= 0 && u.parentRel == prel {
		return prel, u.parentFD, nil
	}
	fd, err := u.openDir(prel, unix.O_PATH)
	if err != nil {
		return "", -1, err
	}
	if u.parentFD >= 0 {
		unix.Close(u.parentFD)
	}
	u.parentFD, u.parentRel = fd, prel
	return prel, fd, nil
}

// forget drops the cached parents and closes the cached fd.
func (u *unpacker) forget() {
	clear(u.parents)
	if u.parentFD >= 0 {
		unix.Close(u.parentFD)
		u.parentFD, u.parentRel = -1, ""
	}
}

// writerOnly hides os.File's ReadFrom, whose generic path allocates a 32 KiB buffer per
// file: contents are copied through the unpacker's one buffer instead.
type writerOnly struct{ io.Writer }

// cleanName checks a tar entry name (or hardlink target) and returns it as a
// clean relative path; "" stands for the root itself.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute name", ErrEscape)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: name contains \"..\"", ErrEscape)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

func (u *unpacker) abs(rel string) string {
	if rel == "" {
		return u.root
	}
	return filepath.Join(u.root, rel)
}

// resolveDir follows rel, component by component, the way the kernel
// would inside a chroot at the root, and returns the real (symlink free)
// relative path of the directory it names. Absolute symlink targets count
// from the root (as inside the container); ".." above the root is an
// escape. With create, missing directories are made (0755, like tar does
// for parents missing from the stream).
func (u *unpacker) resolveDir(rel string, create bool) (string, error) {
	var done []string
	pending := strings.Split(rel, "/")
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", fmt.Errorf("%w: %q resolves above the root", ErrEscape, rel)
			}
			done = done[:len(done)-1]
			continue
		}
		p := u.abs(path.Join(append(done, c)...))
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, os.ErrNotExist) && create:
			if err := os.Mkdir(p, 0o755); err != nil {
				return "", fmt.Errorf("create parent directory: %w", err)
			}
			done = append(done, c)
		case err != nil:
			return "", err
		case fi.IsDir():
			done = append(done, c)
		case fi.Mode()&os.ModeSymlink != 0:
			hops++
			if hops > maxSymlinkHops {
				return "", fmt.Errorf("resolve %q: %w", rel, unix.ELOOP)
			}
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(target, "/") {
				done = nil
			}
			pending = append(strings.Split(target, "/"), pending...)
		default:
			return "", fmt.Errorf("%q is not a directory", path.Join(append(done, c)...))
		}
	}
	return path.Join(done...), nil
}

// openDir opens the real relative directory rel below the root; the kernel
// refuses any symlink on the way, as a second line of defence.
func (u *unpacker) openDir(rel string, flags uint64) (int, error) {
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(u.rootfd, rel, &unix.OpenHow{
		Flags:   flags | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("open directory %q: %w", rel, err)
	}
	return fd, nil
}

// symlinkEscapes tells whether a relative symlink target, read from the
// directory dir (real, relative to the root), climbs above the root.
func symlinkEscapes(dir, target string) bool {
	depth := 0
	if dir != "" {
		depth = len(strings.Split(dir, "/"))
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		// The root entry ("./"): the root directory is ours, not the layer's.
		return nil
	}
	parent, base := path.Split(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		u.forget()
		return u.whiteout(strings.TrimSuffix(parent, "/"), base)
	}
	prel, pfd, err := u.parentDir(parent)
	if err != nil {
		return err
	}
	rel := path.Join(prel, base)

	//lint:ignore SA1019 old archives still carry the pre-POSIX regular-file type.
	regular := hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA
	if !regular {
		// A regular file is created with O_EXCL and replaces what is there only on EEXIST:
		// one syscall less for the common case.
		if err := u.replaceExisting(pfd, base, rel, hdr.Typeflag == tar.TypeDir); err != nil {
			return err
		}
	}

	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
	//lint:ignore SA1019 old archives still carry the pre-POSIX regular-file type.
	case tar.TypeReg, tar.TypeRegA:
		how := &unix.OpenHow{
			Flags:   unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Mode:    0o600,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		}
		fd, err := unix.Openat2(pfd, base, how)
		if errors.Is(err, unix.EEXIST) {
			if err := u.replaceExisting(pfd, base, rel, false); err != nil {
				return err
			}
			fd, err = unix.Openat2(pfd, base, how)
		}
		if err != nil {
			return fmt.Errorf("create file: %w", err)
		}
		f := os.NewFile(uintptr(fd), u.abs(rel))
		if u.buf == nil {
			u.buf = make([]byte, 64<<10)
		}
		_, err = io.CopyBuffer(writerOnly{f}, r, u.buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write file: %w", err)
		}
	case tar.TypeSymlink:
		if hdr.Linkname == "" || strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return errors.New("invalid symlink target")
		}
		// Absolute targets mean "from the container's root" and are
		// resolved that way here; relative ones must stay below the root.
		if !strings.HasPrefix(hdr.Linkname, "/") && symlinkEscapes(prel, hdr.Linkname) {
			return fmt.Errorf("%w: symlink target %q leaves the root", ErrEscape, hdr.Linkname)
		}
		clear(u.parents) // defence in depth: a new symlink never changes a cached path
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case tar.TypeLink:
		if err := u.hardlink(hdr.Linkname, pfd, base); err != nil {
			return err
		}
		u.created[rel] = true
		// A hardlink shares its target's inode and metadata.
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, typ|mode, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	u.created[rel] = true
	return u.setMeta(hdr, pfd, base, rel, mode)
}

// replaceExisting removes what is at base in the directory pfd (rel below the root), unless
// keepDir and it is a directory, which the new entry then merges into.
func (u *unpacker) replaceExisting(pfd int, base, rel string, keepDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return err
	case keepDir && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return nil
	}
	// Cached parents below rel go with it; pfd (rel's parent) stays valid.
	clear(u.parents)
	if err := os.RemoveAll(u.abs(rel)); err != nil {
		return fmt.Errorf("replace existing entry: %w", err)
	}
	return nil
}

func (u *unpacker) setMeta(hdr *tar.Header, pfd int, base, rel string, mode uint32) error {
	isLink := hdr.Typeflag == tar.TypeSymlink
	if !u.opts.NoChown {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	// chmod after chown: chown clears the set-id bits.
	if !isLink {
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		// overlayfs reads trusted.overlay.* (redirects, metacopy, opaque)
		// from layer dirs; a layer must not be able to forge them.
		if strings.HasPrefix(attr, "trusted.overlay.") {
			continue
		}
		p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
		if err := unix.Lsetxattr(p, attr, []byte(v), 0); err != nil {
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if hdr.AccessTime.IsZero() {
		ts[0] = ts[1]
	}
	if hdr.Typeflag == tar.TypeDir {
		// Entries written later into this directory change its mtime:
		// set it when the whole layer is in.
		u.dirs = append(u.dirs, dirTimes{rel: rel, ts: ts})
		return nil
	}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func (u *unpacker) finishDirs() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		// The directory may have been replaced or whited out since.
		prel, err := u.resolveDir(path.Dir(d.rel), false)
		if err != nil || path.Join(prel, path.Base(d.rel)) != d.rel {
			continue
		}
		pfd, err := u.openDir(prel, unix.O_PATH)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(pfd, path.Base(d.rel), &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := unix.UtimesNanoAt(pfd, path.Base(d.rel), d.ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				unix.Close(pfd)
				return &EntryError{Entry: d.rel, Err: fmt.Errorf("set times: %w", err)}
			}
		}
		unix.Close(pfd)
	}
	return nil
}

func (u *unpacker) hardlink(linkname string, pfd int, base string) error {
	target, err := cleanName(linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
	if target == "" {
		return fmt.Errorf("hardlink target %q: is the root", linkname)
	}
	tparent, tbase := path.Split(target)
	trel, err := u.resolveDir(tparent, false)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
	tfd, err := u.openDir(trel, unix.O_PATH)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hardlink target %q: %w", linkname, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hardlink target %q is a directory", linkname)
	}
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("hardlink to %q: %w", linkname, err)
	}
	return nil
}

func (u *unpacker) whiteout(parent, base string) error {
	overlay := u.opts.Whiteouts == WhiteoutOverlay
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if base != opaqueMarker && (name == "" || name == "." || name == "..") {
		return fmt.Errorf("invalid whiteout name %q", base)
	}
	prel, err := u.resolveDir(parent, overlay)
	if errors.Is(err, os.ErrNotExist) && !overlay {
		return nil // nothing below to hide
	}
	if err != nil {
		return err
	}
	if base == opaqueMarker {
		if overlay {
			dfd, err := u.openDir(prel, unix.O_RDONLY)
			if err != nil {
				return err
			}
			defer unix.Close(dfd)
			if err := unix.Fsetxattr(dfd, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
				return fmt.Errorf("mark opaque directory: %w", err)
			}
			return nil
		}
		entries, err := os.ReadDir(u.abs(prel))
		if err != nil {
			return fmt.Errorf("opaque directory: %w", err)
		}
		for _, e := range entries {
			rel := path.Join(prel, e.Name())
			if u.created[rel] {
				continue // this layer's own files stay
			}
			if err := os.RemoveAll(u.abs(rel)); err != nil {
				return fmt.Errorf("opaque directory: %w", err)
			}
		}
		return nil
	}
	rel := path.Join(prel, name)
	pfd, err := u.openDir(prel, unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	exists := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	if overlay {
		// A whiteout hides lower layers only; a file of this same layer
		// already shadows them.
		if exists {
			return nil
		}
		if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("create whiteout: %w", err)
		}
		return nil
	}
	if !exists || u.created[rel] {
		return nil
	}
	if err := os.RemoveAll(u.abs(rel)); err != nil {
		return fmt.Errorf("apply whiteout: %w", err)
	}
	return nil
}
