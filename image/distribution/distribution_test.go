package distribution

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/image/internal/imagetest"
	"github.com/berth-dev/berth/image/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func TestPullLayerKinds(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	tests := []struct {
		name   string
		layers []v1.Layer
		want   map[string]string // path in the topmost layer → content
	}{
		{"gzip", []v1.Layer{imagetest.Layer(t, "gzip", map[string]string{"bin/": "", "bin/sh": "shell"})}, map[string]string{"bin/sh": "shell"}},
		{"zstd", []v1.Layer{imagetest.Layer(t, "zstd", map[string]string{"etc/os-release": "berth"})}, map[string]string{"etc/os-release": "berth"}},
		{"uncompressed", []v1.Layer{imagetest.Layer(t, "none", map[string]string{"x": "plain"})}, map[string]string{"x": "plain"}},
		{"stack", []v1.Layer{
			imagetest.Layer(t, "gzip", map[string]string{"a": "1", "b": "2"}),
			imagetest.Layer(t, "zstd", map[string]string{".wh.a": "", "c": "3"}),
		}, map[string]string{"c": "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			ref := reg.Host + "/test/" + tc.name + ":v1"
			push(t, ref, imagetest.Image(t, nil, tc.layers...))
			rec, err := Pull(context.Background(), s, ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Layers) != len(tc.layers) {
				t.Fatalf("%d layers recorded", len(rec.Layers))
			}
			top := s.Snapshots().Path(rec.Layers[len(rec.Layers)-1].DiffID)
			for p, want := range tc.want {
				b, err := os.ReadFile(filepath.Join(top, p))
				if err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want %q", p, b, err, want)
				}
			}
			for _, l := range rec.Layers {
				if !s.HasBlob(l.Digest) || !s.Snapshots().Has(l.DiffID) {
					t.Errorf("layer %s: blob or snapshot missing", l.Digest)
				}
			}
			got, err := s.Resolve(ref)
			if err != nil || got.ID != rec.ID {
				t.Fatalf("resolve %s: %v %v", ref, got.ID, err)
			}
		})
	}
}

func TestPullPicksPlatformFromIndex(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	amd := imagetest.Image(t, &v1.Platform{OS: "linux", Architecture: "amd64"}, imagetest.Layer(t, "gzip", map[string]string{"arch": "amd64"}))
	arm := imagetest.Image(t, &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, imagetest.Layer(t, "gzip", map[string]string{"arch": "arm64"}))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	ref := reg.Host + "/multi:latest"
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	tests := []struct {
		platform v1.Platform
		want     v1.Image
		wantErr  string
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, amd, ""},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, arm, ""},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, arm, ""},
		{v1.Platform{OS: "linux", Architecture: "s390x"}, nil, "no image for platform linux/s390x"},
	}
	for _, tc := range tests {
		t.Run(tc.platform.String(), func(t *testing.T) {
			s := openStore(t)
			rec, err := Pull(context.Background(), s, ref, Options{Platform: &tc.platform})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if imgs, _ := s.Images(); len(imgs) != 0 {
					t.Fatalf("failed pull recorded %d images", len(imgs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantID, _ := tc.want.ConfigName()
			if rec.ID != wantID {
				t.Errorf("pulled %s, want %s", rec.ID, wantID)
			}
			if len(rec.RepoDigests) != 1 || !strings.HasSuffix(rec.RepoDigests[0], "@"+idxDigest.String()) {
				t.Errorf("repo digests %v, want the index digest %s", rec.RepoDigests, idxDigest)
			}
			if !s.HasBlob(idxDigest) {
				t.Error("index blob not kept")
			}
		})
	}
}

// TestPullCorruptBlob: a registry that serves wrong bytes for a layer must
// leave neither the blob nor its snapshot nor an image behind.
func TestPullCorruptBlob(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	layer := imagetest.Layer(t, "none", map[string]string{"f": "good content"})
	ref := reg.Host + "/corrupt:v1"
	push(t, ref, imagetest.Image(t, nil, layer))
	ld, _ := layer.Digest()
	diffID, _ := layer.DiffID()
	reg.Fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			size, _ := layer.Size()
			body := imagetest.Tar(t, map[string]string{"f": "evil content"})
			w.Write(body[:size])
			return true
		}
		return false
	}
	s := openStore(t)
	if _, err := Pull(context.Background(), s, ref, Options{}); err == nil {
		t.Fatal("pull of a corrupt layer succeeded")
	}
	if s.HasBlob(ld) || s.Snapshots().Has(diffID) {
		t.Error("corrupt layer committed")
	}
	if imgs, _ := s.Images(); len(imgs) != 0 {
		t.Error("image recorded")
	}
	for _, d := range []string{"image/tmp", "snapshots/tmp"} {
		if e, _ := os.ReadDir(filepath.Join(s.Root(), d)); len(e) != 0 {
			t.Errorf("%s left: %v", d, e)
		}
	}
}

func TestPullTwiceAndShare(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	base := imagetest.Layer(t, "gzip", map[string]string{"base": "b"})
	push(t, reg.Host+"/a:v1", imagetest.Image(t, nil, base))
	push(t, reg.Host+"/b:v1", imagetest.Image(t, nil, base, imagetest.Layer(t, "gzip", map[string]string{"top": "t"})))
	s := openStore(t)
	for _, ref := range []string{"/a:v1", "/b:v1"} {
		if _, err := Pull(context.Background(), s, reg.Host+ref, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	reg.Requests()
	if _, err := Pull(context.Background(), s, reg.Host+"/b:v1", Options{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range reg.Requests() {
		if strings.Contains(r, "/blobs/") {
			t.Errorf("second pull fetched a blob again: %s", r)
		}
	}
	layers, _ := s.Snapshots().List()
	if len(layers) != 2 {
		t.Errorf("%d snapshots, want 2 (shared base)", len(layers))
	}
}

func TestPushUploadsOnlyMissingBlobs(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	base := imagetest.Layer(t, "gzip", map[string]string{"base": "b"})
	push(t, reg.Host+"/src:v1", imagetest.Image(t, nil, base, imagetest.Layer(t, "zstd", map[string]string{"top": "t"})))
	s := openStore(t)
	rec, err := Pull(context.Background(), s, reg.Host+"/src:v1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The destination registry already has the base layer.
	dst := imagetest.NewRegistry(t)
	push(t, dst.Host+"/dst:old", imagetest.Image(t, nil, base))
	dst.Requests()
	if err := Push(context.Background(), s, reg.Host+"/src:v1", dst.Host+"/dst:v1", Options{}); err != nil {
		t.Fatal(err)
	}
	var uploads []string
	for _, r := range dst.Requests() {
		if strings.HasPrefix(r, "POST ") || (strings.HasPrefix(r, "PUT ") && strings.Contains(r, "/blobs/")) {
			uploads = append(uploads, r)
		}
	}
	// The top layer and the config are missing: one upload session each
	// (POST + PUT); the shared base layer is not sent again.
	if len(uploads) != 4 {
		t.Errorf("uploads %v: want the top layer and the config only", uploads)
	}
	// The pushed image is byte for byte the pulled one.
	r, _ := name.ParseReference(dst.Host + "/dst:v1")
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != rec.Manifest {
		t.Errorf("pushed manifest %s, stored %s", desc.Digest, rec.Manifest)
	}
	// Pushing again uploads nothing.
	if err := Push(context.Background(), s, reg.Host+"/src:v1", dst.Host+"/dst:v1", Options{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range dst.Requests() {
		if strings.HasPrefix(r, "POST ") {
			t.Errorf("second push uploaded: %s", r)
		}
	}
}

func TestPullErrors(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	s := openStore(t)
	tests := []struct{ ref, want string }{
		{"Bad Ref", "invalid image reference"},
		{reg.Host + "/missing:v1", "Unknown name"},
	}
	for _, tc := range tests {
		_, err := Pull(context.Background(), s, tc.ref, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Pull(%q) = %v, want %q", tc.ref, err, tc.want)
		}
	}
	if err := Push(context.Background(), s, "nothere", "", Options{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("push of a missing image: %v", err)
	}
}
