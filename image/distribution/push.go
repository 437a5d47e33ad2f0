package distribution

import (
	"context"
	"fmt"
	"io"
	"sync"

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
	if q := opts.Registries.Qualify(local); err != nil && q != local {
		// A short name pulled through the default registry is stored
		// under its qualified name.
		if qrec, qerr := s.Resolve(q); qerr == nil {
			rec, err, local = qrec, nil, q
		}
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
			if _, ok := sent.Load(l.Digest); !ok {
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
