package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	securejoin "github.com/cyphar/filepath-securejoin/pathrs-lite"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/engine/inroot"
	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/monitor"
)

// BuildBackend runs the builder's steps as the engine's containers: a
// step is a container of its parent image (not started for a copy),
// committed into a new image. It implements build.Backend and
// build.Mounter.
type BuildBackend struct{ e *Engine }

// BuildBackend is the engine's side of `berth build`.
func (e *Engine) BuildBackend() *BuildBackend { return &BuildBackend{e} }

// BuildCacheDir is where the build cache's index lives.
func (e *Engine) BuildCacheDir() string { return filepath.Join(e.root, "build") }

// HideIntermediate drops the images that the build cache keeps for its
// steps and that have no name (`images` without -a, as Docker hides
// intermediate images).
func (e *Engine) HideIntermediate(imgs []Image) []Image {
	mid := build.IntermediateImages(e.BuildCacheDir())
	if b, err := json.Marshal(scratchConfig()); err == nil {
		mid[v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}.String()] = true
	}
	out := imgs[:0:0]
	for _, img := range imgs {
		if len(img.Names) == 0 && mid[img.ID.String()] {
			continue
		}
		out = append(out, img)
	}
	return out
}

func (b *BuildBackend) image(img Image) (build.Image, error) {
	cf, err := b.e.config(img)
	if err != nil {
		return build.Image{}, err
	}
	return build.Image{ID: img.ID.String(), Config: *cf}, nil
}

// scratchConfig is the config of the image of no layers that the
// steps of a FROM scratch stage start from.
func scratchConfig() v1.ConfigFile {
	return v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
}

// Base resolves a FROM image, pulling by the policy.
func (b *BuildBackend) Base(ctx context.Context, ref, pull string) (build.Image, error) {
	img, err := b.e.imageFor(ctx, CreateOptions{Image: ref, Pull: pull})
	if err != nil {
		return build.Image{}, err
	}
	return b.image(img)
}

// BaseFor is Base for another platform than the host's (FROM
// --platform, build --platform): the local image must be of that
// platform, or it is pulled, as `run --platform` does.
func (b *BuildBackend) BaseFor(ctx context.Context, ref, pull string, p v1.Platform) (build.Image, error) {
	img, err := b.e.imageFor(ctx, CreateOptions{Image: ref, Pull: pull, Transfer: TransferOptions{Platform: &p}})
	if err != nil {
		return build.Image{}, err
	}
	return b.image(img)
}

// Lookup is the image of a cache entry, if it is still there.
func (b *BuildBackend) Lookup(_ context.Context, id string) (build.Image, bool) {
	img, err := b.e.images.Resolve(id)
	if err != nil || img.ID.String() != id {
		return build.Image{}, false
	}
	bi, err := b.image(img)
	return bi, err == nil
}

// CanonicalName is ref as the progress shows it
// (docker.io/library/busybox:latest).
func (b *BuildBackend) CanonicalName(ref string) (string, error) { return NormalizeName(ref) }

// Tag names the built image.
func (b *BuildBackend) Tag(_ context.Context, id string, names []string) error {
	for _, n := range names {
		if err := b.e.TagImage(id, n); err != nil {
			return err
		}
	}
	return nil
}

// Step makes a step's image.
func (b *BuildBackend) Step(ctx context.Context, s build.Step) (build.Image, error) {
	e := b.e
	var parent Image
	if s.Parent != "" {
		p, err := e.images.Resolve(s.Parent)
		if err != nil {
			return build.Image{}, err
		}
		parent = p
	}
	cf := s.Config
	cf.RootFS = v1.RootFS{Type: "layers"}
	for _, l := range parent.Layers {
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, l.DiffID)
	}
	if s.Run == nil && len(s.Copies) == 0 {
		img, err := e.writeImage(parent, nil, cf, nil)
		if err != nil {
			return build.Image{}, err
		}
		return b.image(img)
	}
	ref := s.Parent
	if ref == "" {
		// scratch: a container needs an image, one of no layers; the
		// same one every time (no dates), which images hides.
		empty, err := e.writeImage(Image{}, nil, scratchConfig(), nil)
		if err != nil {
			return build.Image{}, err
		}
		ref = empty.ID.String()
	}
	// A copy's container never starts: it needs no network.
	o := CreateOptions{Image: ref, Pull: PullNever, KeepMounted: true, LogDriver: "none",
		Network: NetworkRequest{Networks: []string{"none"}}}
	o.Spec.EntrypointSet = true
	o.Spec.Cmd = []string{"/nonexistent-build-step"}
	var made []string
	if r := s.Run; r != nil {
		sm, err := b.prepareMounts(r.Mounts)
		if err != nil {
			return build.Image{}, err
		}
		defer sm.close()
		o.Spec.Mounts = sm.specs
		o.Network.Networks = nil
		o.Spec.Cmd, o.Spec.Env, o.Spec.User, o.Spec.WorkingDir = r.Args, r.Env, r.User, r.WorkDir
		o.AttachStdout, o.AttachStderr = true, true
		if r.Network != "" {
			o.Network.Networks = []string{r.Network}
		}
	}
	c, err := e.CreateContainer(ctx, o)
	if err != nil {
		return build.Image{}, err
	}
	defer e.RemoveContainer(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true})
	if err := b.copies(c, s.Copies); err != nil {
		return build.Image{}, err
	}
	if s.Run != nil {
		if len(s.Run.Mounts) > 0 {
			made = missingTargets(e.rootfsDir(c.ID), s.Run.Mounts)
		}
		if err := b.run(ctx, c, s.Run.Output); err != nil {
			return build.Image{}, err
		}
		if err := b.removeTargets(ctx, c.ID, made); err != nil {
			return build.Image{}, err
		}
	}
	l, err := e.commitLayer(c, parent)
	if err != nil {
		return build.Image{}, err
	}
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, l.DiffID)
	img, err := e.writeImage(parent, &l, cf, nil)
	if err != nil {
		return build.Image{}, err
	}
	return b.image(img)
}

// copies unpacks the step's files into the container's root, inside it
// only (symlinks in the image resolve in the image).
func (b *BuildBackend) copies(c Container, cps []build.Copy) error {
	if len(cps) == 0 {
		return nil
	}
	return b.e.withRoot(c.ID, func(_ *Container, r *ctrRoot) error {
		dir := b.e.rootfsDir(c.ID)
		for _, cp := range cps {
			if cp.Alt != nil {
				if st, err := r.rootfs.Lstat(cp.IfDir); err == nil && st.Mode&os.ModeSymlink != 0 {
					st, err = r.rootfs.Lstat(st.LinkTarget)
					if err == nil && st.IsDir() {
						cp = *cp.Alt
					}
				} else if err == nil && st.IsDir() {
					cp = *cp.Alt
				}
			}
			owner := [2]int{0, 0}
			if cp.Chown != "" {
				u, err := spec.ResolveUser(dir, cp.Chown, nil)
				if err != nil {
					return fmt.Errorf("--chown=%s: %w", cp.Chown, err)
				}
				owner = [2]int{int(u.UID), int(u.GID)}
			}
			// The directories a COPY makes are --chown's too, as Docker's.
			made := missingTargets(dir, []build.Mount{{Target: cp.Dest}})
			if err := securejoin.MkdirAll(dir, cp.Dest, 0o755); err != nil {
				return fmt.Errorf("mkdir %s: %w", cp.Dest, err)
			}
			if owner != [2]int{0, 0} {
				if err := chownIn(dir, made, owner); err != nil {
					return err
				}
			}
			if cp.Tar == nil {
				continue
			}
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(cp.Tar(pw)) }()
			err := r.rootfs.Extract(cp.Dest, pr, inroot.ExtractOptions{Owner: &owner})
			pr.CloseWithError(errors.New("extraction ended"))
			if err != nil {
				return fmt.Errorf("copy to %s: %w", cp.Dest, err)
			}
		}
		return nil
	})
}

// run starts the step's container attached and waits for its exit.
func (b *BuildBackend) run(ctx context.Context, c Container, out io.Writer) error {
	e := b.e
	type result struct {
		exit *monitor.Exit
		err  error
	}
	done := make(chan result, 1)
	attach := func(c Container) error {
		connected := make(chan struct{})
		o := monitor.AttachOptions{Stdout: out, Stderr: out, Connected: func() { close(connected) }}
		go func() {
			exit, err := monitor.Attach(ctx, e.AttachSocket(c), o)
			done <- result{exit, err}
		}()
		select {
		case <-connected:
			return nil
		case r := <-done:
			done <- r
			if r.err == nil {
				r.err = errors.New("attach: the monitor hung up")
			}
			return r.err
		}
	}
	if _, err := e.StartContainer(ctx, c.ID, StartOptions{Created: attach}); err != nil {
		return err
	}
	r := <-done
	code := 0
	switch {
	case r.err != nil:
		return r.err
	case r.exit != nil:
		code = r.exit.Code
	default:
		var err error
		if code, err = e.WaitContainer(ctx, c.ID); err != nil {
			return err
		}
	}
	if code != 0 {
		return &build.ExitError{Code: code}
	}
	return nil
}

// Mount gives COPY --from an image's files: a container of it, not
// started, whose root stays mounted until release.
func (b *BuildBackend) Mount(ctx context.Context, id string) (string, func(), error) {
	o := CreateOptions{Image: id, Pull: PullNever, KeepMounted: true, LogDriver: "none",
		Network: NetworkRequest{Networks: []string{"none"}}}
	o.Spec.EntrypointSet = true
	o.Spec.Cmd = []string{"/nonexistent-build-step"}
	c, err := b.e.CreateContainer(ctx, o)
	if err != nil {
		return "", nil, err
	}
	release := func() {
		b.e.RemoveContainer(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true})
	}
	return b.e.rootfsDir(c.ID), release, nil
}
