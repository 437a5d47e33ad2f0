package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/engine/inroot"
	"github.com/berth-dev/berth/engine/spec"
)

// cacheMountsDir holds RUN --mount=type=cache directories, one per id;
// they outlive builds and are in no layer.
func (e *Engine) cacheMountsDir() string { return filepath.Join(e.BuildCacheDir(), "cache-mounts") }

// stepMounts are a RUN step's mounts made ready: their spec, and what to
// undo after the step (locks, temporary directories).
type stepMounts struct {
	specs []spec.Mount
	undo  []func()
}

func (sm *stepMounts) close() {
	for i := len(sm.undo) - 1; i >= 0; i-- {
		sm.undo[i]()
	}
}

// prepareMounts makes the directories and files that the mounts bind.
func (b *BuildBackend) prepareMounts(ms []build.Mount) (*stepMounts, error) {
	sm := &stepMounts{}
	for _, m := range ms {
		sp, err := b.prepareMount(m, sm)
		if err != nil {
			sm.close()
			return nil, fmt.Errorf("--mount type=%s,target=%s: %w", m.Type, m.Target, err)
		}
		sm.specs = append(sm.specs, sp)
	}
	return sm, nil
}

// stepTemp is a new private directory for one step's mount.
func (b *BuildBackend) stepTemp(sm *stepMounts, prefix string) (string, error) {
	base := filepath.Join(b.e.BuildCacheDir(), "tmp")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", err
	}
	sm.undo = append(sm.undo, func() { os.RemoveAll(dir) })
	return dir, nil
}

// unpack writes the tar into dir (confined to it).
func unpack(dir string, tw func(io.Writer) error) error {
	r, err := inroot.Open(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tw(pw)) }()
	owner := [2]int{0, 0}
	err = r.Extract("/", pr, inroot.ExtractOptions{Owner: &owner})
	pr.CloseWithError(errors.New("extraction ended"))
	return err
}

func (b *BuildBackend) prepareMount(m build.Mount, sm *stepMounts) (spec.Mount, error) {
	sp := spec.Mount{Type: spec.MountBind, Destination: m.Target, ReadOnly: m.ReadOnly}
	switch m.Type {
	case "tmpfs":
		sp.Type, sp.TmpfsSize = spec.MountTmpfs, m.Size
		return sp, nil
	case "secret":
		dir, err := b.stepTemp(sm, "secret-")
		if err != nil {
			return sp, err
		}
		f := filepath.Join(dir, "secret")
		if err := os.WriteFile(f, m.Data, 0o600); err != nil {
			return sp, err
		}
		if err := os.Chown(f, m.UID, m.GID); err != nil {
			return sp, err
		}
		if err := os.Chmod(f, m.Mode); err != nil {
			return sp, err
		}
		sp.Source = f
		return sp, nil
	case "bind":
		dir, err := b.stepTemp(sm, "bind-")
		if err != nil {
			return sp, err
		}
		if err := unpack(dir, m.Tar); err != nil {
			return sp, err
		}
		sp.Source = dir
		if m.File != "" {
			sp.Source = filepath.Join(dir, m.File)
		}
		return sp, nil
	case "cache":
		return b.cacheMount(m, sm)
	}
	return sp, fmt.Errorf("unknown mount type %q", m.Type)
}

// cacheMount is the cache's directory, locked as its sharing asks:
// shared takes a shared lock, locked an exclusive one (waiting), private
// an exclusive one or, when it is taken, a new directory of the step's.
func (b *BuildBackend) cacheMount(m build.Mount, sm *stepMounts) (spec.Mount, error) {
	sp := spec.Mount{Type: spec.MountBind, Destination: m.Target, ReadOnly: m.ReadOnly}
	base := filepath.Join(b.e.cacheMountsDir(), fmt.Sprintf("%x", sha256.Sum256([]byte(m.CacheID))))
	if err := os.MkdirAll(base, 0o700); err != nil {
		return sp, err
	}
	lf, err := os.OpenFile(filepath.Join(base, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return sp, err
	}
	sm.undo = append(sm.undo, func() { lf.Close() })
	data := filepath.Join(base, "data")
	switch m.Sharing {
	case "locked":
		err = unix.Flock(int(lf.Fd()), unix.LOCK_EX)
	case "private":
		if unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			if data, err = b.stepTemp(sm, "cache-"); err == nil {
				err = os.Remove(data)
			}
		}
	default:
		err = unix.Flock(int(lf.Fd()), unix.LOCK_SH)
	}
	if err != nil {
		return sp, fmt.Errorf("lock the cache: %w", err)
	}
	if _, err := os.Stat(data); errors.Is(err, os.ErrNotExist) {
		// Made aside and renamed, so that a cache is never half seeded;
		// two shared users making it at once: the first rename wins.
		tmp, err := os.MkdirTemp(filepath.Dir(data), "new-")
		if err != nil {
			return sp, err
		}
		defer os.RemoveAll(tmp)
		if err := os.Chown(tmp, m.UID, m.GID); err != nil {
			return sp, err
		}
		if err := os.Chmod(tmp, m.Mode); err != nil {
			return sp, err
		}
		if m.Tar != nil {
			if err := unpack(tmp, m.Tar); err != nil {
				return sp, err
			}
		}
		if err := os.Rename(tmp, data); err != nil && !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
			return sp, err
		}
	}
	sp.Source = data
	return sp, nil
}

// missingTargets are the mount targets, and their parents, that are not
// in the step's root before it runs: the runtime makes them for the
// mounts, and they are removed again before the commit (BuildKit's
// layers hold no mount points either). Deepest first.
func missingTargets(rootfs string, ms []build.Mount) []string {
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil
	}
	defer r.Close()
	var out []string
	for _, m := range ms {
		// Symlinks in the image on the way (/var/run -> /run) resolved
		// inside the root, as the runtime resolves the target.
		p := path.Clean(m.Target)
		if abs, err := securejoin.SecureJoin(rootfs, p); err == nil {
			if rel, err := filepath.Rel(rootfs, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				p = path.Clean("/" + filepath.ToSlash(rel))
			}
		}
		for p != "/" && p != "." {
			if _, err := r.Lstat(strings.TrimPrefix(p, "/")); err == nil {
				break
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			p = path.Dir(p)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out
}

// removeTargets removes what missingTargets found, where it is still an
// empty directory or an empty file (the RUN may have put files there).
func (b *BuildBackend) removeTargets(ctx context.Context, id string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	return b.e.withRoot(id, func(_ *Container, _ *ctrRoot) error {
		r, err := os.OpenRoot(b.e.rootfsDir(id))
		if err != nil {
			return err
		}
		defer r.Close()
		for _, p := range paths {
			rel := strings.TrimPrefix(p, "/")
			fi, err := r.Lstat(rel)
			if err != nil || !fi.IsDir() && !(fi.Mode().IsRegular() && fi.Size() == 0) {
				continue
			}
			if err := r.Remove(rel); err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("remove mount point %s: %w", p, err)
			}
		}
		return nil
	})
}

// chownIn gives the paths of the root at dir an owner (symlinks not
// followed, nothing outside it).
func chownIn(dir string, paths []string, owner [2]int) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, p := range paths {
		if err := r.Lchown(strings.TrimPrefix(p, "/"), owner[0], owner[1]); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
	}
	return nil
}
