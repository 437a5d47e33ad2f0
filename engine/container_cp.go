package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
// Not covered: paths inside volumes and bind mounts, which the host's
// view of the root does not show (Docker's cp reaches them).

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
func (e *Engine) withRoot(ref string, fn func(c *Container, r *inroot.Root) error) error {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return err
	}
	lock, err := e.lockContainer(c.ID)
	if err != nil {
		return err
	}
	defer lock.Release()
	if c, err = e.LookupContainer(c.ID); err != nil {
		return err
	}
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
	defer r.Close()
	return fn(&c, r)
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
	err := e.withRoot(ref, func(c *Container, r *inroot.Root) error {
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
	return e.withRoot(ref, func(c *Container, r *inroot.Root) error {
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
	return e.withRoot(ref, func(c *Container, root *inroot.Root) error {
		if c.Options.ReadOnly {
			return errors.New("container rootfs is marked read-only")
		}
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
	return e.withRoot(ref, func(c *Container, r *inroot.Root) error {
		return r.ArchiveTree(ctxWriter{ctx, w})
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
