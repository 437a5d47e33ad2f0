package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/image/distribution"
	"github.com/berth-dev/berth/image/internal/imagetest"
	"github.com/berth-dev/berth/image/store"
)

func open(t *testing.T, root string) *store.Store {
	t.Helper()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWriteBlobVerifies(t *testing.T) {
	s := open(t, t.TempDir())
	good := []byte("hello")
	h, _, _ := v1.SHA256(bytes.NewReader(good))
	tests := []struct {
		name    string
		data    []byte
		size    int64
		wantErr string
	}{
		{"wrong content", []byte("jello"), -1, "digest mismatch"},
		{"wrong size", good, 4, "size mismatch"},
		{"ok", good, 5, ""},
	}
	for _, tc := range tests {
		err := s.WriteBlob(h, tc.size, bytes.NewReader(tc.data))
		if tc.wantErr == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
		if s.HasBlob(h) {
			t.Fatalf("%s: bad blob committed", tc.name)
		}
	}
	if b, err := s.ReadBlob(h); err != nil || string(b) != "hello" {
		t.Fatalf("read back %q %v", b, err)
	}
	if e, _ := os.ReadDir(filepath.Join(s.Root(), "image", "tmp")); len(e) != 0 {
		t.Errorf("tmp not empty: %v", e)
	}
	if err := s.WriteBlob(v1.Hash{Algorithm: "sha256", Hex: "../../etc"}, -1, bytes.NewReader(nil)); err == nil {
		t.Error("bad digest accepted")
	}
}

// pullFixture pushes a two-layer image to an in-process registry and pulls it.
func pullFixture(t *testing.T, s *store.Store, repo string) store.Image {
	t.Helper()
	reg := imagetest.NewRegistry(t)
	img := imagetest.Image(t, nil,
		imagetest.Layer(t, "gzip", map[string]string{"base": repo}),
		imagetest.Layer(t, "zstd", map[string]string{"top": repo}))
	ref := reg.Host + "/" + repo + ":v1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	rec, err := distribution.Pull(context.Background(), s, ref, distribution.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(rec.ID.String(), repo); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestResolveTagRemoveGC(t *testing.T) {
	s := open(t, t.TempDir())
	a := pullFixture(t, s, "alpha")
	b := pullFixture(t, s, "beta")
	tests := []struct {
		ref  string
		want v1.Hash
	}{
		{"alpha", a.ID},
		{"docker.io/library/alpha:latest", a.ID},
		{a.ID.String(), a.ID},
		{a.ID.Hex[:12], a.ID},
		{"beta:latest", b.ID},
		{a.RepoDigests[0], a.ID},
	}
	for _, tc := range tests {
		got, err := s.Resolve(tc.ref)
		if err != nil || got.ID != tc.want {
			t.Errorf("Resolve(%q) = %s, %v; want %s", tc.ref, got.ID, err, tc.want)
		}
	}
	if _, err := s.Resolve("gamma"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Resolve(gamma) = %v", err)
	}
	// alpha has two names: removing by ID needs force.
	if _, err := s.Remove(a.ID.Hex[:12], false); err == nil || !strings.Contains(err.Error(), "must be forced") {
		t.Errorf("remove by ID of a multi-named image: %v", err)
	}
	res, err := s.Remove("alpha", false)
	if err != nil || len(res.Untagged) != 1 || len(res.Deleted) != 0 {
		t.Fatalf("untag alpha: %+v %v", res, err)
	}
	if res, err = s.Remove(a.ID.String(), false); err != nil || len(res.Deleted) != 1 {
		t.Fatalf("remove alpha: %+v %v", res, err)
	}
	blobs, layers := map[string]bool{}, map[string]bool{}
	if err := store.LegacyMeta(s.Root()).View(func(tx *bolt.Tx) error { return store.Referenced(tx, blobs, layers) }); err != nil {
		t.Fatal(err)
	}
	gc, err := s.Sweep(blobs, layers)
	if err != nil {
		t.Fatal(err)
	}
	// alpha's manifest, config and two layers go; beta stays whole.
	if gc.Blobs != 4 || gc.Layers != 2 {
		t.Errorf("gc removed %+v, want 4 blobs and 2 layers", gc)
	}
	for _, l := range a.Layers {
		if s.HasBlob(l.Digest) || s.Snapshots().Has(l.DiffID) {
			t.Errorf("alpha layer %s survived gc", l.Digest)
		}
	}
	for _, l := range b.Layers {
		if !s.HasBlob(l.Digest) || !s.Snapshots().Has(l.DiffID) {
			t.Errorf("beta layer %s lost by gc", l.Digest)
		}
	}
}

// TestOpenCleansLeftovers: what a killed pull leaves in tmp/ goes at the
// next Open that has the root to itself, and committed blobs stay usable.
func TestOpenCleansLeftovers(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	rec := pullFixture(t, s, "alpha")
	s.Close()
	for _, p := range []string{"image/tmp/blob-123", "snapshots/tmp/abc-1/etc/x"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := open(t, root)
	for _, d := range []string{"image/tmp", "snapshots/tmp"} {
		if e, _ := os.ReadDir(filepath.Join(root, d)); len(e) != 0 {
			t.Errorf("%s not cleaned: %v", d, e)
		}
	}
	if got, err := s2.Resolve("alpha"); err != nil || got.ID != rec.ID {
		t.Errorf("image lost: %v", err)
	}
}

// TestConcurrentPulls: several store handles (as several berth processes)
// pull the same image at once; the store ends whole and each layer once.
func TestConcurrentPulls(t *testing.T) {
	root := t.TempDir()
	reg := imagetest.NewRegistry(t)
	img := imagetest.Image(t, nil,
		imagetest.Layer(t, "gzip", map[string]string{"a": strings.Repeat("a", 1<<20)}),
		imagetest.Layer(t, "gzip", map[string]string{"b": strings.Repeat("b", 1<<20)}))
	ref := reg.Host + "/same:v1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(root)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			_, err = distribution.Pull(context.Background(), s, ref, distribution.Options{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, root)
	imgs, err := s.Images()
	if err != nil || len(imgs) != 1 {
		t.Fatalf("images %v %v", len(imgs), err)
	}
	layers, _ := s.Snapshots().List()
	if len(layers) != 2 {
		t.Errorf("%d layers", len(layers))
	}
}
