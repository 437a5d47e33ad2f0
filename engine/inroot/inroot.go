// Package inroot reads and writes files inside a directory taken as a root
// (a container's root file system), the way a process chrooted there would
// see them: "..", absolute paths and symlinks are followed within the root
// and never out of it, even while something inside the root changes it.
//
// Every path is resolved by the kernel with openat2(RESOLVE_IN_ROOT) from
// the root's file descriptor, and every change is made relative to a
// directory descriptor on a single path component (mkdirat, openat with
// O_NOFOLLOW, symlinkat, fchownat with AT_SYMLINK_NOFOLLOW, ...): no path
// string is ever joined onto the host's view of the root after resolution.
// `berth cp` and `berth export` use it; the container may be running.
package inroot

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Root is an open root directory.
type Root struct {
	fd   int
	host string // the root's path on the host, to tell paths of fds
}

// Open opens dir as a root.
func Open(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	r := &Root{fd: fd}
	if r.host, err = fdPath(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

// Close releases the root.
func (r *Root) Close() error { return unix.Close(r.fd) }

// rel is p as openat2 takes it from the root (RESOLVE_IN_ROOT makes a
// leading "/" the root anyway; "" is the root itself).
func rel(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// open resolves p inside the root. flags decide whether the last
// component is followed (O_NOFOLLOW: not, unless p ends with "/").
func (r *Root) open(p string, flags int) (int, error) {
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 16 {
		fd, err := unix.Openat2(r.fd, rel(p), how)
		// EAGAIN: a rename raced the resolution of ".."; try again.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// fdPath is where an fd's file is on the host.
func fdPath(fd int) (string, error) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", fmt.Errorf("path of fd %d: %w", fd, err)
	}
	return p, nil
}

// pathOf is where the file of fd is inside the root ("/etc/passwd").
func (r *Root) pathOf(fd int) (string, error) {
	p, err := fdPath(fd)
	if err != nil {
		return "", err
	}
	switch {
	case p == r.host:
		return "/", nil
	case r.host == "/":
		return p, nil
	case strings.HasPrefix(p, r.host+"/"):
		return p[len(r.host):], nil
	}
	return "", fmt.Errorf("%s is not below the root %s", p, r.host)
}

// Stat is what Docker's stat of a container path says.
type Stat struct {
	Name    string      `json:"name"`
	Size    int64       `json:"size"`
	Mode    os.FileMode `json:"mode"`
	ModTime time.Time   `json:"mtime"`
	// LinkTarget is, for a symlink, the path it resolves to inside the
	// root.
	LinkTarget string `json:"linkTarget"`
}

// IsDir says whether the stat is of a directory.
func (s Stat) IsDir() bool { return s.Mode.IsDir() }

// Lstat describes p: its parents are followed inside the root, its last
// component only when p ends with "/" or "/.".
func (r *Root) Lstat(p string) (Stat, error) {
	fd, err := r.open(p, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return Stat{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Stat{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	name := path.Base(path.Clean("/" + p))
	if path.Base(p) == "." {
		name = "." // DIR/. : the directory's contents, as Docker names it
	}
	s := Stat{Name: name, Size: st.Size, Mode: fileMode(st.Mode),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec)}
	if s.Mode&os.ModeSymlink != 0 {
		if s.LinkTarget, err = r.linkTarget(fd, p); err != nil {
			return Stat{}, err
		}
	}
	return s, nil
}

// linkTarget is where the symlink fd (at p) leads inside the root: the
// file it resolves to, or for a dangling link the path it names.
func (r *Root) linkTarget(fd int, p string) (string, error) {
	if tfd, err := r.open(p, unix.O_PATH); err == nil {
		defer unix.Close(tfd)
		return r.pathOf(tfd)
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: p, Err: err}
	}
	target := string(buf[:n])
	if path.IsAbs(target) {
		return path.Clean(target), nil
	}
	at, err := r.pathOf(fd)
	if err != nil {
		return "", err
	}
	return path.Join(path.Dir(at), target), nil
}

func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// reopen opens the file of an O_PATH fd for reading: through its
// /proc/self/fd link, which names the inode itself, not a path.
func reopen(fd int, flags int) (int, error) {
	return unix.Open("/proc/self/fd/"+strconv.Itoa(fd), flags|unix.O_RDONLY|unix.O_CLOEXEC, 0)
}
