package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/fixture"
)

// busyboxTar is the fixture busybox rootfs as a tarball (gzip when asked).
func busyboxTar(t *testing.T, compress bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := fixture.BusyboxRootfs(dir); err != nil {
		t.Fatal(err)
	}
	b, err := fixture.TarDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if compress {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImport(t *testing.T) {
	isolate(t)
	root := t.TempDir()
	tarball := busyboxTar(t, true)
	out := mustBerth(t, root, "import",
		"--change", `CMD ["sh"]`, "--change", "ENV A=b", "--change", "WORKDIR /x",
		"--change", `ENTRYPOINT ["/bin/busybox"]`, "-c", "LABEL org.example=yes", "-c", "EXPOSE 8080",
		tarball, "e2e/imported:v1")
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("import printed %q, want an image ID", out)
	}
	// ENTRYPOINT after CMD drops the CMD, as in a Dockerfile.
	tests := []struct{ format, want string }{
		{"{{json .Config.Entrypoint}}", `["/bin/busybox"]`},
		{"{{json .Config.Cmd}}", `null`},
		{"{{json .Config.Env}}", `["A=b"]`},
		{"{{.Config.WorkingDir}}", "/x"},
		{"{{json .Config.Labels}}", `{"org.example":"yes"}`},
		{"{{json .Config.ExposedPorts}}", `{"8080/tcp":{}}`},
		{"{{.Os}}/{{len .RootFS.Layers}}", "linux/1"},
	}
	for _, tc := range tests {
		if got := strings.TrimSpace(mustBerth(t, root, "image", "inspect", "--format", tc.format, id)); got != tc.want {
			t.Errorf("inspect %s = %q, want %q", tc.format, got, tc.want)
		}
	}
	// The layer is unpacked in the layer store like a pulled one.
	layers, _ := os.ReadDir(filepath.Join(root, "snapshots/layers"))
	if len(layers) != 1 {
		t.Fatalf("%d unpacked layers, want 1", len(layers))
	}
	if _, err := os.Stat(filepath.Join(root, "snapshots/layers", layers[0].Name(), "bin/busybox")); err != nil {
		t.Errorf("imported layer: %v", err)
	}

	// history: Docker's columns, the import comment.
	out = mustBerth(t, root, "image", "history", "e2e/imported:v1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "IMAGE") || !strings.Contains(lines[0], "CREATED BY") ||
		!strings.Contains(lines[0], "COMMENT") || !strings.HasPrefix(lines[1], id[7:19]) || !strings.Contains(lines[1], "Imported from "+tarball) {
		t.Errorf("history:\n%s", out)
	}
	if out := mustBerth(t, root, "history", "-q", "--no-trunc", "e2e/imported:v1"); out != id+"\n" {
		t.Errorf("history -q --no-trunc: %q", out)
	}
	if out := mustBerth(t, root, "history", "--format", "{{.ID}}|{{.Comment}}", "e2e/imported:v1"); out != id[7:19]+"|Imported from "+tarball+"\n" {
		t.Errorf("history --format: %q", out)
	}

	// From stdin, plain tar, with -m, unnamed; then push and pull it back.
	cmd := exec.Command(binary, "--root", root, "import", "-m", "from stdin", "-")
	f, err := os.Open(busyboxTar(t, false))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdin = f
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("import -: %v: %s", err, b)
	}
	id2 := strings.TrimSpace(string(b))
	if out := mustBerth(t, root, "history", "--format", "{{.Comment}}", id2); out != "from stdin\n" {
		t.Errorf("history of the stdin import: %q", out)
	}
	reg := startRegistryWith(t, registrySetup{})
	mustBerth(t, root, "tag", id, reg+"/e2e/imported:v1")
	mustBerth(t, root, "push", reg+"/e2e/imported:v1")
	other := t.TempDir()
	mustBerth(t, other, "pull", reg+"/e2e/imported:v1")
	if out := mustBerth(t, other, "images", "-q", "--no-trunc"); out != id+"\n" {
		t.Errorf("pulled import: %q", out)
	}

	// Bad --change and bad input: clear errors.
	_, err = berth(t, root, "import", "--change", "RUN rm -rf /", tarball)
	wantErr(t, err, "unsupported instruction RUN")
	// (CMD [broken is the shell form, as in a Dockerfile: the change is
	// read by the builder's Dockerfile reader.)
	_, err = berth(t, root, "import", "--change", "EXPOSE 99999", tarball)
	wantErr(t, err, "EXPOSE 99999", "invalid port")
	_, err = berth(t, root, "import", filepath.Join(t.TempDir(), "missing.tar"))
	wantErr(t, err, "missing.tar")
}

// hostileTar builds a tar with these entries (in order).
func hostileTar(t *testing.T, hdrs ...*tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = 4
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("evil"[:h.Size]))
		}
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "hostile.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportHostile: tarballs that try to write outside the rootfs fail
// with an error naming the entry, and leave the store as it was.
func TestImportHostile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "escaped")
	rel := "../../../../../../../.." + outside
	tests := []struct {
		name string
		hdrs []*tar.Header
		want []string
	}{
		{"dotdot", []*tar.Header{{Name: rel, Typeflag: tar.TypeReg}}, []string{"escapes the layer root", ".."}},
		{"absolute", []*tar.Header{{Name: outside, Typeflag: tar.TypeReg}}, []string{"escapes the layer root", "absolute"}},
		{"symlink-dotdot", []*tar.Header{
			{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../.." + filepath.Dir(outside)},
			{Name: "up/escaped", Typeflag: tar.TypeReg},
		}, []string{`"up"`, "leaves the root"}},
		{"hardlink-absolute", []*tar.Header{{Name: "passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}, []string{"hardlink target", "escapes the layer root"}},
		{"not-a-tar", nil, []string{"read layer tar"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var in string
			if tc.hdrs == nil {
				in = filepath.Join(t.TempDir(), "garbage")
				os.WriteFile(in, bytes.Repeat([]byte("not a tarball "), 100), 0o644)
			} else {
				in = hostileTar(t, tc.hdrs...)
			}
			_, err := berth(t, root, "import", in, "e2e/hostile:v1")
			wantErr(t, err, append([]string{"import " + in}, tc.want...)...)
			if _, err := os.Lstat(outside); err == nil {
				t.Fatalf("the import wrote %s", outside)
			}
			assertEmptyStore(t, root)
		})
	}

	// An absolute symlink means "from the image's root": writing through it
	// stays inside the layer, as in Docker, and never touches the host.
	root := t.TempDir()
	in := hostileTar(t,
		&tar.Header{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: filepath.Dir(outside)},
		&tar.Header{Name: "abs/escaped", Typeflag: tar.TypeReg})
	mustBerth(t, root, "import", in, "e2e/abs:v1")
	if _, err := os.Lstat(outside); err == nil {
		t.Fatalf("the import wrote %s on the host", outside)
	}
	layers, _ := os.ReadDir(filepath.Join(root, "snapshots/layers"))
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	if _, err := os.Stat(filepath.Join(root, "snapshots/layers", layers[0].Name(), outside)); err != nil {
		t.Errorf("the file written through the absolute symlink is not inside the layer: %v", err)
	}
}

func assertEmptyStore(t *testing.T, root string) {
	t.Helper()
	if out := mustBerth(t, root, "images", "-q"); out != "" {
		t.Errorf("images after a failed import: %q", out)
	}
	for _, d := range []string{"image/blobs/sha256", "image/tmp", "snapshots/layers", "snapshots/tmp"} {
		if e, _ := os.ReadDir(filepath.Join(root, d)); len(e) != 0 {
			t.Errorf("%s after a failed import: %v", d, e)
		}
	}
}

// TestImagesFilter covers `images --filter` and -a on imported images
// (their creation times are the import times, in order).
func TestImagesFilter(t *testing.T) {
	root := t.TempDir()
	mk := func(file string, args ...string) string {
		in := hostileTar(t, &tar.Header{Name: file, Typeflag: tar.TypeReg})
		return strings.TrimSpace(mustBerth(t, root, append([]string{"import", in}, args...)...))[7:19]
	}
	first := mk("a", "e2e/first:v1", "-c", "LABEL tier=base", "-c", "LABEL only=first")
	second := mk("b", "e2e/second:v1", "-c", "LABEL tier=app")
	mustBerth(t, root, "tag", "e2e/second:v1", "other/second:v2")
	dangling := mk("c")
	tests := []struct {
		filters []string
		want    string
	}{
		{nil, dangling + " <none>:<none>\n" + second + " e2e/second:v1\n" + second + " other/second:v2\n" + first + " e2e/first:v1\n"},
		{[]string{"dangling=true"}, dangling + " <none>:<none>\n"},
		{[]string{"dangling=false"}, second + " e2e/second:v1\n" + second + " other/second:v2\n" + first + " e2e/first:v1\n"},
		{[]string{"reference=e2e/*"}, second + " e2e/second:v1\n" + first + " e2e/first:v1\n"},
		{[]string{"reference=*/second:v2"}, second + " other/second:v2\n"},
		{[]string{"reference=e2e/first", "reference=other/*"}, second + " other/second:v2\n" + first + " e2e/first:v1\n"},
		{[]string{"before=e2e/second:v1"}, first + " e2e/first:v1\n"},
		{[]string{"since=e2e/first:v1", "dangling=false"}, second + " e2e/second:v1\n" + second + " other/second:v2\n"},
		{[]string{"label=tier"}, second + " e2e/second:v1\n" + second + " other/second:v2\n" + first + " e2e/first:v1\n"},
		{[]string{"label=tier=base"}, first + " e2e/first:v1\n"},
		{[]string{"label=tier", "label=only=first"}, first + " e2e/first:v1\n"},
		{[]string{"label=nothere"}, ""},
	}
	for _, tc := range tests {
		args := []string{"images", "-a", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"}
		for _, f := range tc.filters {
			args = append(args, "--filter", f)
		}
		if got := mustBerth(t, root, args...); got != tc.want {
			t.Errorf("images %v:\n%s\nwant:\n%s", tc.filters, got, tc.want)
		}
	}
	if out := mustBerth(t, root, "images", "-q", "-f", "dangling=true"); out != dangling+"\n" {
		t.Errorf("images -q -f dangling=true: %q", out)
	}
	for _, bad := range []string{"dangling=maybe", "before=nothere", "color=red", "reference=[", "nokey"} {
		_, err := berth(t, root, "images", "--filter", bad)
		wantErr(t, err, "invalid filter", bad)
	}
}
