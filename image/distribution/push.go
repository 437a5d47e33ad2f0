package distribution

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/image/progress"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
)

// Image returns a stored image as a go-containerregistry image whose
// blobs are read from the store (for push and save).
func Image(s *store.Store, rec store.Image) (v1.Image, error) {
	return partial.CompressedToImage(&storedImage{s: s, rec: rec})
}

type storedImage struct {
	s   *store.Store
	rec store.Image
	rep progress.Reporter // told about layer reads (push progress)
	// sent records the layers the registry asked for (sync.Map of
	// digest → true), to tell them from the ones it already had.
	sent *sync.Map
}

func (i *storedImage) RawConfigFile() ([]byte, error) { return i.s.ReadBlob(i.rec.ID) }
func (i *storedImage) RawManifest() ([]byte, error)   { return i.s.ReadBlob(i.rec.Manifest) }
func (i *storedImage) MediaType() (types.MediaType, error) {
	return types.MediaType(i.rec.ManifestMediaType), nil
}

func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.rec.Layers {
		if l.Digest == h {
			return &storedLayer{s: i.s, l: l, rep: i.rep, sent: i.sent}, nil
		}
	}
	if h == i.rec.ID {
		return partial.ConfigLayer(i)
	}
	return nil, fmt.Errorf("image %s has no layer %s", i.rec.ID, h)
}

type storedLayer struct {
	s    *store.Store
	l    store.Layer
	rep  progress.Reporter
	sent *sync.Map
}

func (l *storedLayer) Digest() (v1.Hash, error) { return l.l.Digest, nil }
func (l *storedLayer) DiffID() (v1.Hash, error) { return l.l.DiffID, nil }
func (l *storedLayer) Size() (int64, error)     { return l.l.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.l.MediaType), nil
}
func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	f, err := l.s.OpenBlob(l.l.Digest)
	if err != nil || l.rep == nil {
		return f, err
	}
	id := shortID(l.l.Digest)
	if l.sent != nil {
		l.sent.Store(l.l.Digest, true)
	}
	l.rep.Start(id, "Pushing", l.l.Size)
	return &pushReader{ReadCloser: f, r: progress.Reader(f, l.rep, id), rep: l.rep, id: id}, nil
}

// pushReader reports a layer as pushed once it was read to its end.
type pushReader struct {
	io.ReadCloser
	r   io.Reader
	rep progress.Reporter
	id  string
}

func (p *pushReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err == io.EOF {
		p.rep.Done(p.id, "Pushed")
	}
	return n, err
}

// Push uploads the stored image local to dest (default: local's own
// name). The registry is asked which blobs it has; only the missing ones
// are uploaded.
func Push(ctx context.Context, s *store.Store, local, dest string, opts Options) error {
	rec, err := s.Resolve(local)
	if q := opts.Registries.Qualify(local); err == nil && q != local && !hasName(rec.Names, local) {
		// A short name pulled through the default registry is stored
		// (and pushed) under its qualified name.
		local = q
	}
	if err != nil {
		return fmt.Errorf("push %s: %w", local, err)
	}
	if dest == "" {
		dest = local
	}
	dest = opts.Registries.Qualify(dest)
	r, err := opts.parse(dest)
	if err != nil {
		return err
	}
	sent := &sync.Map{}
	img, err := partial.CompressedToImage(&storedImage{s: s, rec: rec, rep: opts.Layers, sent: sent})
	if err != nil {
		return fmt.Errorf("push %s: %w", local, err)
	}
	// A repository of the same registry that the image came from (or was
	// pushed to) has its blobs: ask the registry to mount them from there
	// instead of uploading them again.
	from := mountSources(s, rec, r)
	mounted := &sync.Map{}
	if len(from) > 0 {
		img = &mountableImage{Image: img, from: from}
		opts.wrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return &mountWatcher{next: rt, mounted: mounted}
		}
	}
	ropts, err := opts.remoteOptions(r.Context().RegistryStr(), remote.WithContext(ctx), remote.WithJobs(opts.parallel()))
	if err != nil {
		return err
	}
	opts.say("The push refers to repository [%s]", reference.Familiar(reference.Repository(r)))
	if err := remote.Write(r, img, ropts...); err != nil {
		return fmt.Errorf("push %s: %w", dest, opts.explain(err, r.Context().RegistryStr()))
	}
	if opts.Layers != nil {
		// The registry had the layers never read: nothing was sent.
		for _, l := range rec.Layers {
			if _, ok := sent.Load(l.Digest); ok {
				continue
			}
			if _, ok := mounted.Load(l.Digest); ok {
				opts.Layers.Done(shortID(l.Digest), "Mounted from "+reference.Familiar(reference.Repository(from[l.Digest])))
			} else {
				opts.Layers.Done(shortID(l.Digest), "Layer already exists")
			}
		}
	}
	rec.RepoDigests = []string{reference.Repository(r) + "@" + rec.Manifest.String()}
	if err := s.PutImage(rec); err != nil {
		return fmt.Errorf("push %s: record repo digest: %w", dest, err)
	}
	opts.say("%s: digest: %s size: %d", reference.Familiar(reference.String(r)), rec.Manifest, rec.ManifestSize)
	return nil
}

// hasName reports whether names (canonical) hold ref itself.
func hasName(names []string, ref string) bool {
	canon, err := reference.Normalize(ref)
	if err != nil {
		return false
	}
	for _, n := range names {
		if n == canon {
			return true
		}
	}
	return false
}

// mountSources names, for each layer of rec, a repository on dest's
// registry (other than dest's own) that holds it: one that an image with
// that layer was pulled from or pushed to, rec itself first.
func mountSources(s *store.Store, rec store.Image, dest name.Reference) map[v1.Hash]name.Reference {
	imgs, err := s.Images()
	if err != nil {
		imgs = nil
	}
	imgs = append([]store.Image{rec}, imgs...)
	want := map[v1.Hash]bool{}
	for _, l := range rec.Layers {
		want[l.Digest] = true
	}
	out := map[v1.Hash]name.Reference{}
	for _, img := range imgs {
		repo := otherRepo(img, dest)
		if repo == nil {
			continue
		}
		for _, l := range img.Layers {
			if _, done := out[l.Digest]; want[l.Digest] && !done {
				out[l.Digest] = repo
			}
		}
	}
	return out
}

// otherRepo is a repository on dest's registry, other than dest's own,
// that img was pulled from or pushed to; nil if there is none.
func otherRepo(img store.Image, dest name.Reference) name.Reference {
	for _, rd := range img.RepoDigests {
		d, err := name.NewDigest(rd, name.WeakValidation)
		if err != nil {
			continue
		}
		if d.Context().RegistryStr() == dest.Context().RegistryStr() && d.Context().RepositoryStr() != dest.Context().RepositoryStr() {
			// dest's Registry keeps its scheme (an insecure registry stays on HTTP).
			return dest.Context().Registry.Repo(d.Context().RepositoryStr()).Digest(d.DigestStr())
		}
	}
	return nil
}

// mountableImage offers layers for a cross-repository mount
// (go-containerregistry mounts a *remote.MountableLayer).
type mountableImage struct {
	v1.Image
	from map[v1.Hash]name.Reference
}

func (m *mountableImage) wrap(l v1.Layer) (v1.Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	if ref, ok := m.from[d]; ok {
		return &remote.MountableLayer{Layer: l, Reference: ref}, nil
	}
	return l, nil
}

func (m *mountableImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		if out[i], err = m.wrap(l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *mountableImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := m.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return m.wrap(l)
}

// mountWatcher records the blobs a registry mounted: a POST to
// /blobs/uploads/?mount=DIGEST answered 201 Created.
type mountWatcher struct {
	next    http.RoundTripper
	mounted *sync.Map
}

func (w *mountWatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated {
		if d := req.URL.Query().Get("mount"); d != "" {
			if h, herr := v1.NewHash(d); herr == nil {
				w.mounted.Store(h, true)
			}
		}
	}
	return resp, err
}
