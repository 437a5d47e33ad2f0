package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/image/distribution"
	"github.com/berth-dev/berth/image/internal/imagetest"
	"github.com/berth-dev/berth/image/store"
)

func openStore(t *testing.T) *store.Store {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tarDir packs an OCI layout directory into an oci-archive tarball.
func tarDir(t *testing.T, dir, out string) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, _ := d.Info()
		h, _ := tar.FileInfoHeader(fi, "")
		h.Name = rel
		tw.WriteHeader(h)
		if !d.IsDir() {
			b, _ := os.ReadFile(p)
			tw.Write(b)
		}
		return nil
	})
	tw.Close()
	os.WriteFile(out, buf.Bytes(), 0o644)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Host + "/app:v1"
	r, _ := name.ParseReference(ref)
	img := imagetest.Image(t, nil,
		imagetest.Layer(t, "gzip", map[string]string{"bin/": "", "bin/sh": "sh"}),
		imagetest.Layer(t, "zstd", map[string]string{"etc/hostname": "berth"}))
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	src := openStore(t)
	rec, err := distribution.Pull(context.Background(), src, ref, distribution.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name   string
		format string
		path   func() string
	}{
		{"docker-archive", FormatDockerArchive, func() string {
			p := filepath.Join(dir, "img.tar")
			f, _ := os.Create(p)
			defer f.Close()
			if err := Save(src, []string{ref}, FormatDockerArchive, f, ""); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"oci-dir", FormatOCIDir, func() string {
			p := filepath.Join(dir, "layout")
			if err := Save(src, []string{ref}, FormatOCIDir, nil, p); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"oci-layout-tarred", FormatOCIDir, func() string {
			p := filepath.Join(dir, "layout2")
			if err := Save(src, []string{ref}, FormatOCIDir, nil, p); err != nil {
				t.Fatal(err)
			}
			tarDir(t, p, p+".tar")
			return p + ".tar"
		}},
		{"oci-archive", FormatOCIArchive, func() string {
			p := filepath.Join(dir, "oci.tar")
			f, _ := os.Create(p)
			defer f.Close()
			if err := Save(src, []string{ref}, FormatOCIArchive, f, ""); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := openStore(t)
			loaded, err := Load(context.Background(), dst, tc.path(), distribution.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded) != 1 || loaded[0].Image.ID != rec.ID {
				t.Fatalf("loaded %+v, want image %s", loaded, rec.ID)
			}
			got, err := dst.Resolve(ref)
			if err != nil || got.ID != rec.ID {
				t.Fatalf("resolve after load: %v", err)
			}
			top := dst.Snapshots().Path(got.Layers[1].DiffID)
			if b, _ := os.ReadFile(filepath.Join(top, "etc/hostname")); string(b) != "berth" {
				t.Errorf("layer content %q", b)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	s := openStore(t)
	dir := t.TempDir()
	notTar := filepath.Join(dir, "junk")
	os.WriteFile(notTar, []byte(strings.Repeat("junk", 300)), 0o644)
	emptyTar := filepath.Join(dir, "empty.tar")
	var buf bytes.Buffer
	tar.NewWriter(&buf).Close()
	os.WriteFile(emptyTar, buf.Bytes(), 0o644)
	tests := []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{notTar, "not a tar archive"},
		{emptyTar, "neither a docker-archive"},
	}
	for _, tc := range tests {
		if _, err := Load(context.Background(), s, tc.path, distribution.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
	if imgs, _ := s.Images(); len(imgs) != 0 {
		t.Error("failed loads stored images")
	}
	if err := Save(s, []string{"nothere"}, "", &buf, ""); err == nil {
		t.Error("save of a missing image succeeded")
	}
}

// TestSaveOCIMediaTypes: an image stored with Docker schema 2 media types
// is saved into an OCI layout with OCI ones (umoci and skopeo find no
// Docker manifest in a layout), with the same config and layer blobs.
func TestSaveOCIMediaTypes(t *testing.T) {
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("random image is %s", mt)
	}
	const ref = "example.com/docker/schema2:v1"
	archive := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(archive, name.MustParseReference(ref), img); err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	if _, err := Load(context.Background(), s, archive, distribution.Options{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := Save(s, []string{ref}, FormatOCIDir, nil, dir); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %v", err)
	}
	if im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Errorf("index names a %s", im.Manifests[0].MediaType)
	}
	saved, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := saved.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || m.Config.Digest != want {
		t.Errorf("saved manifest %s, config %s %s; want OCI types and config %s", m.MediaType, m.Config.MediaType, m.Config.Digest, want)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %s is %s", l.Digest, l.MediaType)
		}
		if _, err := saved.LayerByDigest(l.Digest); err != nil {
			t.Errorf("layer %s not in the layout: %v", l.Digest, err)
		}
	}
	// It loads back as the same image.
	other := openStore(t)
	loaded, err := Load(context.Background(), other, dir, distribution.Options{})
	if err != nil || len(loaded) != 1 || loaded[0].Image.ID != want {
		t.Fatalf("load of the saved layout: %+v, %v", loaded, err)
	}
}
