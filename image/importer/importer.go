// Package importer makes an image from a root filesystem tarball (`berth
// import`): one layer, a config built from the machine's platform and the
// --change instructions, a Docker schema 2 manifest.
//
// The tarball is untrusted. It is unpacked by the same safe extractor and
// the same all-or-nothing commit as a pulled layer: an entry that tries to
// leave the root fails the import and leaves the store as it was.
package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/archive"
)

// Options tune Import.
type Options struct {
	// Changes are Dockerfile instructions applied to the config.
	Changes []string
	// Message is the history comment (default "Imported from SOURCE").
	Message string
	// Source names the input in the history ("-" for stdin).
	Source string
	// Platform of the image; default this machine's linux platform.
	Platform *v1.Platform
	// Now is the creation time (tests); default time.Now().
	Now time.Time
}

// Import reads a root filesystem tar (plain, gzip or zstd) from r and
// stores it as a one-layer image named ref ("" leaves it unnamed).
func Import(ctx context.Context, s *store.Store, r io.Reader, ref string, opts Options) (store.Image, error) {
	what := opts.Source
	if what == "" {
		what = "-"
	}
	img, err := doImport(ctx, s, r, ref, opts)
	if err != nil {
		return store.Image{}, fmt.Errorf("import %s: %w", what, err)
	}
	return img, nil
}

func doImport(ctx context.Context, s *store.Store, r io.Reader, ref string, opts Options) (store.Image, error) {
	// Check everything cheap before reading the tarball.
	var cfg v1.Config
	if err := ApplyChanges(&cfg, opts.Changes); err != nil {
		return store.Image{}, err
	}
	if ref != "" {
		c, err := reference.Normalize(ref)
		if err != nil {
			return store.Image{}, err
		}
		if strings.Contains(c, "@") {
			return store.Image{}, fmt.Errorf("invalid reference %q: an imported image is named by a tag, not a digest", ref)
		}
	}
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return store.Image{}, err
	}
	defer dr.Close()

	// The layer store needs the diffID before unpacking: spool the
	// uncompressed tar to the store's tmp/ while hashing it.
	spool, err := os.CreateTemp(filepath.Join(s.Root(), "image", "tmp"), "import-")
	if err != nil {
		return store.Image{}, err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(spool, h), ctxReader{ctx, dr})
	if err != nil {
		return store.Image{}, fmt.Errorf("read tarball: %w", err)
	}
	if n == 0 {
		return store.Image{}, errors.New("empty input: expected a root filesystem tarball")
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return store.Image{}, err
	}

	// One pass over the spool unpacks the layer and gzips it into the
	// blob store; the blob is committed only when the layer unpacked.
	w, err := s.NewBlobWriter()
	if err != nil {
		return store.Image{}, err
	}
	defer w.Abort()
	zw := gzip.NewWriter(w)
	tee := io.TeeReader(spool, zw)
	var digest v1.Hash
	commit := func() error {
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		digest = w.Digest()
		return w.Commit(digest, -1)
	}
	if s.HasLayer(diffID) {
		err = commit()
	} else {
		err = s.UnpackLayer(diffID, tee, commit)
	}
	if err != nil {
		return store.Image{}, err
	}
	blobSize := w.Size()

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	p := platform(opts.Platform)
	comment := opts.Message
	if comment == "" {
		comment = "Imported from " + sourceName(opts.Source)
	}
	cf := v1.ConfigFile{
		Architecture: p.Architecture, OS: p.OS, Variant: p.Variant,
		Created: v1.Time{Time: now},
		Config:  cfg,
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		History: []v1.History{{Created: v1.Time{Time: now}, Comment: comment}},
	}
	rawConfig, err := json.Marshal(cf)
	if err != nil {
		return store.Image{}, err
	}
	configDigest, err := s.PutBlob(rawConfig)
	if err != nil {
		return store.Image{}, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(rawConfig)), Digest: configDigest},
		Layers:        []v1.Descriptor{{MediaType: types.DockerLayer, Size: blobSize, Digest: digest}},
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return store.Image{}, err
	}
	manifestDigest, err := s.PutBlob(rawManifest)
	if err != nil {
		return store.Image{}, err
	}
	rec := store.Image{
		ID: configDigest, Manifest: manifestDigest, ManifestMediaType: string(types.DockerManifestSchema2),
		ManifestSize: int64(len(rawManifest)), Created: now,
		Layers: []store.Layer{{Digest: digest, DiffID: diffID, Size: blobSize, MediaType: string(types.DockerLayer)}},
	}
	var names []string
	if ref != "" {
		names = append(names, ref)
	}
	if err := s.PutImage(rec, names...); err != nil {
		return store.Image{}, err
	}
	return rec, nil
}

func sourceName(src string) string {
	if src == "" || src == "-" {
		return "-"
	}
	return src
}

func platform(p *v1.Platform) v1.Platform {
	if p != nil {
		return *p
	}
	out := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		out.Variant = "v7"
	}
	return out
}

// ctxReader stops a long copy when the command is interrupted.
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
