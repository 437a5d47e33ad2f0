package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot/archive"
	"github.com/berth-dev/berth/test/fixture"
)

// TestOverlayRedirectDiff: a directory renamed on an overlay mounted with
// redirect_dir=on (a host default elsewhere) leaves a redirect in the
// upper dir that the upper dir alone cannot explain; Diff then compares
// the whole trees, and the diff still rebuilds the snapshot.
func TestOverlayRedirectDiff(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, f := range []string{"d/a", "d/sub/b", "other"} {
		tw.WriteHeader(&tar.Header{Name: f, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f))})
		tw.Write([]byte(f))
	}
	tw.Close()
	blob := layer.Bytes()
	diffID, _, _ := v1.SHA256(bytes.NewReader(blob))
	if err := s.Unpack(diffID, bytes.NewReader(blob), nil); err != nil {
		t.Fatal(err)
	}
	top, err := s.Chain([]v1.Hash{diffID})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := s.NewDriver(DriverOverlay)
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := sn.Prepare("ctr", top)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	opts := strings.Join(append(mounts[0].Options, "redirect_dir=on"), ",")
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		t.Skipf("overlay with redirect_dir=on: %v", err)
	}
	t.Cleanup(func() { Unmount(target) })
	if err := os.Rename(filepath.Join(target, "d"), filepath.Join(target, "e")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "e/new"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	upper := strings.TrimPrefix(mounts[0].Options[1], "upperdir=")
	if _, err := unix.Lgetxattr(filepath.Join(upper, "e"), "trusted.overlay.redirect", nil); err != nil {
		t.Fatalf("no redirect in the upper dir: %v", err)
	}
	want, err := fixture.Tree(target, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := Unmount(target); err != nil {
		t.Fatal(err)
	}
	var diff bytes.Buffer
	if _, err := sn.Diff("ctr", &diff, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if err := os.Mkdir(ref, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{blob, diff.Bytes()} {
		if err := archive.Apply(bytes.NewReader(b), ref, archive.Options{Whiteouts: archive.WhiteoutApply}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := fixture.Tree(ref, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parent + diff differs from the snapshot (-snapshot +applied):\n%s", d)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "active")); len(entries) != 1 {
		t.Errorf("the full diff left %v in active/", entries)
	}
	if err := sn.Remove("ctr"); err != nil {
		t.Fatal(err)
	}
}
