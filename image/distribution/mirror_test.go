package distribution

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/image/internal/imagetest"
	"github.com/berth-dev/berth/image/registry"
)

// TestPullMirrors: the mirror is asked first; a failing mirror falls back
// to the registry; the image is named after the registry either way.
func TestPullMirrors(t *testing.T) {
	origin, mirror := imagetest.NewRegistry(t), imagetest.NewRegistry(t)
	img := imagetest.Image(t, nil, imagetest.Layer(t, "gzip", map[string]string{"f": "mirrored"}))
	push(t, mirror.Host+"/test/app:v1", img)
	cfg := &registry.Config{DefaultRegistry: origin.Host, Mirrors: map[string][]string{origin.Host: {mirror.Host}}}

	s := openStore(t)
	mirror.Requests()
	rec, err := Pull(context.Background(), s, "test/app:v1", Options{Registries: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Resolve(origin.Host + "/test/app:v1"); got.ID != rec.ID {
		t.Errorf("image not named after the registry: %+v", got)
	}
	if len(origin.Requests()) != 0 || len(mirror.Requests()) == 0 {
		t.Error("the pull did not go to the mirror alone")
	}

	// The mirror is broken (404 everywhere): the registry serves the pull.
	other := imagetest.Image(t, nil, imagetest.Layer(t, "gzip", map[string]string{"f": "origin"}))
	push(t, origin.Host+"/test/other:v1", other)
	mirror.Fault = func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusNotFound)
		return true
	}
	if _, err := Pull(context.Background(), openStore(t), origin.Host+"/test/other:v1", Options{Registries: cfg}); err != nil {
		t.Fatalf("fallback to the registry: %v", err)
	}

	// Both fail: the error names the image and the registry's answer.
	origin.Fault = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			http.Error(w, "no", http.StatusUnauthorized)
			return true
		}
		return false
	}
	_, err = Pull(context.Background(), openStore(t), "test/other:v1", Options{Registries: cfg})
	if err == nil || !strings.Contains(err.Error(), "pull "+origin.Host+"/test/other:v1") || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("pull with both sources failing: %v", err)
	}
}
