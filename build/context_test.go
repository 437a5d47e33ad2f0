package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if target, ok := strings.CutPrefix(body, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCleanRel(t *testing.T) {
	for in, want := range map[string]string{".": ".", "/": ".", "a/../b": "b", "/x/y/": "x/y", "./a": "a", "../a": "", "a/../../b": ""} {
		got, err := cleanRel(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q: %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

// TestPlan: where sources go, which are refused, and that the digest
// follows content, not times.
func TestPlan(t *testing.T) {
	outside := t.TempDir()
	dir := writeFiles(t, map[string]string{
		"a.txt": "a", "b.txt": "b", "d/x": "x", "d/e/y": "y", "in": "->a.txt", "out": "->" + outside,
		"ign/z": "z", ".dockerignore": "ign\n",
	})
	if err := syscall.Mkfifo(filepath.Join(dir, "d/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := OpenContext(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.LoadIgnore("Dockerfile"); err != nil {
		t.Fatal(err)
	}
	plan := func(dest string, srcs ...string) (copySet, []string, error) {
		set, err := copyArgs{srcs: srcs, dest: dest, from: c}.plan()
		var names []string
		for _, cp := range set.copies {
			var b bytes.Buffer
			cp.Tar(&b)
			tr := tar.NewReader(&b)
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				names = append(names, cp.Dest+":"+h.Name)
			}
		}
		return set, names, err
	}
	for _, tc := range []struct {
		dest string
		srcs []string
		want string
		err  string
	}{
		{"/f", []string{"a.txt"}, "/:f", ""},
		{"/dir/", []string{"a.txt"}, "/dir:a.txt", ""},
		{"/t/", []string{"*.txt"}, "/t:a.txt /t:b.txt", ""},
		{"/d", []string{"d"}, "/d:e/ /d:e/y /d:x", ""},
		{"/l", []string{"in"}, "/:l", ""},
		{"/x", []string{"a.txt", "b.txt"}, "", "must be a directory and end with a /"},
		{"/x", []string{"../a"}, "", "forbidden path outside the build context"},
		{"/x", []string{"out"}, "", "forbidden path outside the build context"},
		{"/x", []string{"ign/z"}, "", "not found"},
		{"/x", []string{"nope*"}, "", "not found"},
		{"/x", []string{"[bad"}, "", "invalid glob"},
	} {
		_, names, err := plan(tc.dest, tc.srcs...)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v -> %s: %v, want %q", tc.srcs, tc.dest, err, tc.err)
			}
			continue
		}
		if got := strings.Join(names, " "); err != nil || got != tc.want {
			t.Errorf("%v -> %s: %q %v, want %q", tc.srcs, tc.dest, got, err, tc.want)
		}
	}
	sum := func() string {
		s, _, err := plan("/d/", "d", "a.txt")
		if err != nil {
			t.Fatal(err)
		}
		return s.sum
	}
	s1 := sum()
	os.Chtimes(filepath.Join(dir, "d/x"), time0, time0)
	if s2 := sum(); s2 != s1 {
		t.Errorf("a new mtime changed the digest")
	}
	os.WriteFile(filepath.Join(dir, "d/x"), []byte("X"), 0o644)
	if s3 := sum(); s3 == s1 {
		t.Errorf("new content, same digest")
	}
}

// FuzzExtractContext: a context tar never writes outside its directory
// and never panics.
func FuzzExtractContext(f *testing.F) {
	mk := func(hs ...tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range hs {
			tw.WriteHeader(&h)
			if h.Typeflag == tar.TypeReg {
				tw.Write(make([]byte, h.Size))
			}
		}
		tw.Close()
		return b.Bytes()
	}
	f.Add(mk(tar.Header{Name: "a/b", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}))
	f.Add(mk(tar.Header{Name: "../x", Typeflag: tar.TypeReg, Size: 1}))
	f.Add(mk(tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"}, tar.Header{Name: "l/x", Typeflag: tar.TypeReg, Size: 1}))
	f.Add(mk(tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		base := t.TempDir()
		dir := filepath.Join(base, "ctx")
		os.Mkdir(dir, 0o755)
		_ = ExtractContext(bytes.NewReader(b), dir)
		ents, _ := os.ReadDir(base)
		if len(ents) != 1 {
			t.Fatalf("wrote outside the context: %v", ents)
		}
	})
}

var time0 = time.Unix(1e9, 0)

// TestSumCache: kept digests are used while a file's metadata stays;
// new content of the same size with the old mtime put back is still
// seen (ctime moves).
func TestSumCache(t *testing.T) {
	dir := writeFiles(t, map[string]string{"f": "aaaa"})
	sums := filepath.Join(t.TempDir(), "sums.json")
	digest := func() string {
		c, err := OpenContext(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.UseSumCache(sums)
		set, err := copyArgs{srcs: []string{"f"}, dest: "/f", from: c}.plan()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SaveSums(); err != nil {
			t.Fatal(err)
		}
		return set.sum
	}
	d1 := digest()
	if _, err := os.Stat(sums); err != nil {
		t.Fatalf("no digests kept: %v", err)
	}
	if d2 := digest(); d2 != d1 {
		t.Errorf("same file, new digest")
	}
	fi, _ := os.Stat(filepath.Join(dir, "f"))
	os.WriteFile(filepath.Join(dir, "f"), []byte("bbbb"), 0o644)
	os.Chtimes(filepath.Join(dir, "f"), fi.ModTime(), fi.ModTime())
	if d3 := digest(); d3 == d1 {
		t.Errorf("changed content (mtime put back) not seen")
	}
}
