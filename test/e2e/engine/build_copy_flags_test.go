package engine_test

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// TestBuildCopyFlags: COPY --exclude (as .dockerignore's patterns),
// --parents (with a /./ pivot), symbolic --chmod, and --chown of the
// directories a COPY makes; ADD --exclude, ADD --unpack=false.
func TestBuildCopyFlags(t *testing.T) {
	e := newEnv(t)
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "in-tar", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("t"))
	tw.Close()
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY --exclude=*.log --exclude=skip/ src/ /ex/
COPY --exclude=**/*.tmp hom* /hom/
COPY --parents a/x.txt b/c/y.txt /par/
COPY --parents ./a/./deep/z.txt /piv/
COPY --chmod=u+x,go-w run.sh /bin/run.sh
COPY --chmod=a=rX src/ /rx/
COPY --chown=1000:1000 a/x.txt /made/new/dirs/x.txt
COPY --chown=1000:1000 b/ /made2/b/
ADD --exclude=*.log src/ /addex/
ADD --unpack=false t.tar /packed/
ADD t.tar /unpacked/
`,
		"t.tar":             tb.String(),
		"src/keep.txt":      "k",
		"src/drop.log":      "d",
		"src/skip/gone.txt": "g",
		"src/sub/keep.log":  "k2",
		"home.txt":          "h",
		"home.tmp":          "t",
		"a/x.txt":           "x",
		"a/deep/z.txt":      "z",
		"b/c/y.txt":         "y",
		"run.sh":            "#!/bin/sh\necho run\n",
	})
	e.build("-t", "flags", dir)
	// *.log is matched from the source's top, as in .dockerignore: sub/keep.log stays.
	got := e.must("run", "--rm", "flags", "find", "/ex", "/hom", "/par", "/piv", "/addex", "/packed", "/unpacked", "-type", "f")
	lines := strings.Split(got, "\n")
	want := map[string]bool{"/ex/keep.txt": true, "/ex/sub/keep.log": true, "/hom/home.txt": true, "/par/a/x.txt": true, "/par/b/c/y.txt": true, "/piv/deep/z.txt": true,
		"/addex/keep.txt": true, "/addex/skip/gone.txt": true, "/addex/sub/keep.log": true, "/packed/t.tar": true, "/unpacked/in-tar": true}
	for _, l := range lines {
		if !want[l] {
			t.Errorf("unexpected file %s", l)
		}
		delete(want, l)
	}
	for f := range want {
		t.Errorf("missing %s", f)
	}
	if got := e.must("run", "--rm", "flags", "stat", "-c", "%n %a", "/bin/run.sh", "/rx/keep.txt", "/rx/sub"); got != "/bin/run.sh 744\n/rx/keep.txt 444\n/rx/sub 555" {
		t.Errorf("chmod: %q", got)
	}
	if got := e.must("run", "--rm", "flags", "stat", "-c", "%n %u:%g", "/made", "/made/new", "/made/new/dirs", "/made/new/dirs/x.txt", "/made2", "/made2/b", "/made2/b/c/y.txt"); got != "/made 1000:1000\n/made/new 1000:1000\n/made/new/dirs 1000:1000\n/made/new/dirs/x.txt 1000:1000\n/made2 1000:1000\n/made2/b 1000:1000\n/made2/b/c/y.txt 1000:1000" {
		t.Errorf("chown of made dirs: %q", got)
	}
	for _, bad := range []struct{ df, err string }{
		{"FROM busybox\nCOPY --chmod=u+q run.sh /x\n", "invalid chmod parameter"},
		{"FROM busybox\nCOPY http://127.0.0.1:1/x /x\n", "source can't be a URL for COPY"},
	} {
		d := buildCtx(t, map[string]string{"Dockerfile": bad.df, "run.sh": "x"})
		if _, errOut, code := e.berth("build", "--progress", "plain", d); code != 1 || !strings.Contains(errOut, bad.err) {
			t.Errorf("%q: exit %d, want %q\n%s", bad.df, code, bad.err, errOut)
		}
	}
}
