// Package imagetest builds small images in code for the image packages'
// tests (the busybox fixture in test/fixture is for end-to-end tests).
package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Tar makes a layer tar from path → content; a path ending in "/" is a
// directory, content "->X" makes a symlink to X.
func Tar(t testing.TB, files map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range names {
		c := files[n]
		h := &tar.Header{Name: n, Mode: 0o644, ModTime: when, Typeflag: tar.TypeReg, Size: int64(len(c))}
		switch {
		case strings.HasSuffix(n, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(c, "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, c[2:], 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(c))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer makes a layer with the given compression ("gzip", "zstd" or "none").
func Layer(t testing.TB, comp string, files map[string]string) v1.Layer {
	t.Helper()
	b := Tar(t, files)
	if comp == "none" {
		return static.NewLayer(b, types.OCIUncompressedLayer)
	}
	c, mt := compression.GZip, types.DockerLayer
	if comp == "zstd" {
		c, mt = compression.ZStd, types.OCILayerZStd
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithCompression(c), tarball.WithMediaType(mt))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image stacks layers into an image for platform (nil: linux/amd64).
func Image(t testing.TB, platform *v1.Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	if platform == nil {
		platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Created = v1.Time{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// Registry is go-containerregistry's in-process registry on 127.0.0.1,
// with a request log and an optional fault hook in front of it.
type Registry struct {
	*httptest.Server
	Host string // 127.0.0.1:PORT

	mu       sync.Mutex
	requests []string
	// Fault, if set, may answer a request itself (return true) instead of
	// the registry.
	Fault func(w http.ResponseWriter, r *http.Request) bool
}

// NewRegistry starts a registry; it stops at the end of the test.
func NewRegistry(t testing.TB) *Registry {
	reg := &Registry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	reg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		reg.requests = append(reg.requests, r.Method+" "+r.URL.Path)
		fault := reg.Fault
		reg.mu.Unlock()
		if fault != nil && fault(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(reg.Close)
	reg.Host = strings.TrimPrefix(reg.URL, "http://")
	return reg
}

// Requests returns and clears the request log ("METHOD /path").
func (r *Registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}
