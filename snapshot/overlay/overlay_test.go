package overlay

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/snapshot/archive"
)

func layer(t *testing.T, dir string, files ...string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f))}
		if strings.HasSuffix(f, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if strings.Contains(f, ".wh.") {
			h.Size = 0
		}
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte(f))
		}
	}
	tw.Close()
	if err := archive.Extract(&buf, dir, archive.Options{Whiteouts: archive.WhiteoutOverlay}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ls(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestPrepareStacksLayers(t *testing.T) {
	base := t.TempDir()
	l1 := layer(t, filepath.Join(base, "l1"), "a", "b", "dir/", "dir/x", "dir/y", "keep/", "keep/k")
	l2 := layer(t, filepath.Join(base, "l2"), ".wh.a", "dir/.wh..wh..opq", "dir/z", "c", "keep/.wh.nothing")
	l3 := layer(t, filepath.Join(base, "l3"), ".wh.c", "b")
	before := ls(t, l1) + "|" + ls(t, l2) + "|" + ls(t, l3)

	r, err := Prepare(filepath.Join(base, "ctr"), []string{l3, l2, l1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Remove() })

	if got, want := ls(t, r.Merged()), "b dir dir/z keep keep/k"; got != want {
		t.Errorf("merged = %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(r.Merged(), "b")); string(b) != "b" {
		t.Errorf("b = %q", b)
	}
	// Changes go to the upper dir only.
	if err := os.WriteFile(filepath.Join(r.Merged(), "new"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.Merged(), "keep/k")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.Upper(), "new")); err != nil {
		t.Errorf("write did not reach the upper dir: %v", err)
	}
	if err := r.Unmount(); err != nil {
		t.Fatal(err)
	}
	if after := ls(t, l1) + "|" + ls(t, l2) + "|" + ls(t, l3); after != before {
		t.Errorf("layers changed:\n%s\n%s", before, after)
	}
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rootfs dir left: %v", err)
	}
}

func TestMountErrors(t *testing.T) {
	d := t.TempDir()
	many := func(n int, dir string) []string {
		var l []string
		for range n {
			l = append(l, dir+"/"+strings.Repeat("x", 40))
		}
		return l
	}
	tests := []struct {
		name   string
		method Method
		lowers []string
		upper  string
		want   string
	}{
		{"no layers", Auto, nil, d, "no lower layers"},
		{"comma", Auto, []string{d + "/a,b"}, d, "contains"},
		{"too many for one page", Legacy, many(200, d), d, "bytes of mount options"},
		{"relative without a common parent", Relative, append(many(1, d), "/x/y"), d, "common parent"},
		{"read-only with one layer", Auto, []string{d}, "", "two lower layers"},
		{"missing layer", Auto, []string{d + "/nothere"}, d, "overlay mount on"},
		{"missing layer, relative", Relative, []string{d + "/nothere"}, d, "(1 layers, relative)"},
	}
	for _, tc := range tests {
		err := MountWith(tc.method, tc.lowers, tc.upper, tc.upper, d, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			Unmount(d)
		}
	}
}

// TestRelativeKeepsCwd: the relative method changes the working directory
// of its own thread only.
func TestRelativeKeepsCwd(t *testing.T) {
	base := t.TempDir()
	before, _ := os.Getwd()
	l1 := layer(t, filepath.Join(base, "1"), "a")
	l2 := layer(t, filepath.Join(base, "2"), "b")
	target := filepath.Join(base, "m")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := MountWith(Relative, []string{l2, l1}, "", "", target, true); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.Getwd(); after != before {
			t.Fatalf("cwd moved to %s", after)
		}
		if ls(t, target) != "a b" {
			t.Errorf("merged: %s", ls(t, target))
		}
		if err := Unmount(target); err != nil {
			t.Fatal(err)
		}
	}
}
