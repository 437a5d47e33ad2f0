package engine_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const outputDockerfile = `FROM busybox
RUN mkdir -p /app/sub && echo hello > /app/hello.txt && echo deep > /app/sub/deep.txt && ln -s /app/hello.txt /app/abs-link
CMD ["cat", "/app/hello.txt"]
`

// tarEntries lists a tar's entries with their link targets or contents
// under /app.
func tarEntries(t *testing.T, r io.Reader) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		if !strings.HasPrefix(n, "app") {
			continue
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			n += " -> " + h.Linkname
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			n += " = " + strings.TrimSpace(string(b))
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// treeNames lists dir/app as tarEntries does.
func treeNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.Walk(filepath.Join(dir, "app"), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			n += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			n += " = " + strings.TrimSpace(string(b))
		}
		names = append(names, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// TestBuildOutput: each --output type writes the image where it says,
// and does not tag it in the store; archives load back and run.
func TestBuildOutput(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": outputDockerfile})
	out := t.TempDir()
	want := []string{"app", "app/abs-link -> /app/hello.txt", "app/hello.txt = hello", "app/sub", "app/sub/deep.txt = deep"}

	for _, typ := range []string{"docker", "oci"} {
		t.Run(typ, func(t *testing.T) {
			f := filepath.Join(out, typ+".tar")
			e.build("-t", "out-"+typ, "-o", "type="+typ+",dest="+f, dir)
			if _, _, code := e.berth("image", "inspect", "out-"+typ); code == 0 {
				t.Errorf("type=%s tagged out-%s in the store", typ, typ)
			}
			e.must("load", "-i", f)
			if got := e.must("run", "--rm", "out-"+typ); got != "hello" {
				t.Errorf("the loaded image says %q", got)
			}
		})
	}
	t.Run("oci-name", func(t *testing.T) {
		f := filepath.Join(out, "named.tar")
		e.build("-o", "type=oci,dest="+f+",name=other:v1", dir)
		e.must("load", "-i", f)
		if got := e.must("run", "--rm", "other:v1"); got != "hello" {
			t.Errorf("the loaded image says %q", got)
		}
	})
	t.Run("tar", func(t *testing.T) {
		f := filepath.Join(out, "fs.tar")
		e.build("-o", "type=tar,dest="+f, dir)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		if got := tarEntries(t, fh); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("tar:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		stdout, errOut, code := e.berth("build", "--progress", "plain", "--network", "none", "-o", "-", dir)
		if code != 0 {
			t.Fatalf("-o -: exit %d\n%s", code, errOut)
		}
		if got := tarEntries(t, strings.NewReader(stdout)); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("-o -:\n%s", strings.Join(got, "\n"))
		}
	})
	t.Run("local", func(t *testing.T) {
		for _, arg := range []string{"type=local,dest=" + filepath.Join(out, "l1"), filepath.Join(out, "l2")} {
			e.build("-o", arg, dir)
			d := strings.TrimPrefix(arg, "type=local,dest=")
			if got := treeNames(t, d); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("-o %s:\n%s", arg, strings.Join(got, "\n"))
			}
			if _, err := os.Stat(filepath.Join(d, "bin", "busybox")); err != nil {
				t.Errorf("-o %s: the base image's files: %v", arg, err)
			}
		}
	})
}

// TestBuildOutputHostile: an image's absolute symlink, already in the
// local dest from an earlier export, does not make a later export write
// outside the directory.
func TestBuildOutputHostile(t *testing.T) {
	e := newEnv(t)
	victim := t.TempDir()
	dest := filepath.Join(t.TempDir(), "out")
	a := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN ln -s " + victim + " /x && ln -s / /root-link\n"})
	b := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN mkdir -p /x /root-link/tmp && echo pwned > /x/f && echo pwned > /root-link/tmp/g\n"})
	e.build("-o", "type=local,dest="+dest, a)
	if l, err := os.Readlink(filepath.Join(dest, "x")); err != nil || l != victim {
		t.Fatalf("x: %q %v", l, err)
	}
	// The second may fail (a directory does not replace a symlink) but
	// must not write through it.
	e.berth("build", "--progress", "plain", "--network", "none", "-o", "type=local,dest="+dest, b)
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Errorf("the export wrote into %s: %v", victim, ents)
	}
	if _, err := os.Stat("/tmp/g"); err == nil {
		t.Errorf("the export wrote /tmp/g")
		os.Remove("/tmp/g")
	}
}

// TestBuildOutputBad: bad --output values fail before the build, exit 1,
// and write nothing.
func TestBuildOutputBad(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": outputDockerfile})
	out := t.TempDir()
	file := filepath.Join(out, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ arg, want string }{
		{"type=bogus,dest=" + filepath.Join(out, "b"), `unknown type "bogus"`},
		{"type=oci", "needs dest="},
		{"type=docker", "needs dest="},
		{"type=tar", "needs dest="},
		{"type=local", "needs dest=DIRECTORY"},
		{"type=local,dest=" + file, "is not a directory"},
		{"dest=" + filepath.Join(out, "c"), "no type="},
		{"type=oci,dest=" + filepath.Join(out, "nodir", "x.tar"), "does not exist"},
		{"type=oci,dest=" + out, "is a directory"},
		{"type=oci,dest=x,compression=zstd", "unsupported attribute"},
	} {
		stdout, errOut, code := e.berth("build", "--progress", "plain", "--network", "none", "-o", c.arg, dir)
		if code != 1 || !strings.Contains(errOut, "ERROR: ") || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "[1/2]") || stdout != "" {
			t.Errorf("-o %s: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and %q", c.arg, code, stdout, errOut, c.want)
		}
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 1 {
		t.Errorf("bad outputs left files: %v", ents)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, []byte("x")) {
		t.Errorf("the file dest was changed")
	}
}
