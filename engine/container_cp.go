package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/berth-dev/berth/engine/inroot"
)

// The container side of `berth cp` (and what the Docker API's
// /containers/{id}/archive serves): stat, archive and extract of paths
// resolved inside the container's root as Docker resolves them. The
// root is the host's view of the container's snapshot mount; a created
// or stopped container's snapshot is mounted for the operation and
// unmounted after. Every access goes through engine/inroot, so a symlink
// in the container (absolute, or climbing with "..") never leads out.
//
// Volumes and bind mounts do not show in the host's view of the root: a
// path at or below a mount's destination (as written, after cleaning) is
// served from the mount's source instead, resolved inside that source
// the same way. Not covered: a symlink of the root file system that leads
// into a mount (it lands in the mount point's directory of the root),
// tar entries crossing into a mount from above it, a file bound onto a
// file (the root's file under it is what cp sees), and tmpfs mounts
// (which only the container's mount namespace has, as with Docker).

// ErrPathNotFound is wrapped by errors about container paths that are
// not there.
var ErrPathNotFound = errors.New("path not found in container")

// PathError says which path of which container is not there, in Docker's
// words.
type PathError struct {
	Path, Container string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("Could not find the file %s in container %s", e.Path, e.Container)
}
func (e *PathError) Unwrap() error { return ErrPathNotFound }

// ContainerStat is Docker's stat of a container path.
type ContainerStat = inroot.Stat

// withRoot runs fn on the container's root, mounted for the time of fn
// when it is not, under the container's lock (no start, stop bookkeeping
// or rm meanwhile).
func (e *Engine) withRoot(ref string, fn func(c *Container, r *ctrRoot) error) error {
	c, release, err := e.lockedContainer(ref)
	if err != nil {
		return err
	}
	defer release()
	dir := e.rootfsDir(c.ID)
	if !mounted(dir) {
		if err := e.mountRootfs(c.ID, c.Snapshot); err != nil {
			return err
		}
		defer unmountRootfs(dir)
	}
	r, err := inroot.Open(dir)
	if err != nil {
		return err
	}
	cr := &ctrRoot{rootfs: r, mounts: c.Mounts, opened: map[string]*inroot.Root{}}
	defer cr.close()
	return fn(&c, cr)
}

// ctrRoot is a container's root file system with its volumes and binds.
type ctrRoot struct {
	rootfs *inroot.Root
	mounts []MountPoint
	opened map[string]*inroot.Root // by destination
}

func (r *ctrRoot) close() {
	r.rootfs.Close()
	for _, m := range r.opened {
		m.Close()
	}
}

// at is the root that serves p, p relative to it (a trailing "/" or "/."
// kept), where that root is in the container ("/" for the rootfs), and
// the mount (nil for the rootfs).
func (r *ctrRoot) at(p string) (*inroot.Root, string, string, *MountPoint, error) {
	clean := path.Clean("/" + p)
	var best *MountPoint
	for i := range r.mounts {
		m := &r.mounts[i]
		if fi, err := os.Stat(m.Source); err != nil || !fi.IsDir() {
			continue // a file bound onto a file: not served (see the top)
		}
		d := path.Clean(m.Destination)
		if (clean == d || strings.HasPrefix(clean, d+"/")) && (best == nil || len(d) > len(path.Clean(best.Destination))) {
			best = m
		}
	}
	if best == nil {
		return r.rootfs, p, "/", nil, nil
	}
	d := path.Clean(best.Destination)
	rel := "/" + strings.TrimPrefix(strings.TrimPrefix(clean, d), "/")
	switch {
	case path.Base(p) == ".":
		rel = path.Join(rel, ".") + "/."
	case strings.HasSuffix(p, "/"):
		rel = strings.TrimSuffix(rel, "/") + "/"
	}
	root, ok := r.opened[d]
	if !ok {
		var err error
		if root, err = inroot.Open(best.Source); err != nil {
			return nil, "", "", nil, fmt.Errorf("mount %s: %w", d, err)
		}
		r.opened[d] = root
	}
	return root, rel, d, best, nil
}

// Lstat is inroot's, with a symlink's target told in the container's
// terms.
func (r *ctrRoot) Lstat(p string) (ContainerStat, error) {
	root, rel, prefix, _, err := r.at(p)
	if err != nil {
		return ContainerStat{}, err
	}
	st, err := root.Lstat(rel)
	if err == nil && prefix != "/" {
		// Named as in the container, not as in the mount ("/data", not "/").
		if st.Name = path.Base(path.Clean(p)); path.Base(p) == "." {
			st.Name = "."
		}
		if st.LinkTarget != "" {
			st.LinkTarget = path.Join(prefix, st.LinkTarget)
		}
	}
	return st, err
}

func (r *ctrRoot) Archive(w io.Writer, p, name string) error {
	root, rel, _, _, err := r.at(p)
	if err != nil {
		return err
	}
	return root.Archive(w, rel, name)
}

func (r *ctrRoot) Extract(dir string, rd io.Reader, opts inroot.ExtractOptions) error {
	root, rel, _, m, err := r.at(dir)
	if err != nil {
		return err
	}
	if m != nil && !m.RW {
		return errors.New("mounted volume is marked read-only")
	}
	return root.Extract(rel, rd, opts)
}

// notFound turns a missing path into Docker's error about it.
func notFound(err error, p string, ref string) error {
	if errors.Is(err, os.ErrNotExist) {
		return &PathError{Path: p, Container: ref}
	}
	return err
}

// StatContainerPath describes a path in the container (HEAD archive).
func (e *Engine) StatContainerPath(ref, p string) (ContainerStat, error) {
	var st ContainerStat
	err := e.withRoot(ref, func(c *Container, r *ctrRoot) error {
		var err error
		st, err = r.Lstat(p)
		return notFound(err, p, ref)
	})
	return st, err
}

// ArchiveContainerPath writes a tar of a container path to w (GET
// archive): entries named after the path's last component, a
// directory's contents below it ("./" for a path ending in "/.").
// stat, when not nil, is told what the path is before the tar is written.
func (e *Engine) ArchiveContainerPath(ctx context.Context, ref, p string, w io.Writer, stat func(ContainerStat) error) error {
	return e.withRoot(ref, func(c *Container, r *ctrRoot) error {
		st, err := r.Lstat(p)
		if err != nil {
			return notFound(err, p, ref)
		}
		if stat != nil {
			if err := stat(st); err != nil {
				return err
			}
		}
		name := st.Name
		if name == "/" {
			name = "."
		}
		return r.Archive(ctxWriter{ctx, w}, p, name)
	})
}

// ExtractOptions are PUT archive's options.
type ExtractOptions struct {
	// CopyUIDGID keeps the tar's owners (cp -a); else the container's
	// root owns what is copied in.
	CopyUIDGID bool
}

// ExtractToContainer unpacks the tar r into the container directory dir
// (PUT archive), which must exist.
func (e *Engine) ExtractToContainer(ctx context.Context, ref, dir string, r io.Reader, o ExtractOptions) error {
	return e.withRoot(ref, func(c *Container, root *ctrRoot) error {
		st, err := root.Lstat(dir)
		if err == nil && st.Mode&os.ModeSymlink != 0 {
			st, err = root.Lstat(st.LinkTarget)
		}
		if err != nil {
			return notFound(err, dir, ref)
		}
		if !st.IsDir() {
			return errors.New("extraction point is not a directory")
		}
		if _, _, _, m, err := root.at(dir); err == nil && m == nil && c.Options.ReadOnly {
			return errors.New("container rootfs is marked read-only")
		}
		opts := inroot.ExtractOptions{}
		if !o.CopyUIDGID {
			opts.Owner = &[2]int{0, 0}
		}
		return root.Extract(dir, ctxReader{ctx, r}, opts)
	})
}

// ExportContainer writes the container's whole file system to w as a tar
// (`berth export`).
func (e *Engine) ExportContainer(ctx context.Context, ref string, w io.Writer) error {
	return e.withRoot(ref, func(c *Container, r *ctrRoot) error {
		// The root file system only, as Docker exports it.
		return r.rootfs.ArchiveTree(ctxWriter{ctx, w})
	})
}

// ctxReader and ctxWriter stop a long copy when the command is
// interrupted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
