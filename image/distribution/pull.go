package distribution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/image/manifest"
	"github.com/berth-dev/berth/image/progress"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/archive"
)

// Pull fetches ref into s: picks the platform from an index, downloads
// the layers in parallel, verifying and unpacking each as it streams in
// (never whole in memory), and names the image after ref.
func Pull(ctx context.Context, s *store.Store, ref string, opts Options) (store.Image, error) {
	ref = opts.Registries.Qualify(ref)
	r, err := opts.parse(ref)
	if err != nil {
		return store.Image{}, err
	}
	img, err := pullWithMirrors(ctx, s, r, opts)
	if err != nil {
		return store.Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return img, nil
}

// pullWithMirrors tries the registry's mirrors from the registry config
// in order, then the registry itself; the image is named after r
// whichever of them served it.
func pullWithMirrors(ctx context.Context, s *store.Store, r name.Reference, opts Options) (store.Image, error) {
	for _, m := range opts.Registries.MirrorsFor(r.Context().RegistryStr()) {
		src, err := opts.parse(m + "/" + r.Context().RepositoryStr() + separator(r) + r.Identifier())
		if err != nil {
			opts.say("Mirror %s: %v", m, err)
			continue
		}
		img, err := pull(ctx, s, src, r, opts)
		if err == nil {
			return img, nil
		}
		if ctx.Err() != nil {
			return store.Image{}, err
		}
		opts.say("Mirror %s failed, trying the next source: %v", m, err)
	}
	return pull(ctx, s, r, r, opts)
}

func separator(r name.Reference) string {
	if _, ok := r.(name.Digest); ok {
		return "@"
	}
	return ":"
}

// pull fetches src and stores it under the name r (src is r itself or
// the same repository on a mirror).
func pull(ctx context.Context, s *store.Store, src, r name.Reference, opts Options) (store.Image, error) {
	host := src.Context().RegistryStr()
	img, err := pullFrom(ctx, s, src, r, opts)
	return img, opts.explain(err, host)
}

func pullFrom(ctx context.Context, s *store.Store, src, r name.Reference, opts Options) (store.Image, error) {
	ropts, err := opts.remoteOptions(src.Context().RegistryStr(), remote.WithContext(ctx))
	if err != nil {
		return store.Image{}, err
	}
	opts.say("Pulling from %s", reference.Familiar(reference.Repository(r)))
	desc, err := remote.Get(src, ropts...)
	if err != nil {
		return store.Image{}, err
	}
	if _, err := manifest.Parse(desc.MediaType, desc.Manifest); err != nil {
		return store.Image{}, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	var (
		img   v1.Image
		extra []v1.Hash
		want  = opts.platform()
	)
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return store.Image{}, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return store.Image{}, err
		}
		child, err := pickPlatform(im, want)
		if err != nil {
			return store.Image{}, err
		}
		if err := s.WriteBlob(desc.Digest, desc.Size, bytes.NewReader(desc.Manifest)); err != nil {
			return store.Image{}, err
		}
		extra = append(extra, desc.Digest)
		if img, err = idx.Image(child.Digest); err != nil {
			return store.Image{}, err
		}
	case desc.MediaType.IsImage():
		if img, err = desc.Image(); err != nil {
			return store.Image{}, err
		}
		if opts.Platform != nil {
			// A single-platform manifest says its platform in its config
			// only: an explicit --platform must match it (Docker's
			// containerd store refuses the others too).
			cf, err := img.ConfigFile()
			if err != nil {
				return store.Image{}, fmt.Errorf("image config: %w", err)
			}
			have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
			if have.OS != want.OS || have.Architecture != want.Architecture || want.Variant != "" && have.Variant != want.Variant {
				return store.Image{}, fmt.Errorf("image %s is for platform %s, not the requested %s", reference.Familiar(reference.String(r)), have.String(), want.String())
			}
		}
	default:
		return store.Image{}, fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	rec, err := fetchImage(ctx, s, img, opts)
	if err != nil {
		return store.Image{}, err
	}
	rec.Extra = extra
	rec.RepoDigests = []string{reference.Repository(r) + "@" + desc.Digest.String()}
	var names []string
	if t, ok := r.(name.Tag); ok {
		names = append(names, reference.String(t))
	}
	if err := s.PutImage(rec, names...); err != nil {
		return store.Image{}, err
	}
	opts.say("Digest: %s", desc.Digest)
	opts.say("Status: Downloaded image for %s", reference.Familiar(reference.String(r)))
	return rec, nil
}

// pickPlatform chooses the index entry for want, like Docker: OS and
// architecture must match, and the variant too when want names one.
func pickPlatform(im *v1.IndexManifest, want v1.Platform) (v1.Descriptor, error) {
	var avail []string
	for _, d := range im.Manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		p := *d.Platform
		avail = append(avail, p.String())
		if p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant) {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index (has: %s)", want.String(), strings.Join(avail, ", "))
}

// FetchImage stores img (from a registry, or any v1.Image: a tarball or an
// OCI layout for `load`) and returns its record; it does not name it.
func FetchImage(ctx context.Context, s *store.Store, img v1.Image, opts Options) (store.Image, error) {
	return fetchImage(ctx, s, img, opts)
}

func fetchImage(ctx context.Context, s *store.Store, img v1.Image, opts Options) (store.Image, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return store.Image{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return store.Image{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return store.Image{}, err
	}
	if _, err := manifest.Parse(mt, rawManifest); err != nil {
		return store.Image{}, fmt.Errorf("manifest: %w", err)
	}
	// A config already stored (a re-pull) is not fetched again.
	var rawConfig []byte
	if s.HasBlob(m.Config.Digest) {
		rawConfig, err = s.ReadBlob(m.Config.Digest)
	} else {
		rawConfig, err = img.RawConfigFile()
	}
	if err != nil {
		return store.Image{}, fmt.Errorf("config: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return store.Image{}, fmt.Errorf("config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return store.Image{}, fmt.Errorf("manifest has %d layers but config has %d diffIDs", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	mdigest, _, err := v1.SHA256(bytes.NewReader(rawManifest))
	if err != nil {
		return store.Image{}, err
	}
	rec := store.Image{
		ID: m.Config.Digest, Manifest: mdigest, ManifestMediaType: string(mt),
		ManifestSize: int64(len(rawManifest)), Created: cf.Created.Time.UTC(),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.parallel())
	seen := map[v1.Hash]bool{}
	for i, l := range m.Layers {
		diffID := cf.RootFS.DiffIDs[i]
		rec.Layers = append(rec.Layers, store.Layer{Digest: l.Digest, DiffID: diffID, Size: l.Size, MediaType: string(l.MediaType)})
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			status, err := fetchLayer(s, img, l, diffID, opts.Layers)
			if err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			opts.layerDone(l.Digest, status)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return store.Image{}, err
	}
	// Config and manifest go in last: a failed layer leaves no blob the
	// store did not have.
	if err := s.WriteBlob(m.Config.Digest, int64(len(rawConfig)), bytes.NewReader(rawConfig)); err != nil {
		return store.Image{}, fmt.Errorf("config: %w", err)
	}
	if _, err := s.PutBlob(rawManifest); err != nil {
		return store.Image{}, err
	}
	return rec, nil
}

// fetchLayer makes sure blob l and its snapshot diffID are in the store.
// One stream feeds both: the compressed bytes go to the blob writer and
// through the decompressor into extraction; both are committed only when
// the digest and diffID match.
// It returns the layer's final progress status.
func fetchLayer(s *store.Store, img v1.Image, l v1.Descriptor, diffID v1.Hash, rep progress.Reporter) (string, error) {
	const done = "Pull complete"
	err := fetchLayerData(s, img, l, diffID, rep)
	if errors.Is(err, errAlreadyExists) {
		return "Already exists", nil
	}
	return done, err
}

// errAlreadyExists: blob and snapshot were both there, nothing moved.
var errAlreadyExists = errors.New("layer already exists")

func fetchLayerData(s *store.Store, img v1.Image, l v1.Descriptor, diffID v1.Hash, rep progress.Reporter) error {
	if !l.MediaType.IsLayer() && !strings.Contains(string(l.MediaType), "tar") {
		return fmt.Errorf("unsupported layer media type %q", l.MediaType)
	}
	lk, err := s.LockBlob(l.Digest)
	if err != nil {
		return err
	}
	defer lk.Release()
	haveBlob, haveSnap := s.HasBlob(l.Digest), s.HasLayer(diffID)
	switch {
	case haveBlob && haveSnap:
		return errAlreadyExists
	case haveBlob:
		// A pull killed between the two commits: unpack from the blob.
		f, err := s.OpenBlob(l.Digest)
		if err != nil {
			return err
		}
		defer f.Close()
		dr, _, err := archive.Decompress(f)
		if err != nil {
			return err
		}
		defer dr.Close()
		return s.UnpackLayer(diffID, dr, nil)
	}
	layer, err := img.LayerByDigest(l.Digest)
	if err != nil {
		return err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if rep != nil {
		rep.Start(shortID(l.Digest), "Downloading", l.Size)
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		return err
	}
	defer w.Abort()
	tee := io.TeeReader(progress.Reader(rc, rep, shortID(l.Digest)), w)
	if haveSnap {
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return err
		}
		return w.Commit(l.Digest, l.Size)
	}
	dr, _, err := archive.Decompress(tee)
	if err != nil {
		return err
	}
	defer dr.Close()
	return s.UnpackLayer(diffID, dr, func() error {
		// The rest of the compressed stream (gzip trailer, padding) still
		// counts for the digest.
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return err
		}
		return w.Commit(l.Digest, l.Size)
	})
}
