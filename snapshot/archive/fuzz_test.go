package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// seedLayers are the starting points of FuzzExtract, besides the committed
// corpus under testdata/fuzz/FuzzExtract (written by TestWriteFuzzCorpus).
func seedLayers(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"kinds": mkTar(t,
			ent{name: "./", typ: tar.TypeDir, mode: 0o755},
			ent{name: "bin/busybox", mode: 0o4755, body: "ELF"},
			ent{name: "bin/sh", typ: tar.TypeLink, link: "bin/busybox"},
			ent{name: "bin/ls", typ: tar.TypeSymlink, link: "busybox"},
			ent{name: "lib", typ: tar.TypeSymlink, link: "/usr/lib"},
			ent{name: "lib/x.so", body: "so"},
			ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
			ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
			ent{name: "f", body: "x", xattrs: map[string]string{"user.a": "b"}},
		),
		"whiteouts": mkTar(t,
			ent{name: "etc/.wh.passwd"},
			ent{name: "var/.wh..wh..opq"},
			ent{name: "var/new", body: "n"},
		),
		"dotdot":         mkTar(t, ent{name: "../evil", body: "x"}),
		"absolute":       mkTar(t, ent{name: "/evil", body: "x"}),
		"symlink-out":    mkTar(t, ent{name: "l", typ: tar.TypeSymlink, link: "../outside"}),
		"symlink-parent": mkTar(t, ent{name: "l", typ: tar.TypeSymlink, link: "/../outside"}, ent{name: "l/evil", body: "x"}),
		"hardlink-out":   mkTar(t, ent{name: "h", typ: tar.TypeLink, link: "../outside/sentinel"}),
		"loop": mkTar(t, ent{name: "a", typ: tar.TypeSymlink, link: "b"}, ent{name: "b", typ: tar.TypeSymlink, link: "a"},
			ent{name: "a/x", body: "x"}),
	}
}

// TestWriteFuzzCorpus refreshes the committed corpus when asked:
// BERTH_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus ./snapshot/archive
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("BERTH_WRITE_CORPUS") == "" {
		t.Skip("set BERTH_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzExtract")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzExtract")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seedLayers(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzExtract (run it with TMPDIR=/dev/shm: every input makes and removes
// temporary directories, and the disk here discards synchronously):
// whatever the bytes, Extract never panics, never writes
// outside its target, and on error leaves nothing behind.
func FuzzExtract(f *testing.F) {
	for _, data := range seedLayers(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mode := range []WhiteoutMode{WhiteoutOverlay, WhiteoutApply} {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(outside, "sentinel"), []byte("s"), 0o644); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(base, "layer")
			err := Extract(bytes.NewReader(data), target, Options{Whiteouts: mode})
			names, _ := os.ReadDir(base)
			want := 2
			if err != nil {
				want = 1
			}
			if len(names) != want {
				t.Fatalf("mode %d, err %v: base holds %v", mode, err, names)
			}
			inside, _ := os.ReadDir(outside)
			if b, rerr := os.ReadFile(filepath.Join(outside, "sentinel")); len(inside) != 1 || rerr != nil || string(b) != "s" {
				t.Fatalf("mode %d: outside changed: %v", mode, inside)
			}
			os.RemoveAll(base)
		}
	})
}
