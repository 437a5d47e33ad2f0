package image_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestLoadHostile: `load` of an archive whose layer escapes its root, or
// of an archive cut short, fails naming the archive and the cause, writes
// nothing outside the store and leaves the store as it was.
func TestLoadHostile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "escaped")
	layerOf := func(hdrs ...*tar.Header) v1.Layer {
		l, err := tarball.LayerFromFile(hostileTar(t, hdrs...))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	hostileArchive := func(hdrs ...*tar.Header) string {
		img, err := mutate.AppendLayers(empty.Image, layerOf(hdrs...))
		if err != nil {
			t.Fatal(err)
		}
		return archiveOf(t, "e2e/hostile:v1", img)
	}
	truncated := func() string {
		full := archiveOf(t, "e2e/cut:v1", randomImage(t, 64<<10, 2))
		b, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "cut.tar")
		if err := os.WriteFile(p, b[:len(b)*2/3], 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		in   func() string
		want []string
	}{
		{"dotdot", func() string {
			return hostileArchive(&tar.Header{Name: "../../../../../../../.." + outside, Typeflag: tar.TypeReg})
		}, []string{"escapes the layer root"}},
		{"symlink-escape", func() string {
			return hostileArchive(
				&tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../.." + filepath.Dir(outside)},
				&tar.Header{Name: "up/escaped", Typeflag: tar.TypeReg})
		}, []string{"leaves the root"}},
		{"hardlink-escape", func() string {
			return hostileArchive(&tar.Header{Name: "passwd", Typeflag: tar.TypeLink, Linkname: "../../../../etc/passwd"})
		}, []string{"hardlink target"}},
		{"truncated", truncated, []string{"load"}},
		// A good layer first: it is unpacked, then removed with the rest.
		{"second-layer", func() string {
			img, err := mutate.AppendLayers(empty.Image,
				layerOf(&tar.Header{Name: "fine", Typeflag: tar.TypeReg}),
				layerOf(&tar.Header{Name: "../../../../../../../.." + outside, Typeflag: tar.TypeReg}))
			if err != nil {
				t.Fatal(err)
			}
			return archiveOf(t, "e2e/hostile:v2", img)
		}, []string{"escapes the layer root"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			in := tc.in()
			_, err := berth(t, root, "load", "-i", in)
			wantErr(t, err, tc.want...)
			if _, err := os.Lstat(outside); err == nil {
				t.Fatalf("load wrote %s", outside)
			}
			assertEmptyStore(t, root)

			// The same through stdin.
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = berthStdin(t, root, f, "load")
			wantErr(t, err, append([]string{"load (stdin)"}, tc.want...)...)
			assertEmptyStore(t, root)
		})
	}
}
