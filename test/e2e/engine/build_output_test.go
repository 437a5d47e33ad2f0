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
// and leaves nothing in the store but the build cache; the archives load
// back and run.
func TestBuildOutput(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": outputDockerfile})
	out := t.TempDir()
	want := strings.Join([]string{"app", "app/abs-link -> /app/hello.txt", "app/hello.txt = hello", "app/sub", "app/sub/deep.txt = deep"}, "\n")
	base := e.must("images", "-q", "--no-trunc")

	for _, c := range []struct{ typ, vertex string }{
		{"docker", "exporting to docker image format"},
		{"oci", "exporting to oci image format"},
	} {
		f := filepath.Join(out, c.typ+".tar")
		progress := e.build("-t", "out-"+c.typ, "-o", "type="+c.typ+",dest="+f, dir)
		if !strings.Contains(progress, " "+c.vertex+"\n") || !strings.Contains(progress, " sending tarball ") || strings.Contains(progress, "exporting to image") {
			t.Errorf("type=%s: progress:\n%s", c.typ, progress)
		}
	}
	f := filepath.Join(out, "named.tar")
	e.build("-o", `type=oci,dest=`+f+`,"name=other:v1,other:v2"`, dir)
	// A tar of the root file system, to a file and to stdout (-o -,
	// and type=tar without dest, as buildx when stdout is no terminal).
	e.build("-o", "type=tar,dest="+filepath.Join(out, "fs.tar"), dir)
	fh, err := os.Open(filepath.Join(out, "fs.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tarEntries(t, fh), "\n"); got != want {
		t.Errorf("tar:\n%s\nwant:\n%s", got, want)
	}
	fh.Close()
	for _, arg := range []string{"-", "type=tar"} {
		stdout, errOut, code := e.berth("build", "--progress", "plain", "--network", "none", "-q", "-o", arg, dir)
		if code != 0 || errOut != "" {
			t.Fatalf("-o %s: exit %d\n%s", arg, code, errOut)
		}
		if got := strings.Join(tarEntries(t, strings.NewReader(stdout)), "\n"); got != want {
			t.Errorf("-o %s:\n%s", arg, got)
		}
	}
	// An OCI layout on stdout.
	stdout, _, code := e.berth("build", "--network", "none", "-q", "-o", "type=oci", dir)
	if code != 0 || !tarHas(t, stdout, "oci-layout") || !tarHas(t, stdout, "index.json") {
		t.Errorf("-o type=oci: exit %d, not an OCI layout", code)
	}
	for _, arg := range []string{"type=local,dest=" + filepath.Join(out, "l1"), filepath.Join(out, "l2"), filepath.Join(out, "new", "l3")} {
		progress := e.build("-o", arg, dir)
		if !strings.Contains(progress, " exporting to client directory\n") || !strings.Contains(progress, " copying files ") {
			t.Errorf("-o %s: progress:\n%s", arg, progress)
		}
		d := strings.TrimPrefix(arg, "type=local,dest=")
		if got := strings.Join(treeNames(t, d), "\n"); got != want {
			t.Errorf("-o %s:\n%s", arg, got)
		}
		if _, err := os.Stat(filepath.Join(d, "bin", "busybox")); err != nil {
			t.Errorf("-o %s: the base image's files: %v", arg, err)
		}
	}
	// Nothing but the cache: no image to list, none named.
	if got := e.must("images", "-q", "--no-trunc"); got != base {
		t.Errorf("images after exports:\n%s\nwant only\n%s", got, base)
	}

	// The archives load and run.
	for _, c := range [][2]string{{"docker.tar", "out-docker"}, {"oci.tar", "out-oci"}, {"named.tar", "other:v1"}, {"named.tar", "other:v2"}} {
		e.must("load", "-i", filepath.Join(out, c[0]))
		if got := e.must("run", "--rm", c[1]); got != "hello" {
			t.Errorf("%s from %s says %q", c[1], c[0], got)
		}
	}
	// type=docker without dest loads into the store, as buildx's
	// docker exporter with the docker driver; type=image names.
	e.build("-t", "loaded", "-o", "type=docker", dir)
	e.build("-o", "type=image,name=named", dir)
	e.build("--load", "-t", "viaload", dir)
	for _, n := range []string{"loaded", "named", "viaload"} {
		if got := e.must("run", "--rm", n); got != "hello" {
			t.Errorf("%s says %q", n, got)
		}
	}
}

// tarHas says whether the tar b has an entry name.
func tarHas(t *testing.T, b, name string) bool {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			return true
		}
	}
}

// TestBuildOutputInContext: a dest inside the build context works as
// with docker: the context was read before the export, and the next
// build sends the exported files as part of the context. (The result is
// a scratch image with one file: a busybox tree in the context would
// make every later COPY of it large.)
func TestBuildOutputInContext(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox AS ls\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sort > /ls.txt\n" +
		"FROM scratch\nCOPY --from=ls /ls.txt /\n"})
	e.build("-o", filepath.Join(dir, "out"), dir)
	e.build("-o", "type=tar,dest="+filepath.Join(dir, "fs.tar"), dir)
	b, err := os.ReadFile(filepath.Join(dir, "out", "ls.txt"))
	if got := strings.Fields(string(b)); err != nil || strings.Join(got, " ") != "./Dockerfile" {
		t.Fatalf("first export's ls.txt: %q %v", b, err)
	}
	e.build("-o", filepath.Join(dir, "out"), dir)
	b, err = os.ReadFile(filepath.Join(dir, "out", "ls.txt"))
	if got := strings.Fields(string(b)); err != nil || strings.Join(got, " ") != "./Dockerfile ./fs.tar ./out/ls.txt" {
		t.Fatalf("second export's ls.txt: %q %v", b, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "out")); len(ents) != 1 {
		t.Errorf("out/ has %v", ents)
	}
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

// TestBuildOutputBad: bad --output values fail before the build with
// one line, exit 125, and write nothing.
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
		{"type=local", "needs dest=DIRECTORY"},
		{"type=local,dest=-", "needs dest=DIRECTORY"},
		{"type=local,dest=" + file, "is not a directory"},
		{"dest=" + filepath.Join(out, "c"), "no type="},
		{"type=oci,dest=" + filepath.Join(out, "nodir", "x.tar"), "does not exist"},
		{"type=oci,dest=" + out, "is a directory"},
		{"type=image,dest=" + filepath.Join(out, "d"), "takes no dest"},
		{"type=image,name=UPPER", `name "UPPER"`},
		{"type=oci,dest=x,compression=zstd", `unsupported attribute "compression"`},
		{"type=oci,dest", `"dest" is not key=value`},
		{`type=oci,"dest=x`, "invalid --output"},
	} {
		stdout, errOut, code := e.berth("build", "--progress", "plain", "--network", "none", "-o", c.arg, dir)
		if code != 125 || !strings.HasPrefix(errOut, "Error: ") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.want) || stdout != "" {
			t.Errorf("-o %s: exit %d, stdout %q, stderr:\n%s\nwant exit 125 and one line with %q", c.arg, code, stdout, errOut, c.want)
		}
	}
	if _, errOut, code := e.berth("build", "--network", "none", "-o", "type=tar,dest="+filepath.Join(out, "1"), "-o", "type=tar,dest="+filepath.Join(out, "2"), dir); code != 125 || !strings.Contains(errOut, "multiple outputs") {
		t.Errorf("two -o: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := e.berth("build", "--network", "none", "--load", "-o", "type=tar,dest="+filepath.Join(out, "3"), dir); code != 125 || !strings.Contains(errOut, "multiple outputs") {
		t.Errorf("--load and -o: exit %d\n%s", code, errOut)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 1 {
		t.Errorf("bad outputs left files: %v", ents)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, []byte("x")) {
		t.Errorf("the file dest was changed")
	}
	if got := e.must("images", "-a", "-q"); strings.Count(got, "\n") != 0 {
		t.Errorf("bad outputs built images:\n%s", got)
	}
}
