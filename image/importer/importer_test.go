package importer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/image/internal/imagetest"
	"github.com/berth-dev/berth/image/store"
)

func TestImport(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	tarball := imagetest.Tar(t, map[string]string{"bin/": "", "bin/sh": "#!", "etc/hosts": "127.0.0.1 localhost\n"})
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	img, err := Import(ctx, s, bytes.NewReader(tarball), "imp:v1", Options{Changes: []string{"CMD sh"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve("imp:v1")
	if err != nil || got.ID != img.ID || len(got.Layers) != 1 || !got.Created.Equal(now) {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Snapshots().Path(got.Layers[0].DiffID), "etc/hosts")); err != nil || string(b) != "127.0.0.1 localhost\n" {
		t.Errorf("unpacked layer: %q, %v", b, err)
	}
	// The same tarball again gives the same image (deterministic blobs).
	again, err := Import(ctx, s, bytes.NewReader(tarball), "", Options{Changes: []string{"CMD sh"}, Now: now})
	if err != nil || again.ID != img.ID {
		t.Errorf("re-import: %v, %v vs %v", err, again.ID, img.ID)
	}

	for name, tc := range map[string]struct {
		in   []byte
		ref  string
		opts Options
		want string
	}{
		"empty":      {nil, "", Options{}, "empty input"},
		"escape":     {imagetest.Tar(t, map[string]string{"../x": "evil"}), "", Options{}, "escapes the layer root"},
		"digest ref": {tarball, "imp@sha256:" + strings.Repeat("a", 64), Options{}, "not a digest"},
		"bad change": {tarball, "", Options{Changes: []string{"FROM x"}}, "unsupported instruction"},
	} {
		_, err := Import(ctx, s, bytes.NewReader(tc.in), tc.ref, Options{Changes: tc.opts.Changes, Source: "src.tar"})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "import src.tar") {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if e, _ := os.ReadDir(filepath.Join(s.Root(), "image/tmp")); len(e) != 0 {
		t.Errorf("tmp left: %v", e)
	}
}
