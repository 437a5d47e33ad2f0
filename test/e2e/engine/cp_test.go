package engine_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ctrFile reads a file of the container through cp to stdout (any state).
func (e *env) ctrFile(ctr, p string) (string, bool) {
	e.t.Helper()
	out, _, code := e.berth("cp", ctr+":"+p, "-")
	if code != 0 {
		return "", false
	}
	tr := tar.NewReader(strings.NewReader(out))
	hdr, err := tr.Next()
	if err != nil {
		e.t.Fatalf("cp %s:%s -: %v", ctr, p, err)
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return "-> " + hdr.Linkname, true
	}
	b, _ := io.ReadAll(tr)
	return string(b), true
}

// tarNames lists the entries of a tar.
func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		names = append(names, hdr.Name)
	}
}

// listTree lists a host tree as "path" or "path/" for directories.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			r += "/"
		}
		out = append(out, r)
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCpBothWays copies files and directories in and out of a running, a
// stopped and a created container, with Docker's rules for where a copy
// lands.
func TestCpBothWays(t *testing.T) {
	e := newEnv(t)
	e.runReady("--name", "running", "busybox", "sh", "-c", "mkdir -p /data/sub; echo one > /data/one; echo two > /data/sub/two; echo ready; exec sleep 1000")
	e.must("run", "--name", "stopped", "busybox", "sh", "-c", "mkdir -p /data/sub; echo one > /data/one; echo two > /data/sub/two")
	e.must("create", "--name", "created", "busybox", "true")
	// The created container has no /data: give it one through cp itself.
	src := t.TempDir()
	writeTree(t, src, map[string]string{"data/one": "one\n", "data/sub/two": "two\n"})
	e.must("cp", filepath.Join(src, "data"), "created:/")

	for _, ctr := range []string{"running", "stopped", "created"} {
		t.Run(ctr, func(t *testing.T) {
			e.t = t
			host := t.TempDir()
			// Out of the container.
			for i, c := range []struct{ src, dst, want string }{
				{"/data", "new", "new/ new/one new/sub/ new/sub/two"},   // dir to a new name: its contents
				{"/data", ".", "data/ data/one data/sub/ data/sub/two"}, // dir into an existing dir
				{"/data/.", ".", "one sub/ sub/two"},                    // dir/. : its contents into the dir
				{"/data/one", "f", "f"},                                 // file to a new name
				{"data/sub/two", ".", "two"},                            // file into a dir (relative container path)
				{"/data/sub/", "s", "s/ s/two"},                         // a trailing slash changes nothing
				{"/data/one", "existing", "existing"},                   // file onto a file
			} {
				d := filepath.Join(host, strings.ReplaceAll(strings.Trim(c.src, "/."), "/", "_")+"-"+c.dst+"-"+strconv.Itoa(i))
				os.MkdirAll(d, 0o755)
				if c.dst == "existing" {
					os.WriteFile(filepath.Join(d, "existing"), []byte("old"), 0o600)
				}
				e.must("cp", ctr+":"+c.src, filepath.Join(d, c.dst))
				if c.src == "/" {
					if _, err := os.Stat(filepath.Join(d, c.dst, "bin", "busybox")); err != nil {
						t.Errorf("cp %s:/ %s: %v", ctr, c.dst, err)
					}
					continue
				}
				if got := listTree(t, d); got != c.want {
					t.Errorf("cp %s:%s %s: got %q, want %q", ctr, c.src, c.dst, got, c.want)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(host, "data_one-existing-6", "existing")); string(b) != "one\n" {
				t.Errorf("file onto a file: %q", b)
			}
			// Into the container.
			in := t.TempDir()
			writeTree(t, in, map[string]string{"dir/a": "a\n", "dir/b/c": "c\n", "file": "file\n"})
			e.must("cp", filepath.Join(in, "file"), ctr+":/tmp/")
			e.must("cp", filepath.Join(in, "file"), ctr+":/tmp/renamed")
			e.must("cp", filepath.Join(in, "dir"), ctr+":/tmp")
			e.must("cp", filepath.Join(in, "dir")+"/.", ctr+":/data")
			e.must("cp", filepath.Join(in, "dir"), ctr+":/tmp/newdir")
			for p, want := range map[string]string{
				"/tmp/file": "file\n", "/tmp/renamed": "file\n", "/tmp/dir/a": "a\n", "/tmp/dir/b/c": "c\n",
				"/data/a": "a\n", "/data/b/c": "c\n", "/data/one": "one\n", "/tmp/newdir/b/c": "c\n",
			} {
				if got, ok := e.ctrFile(ctr, p); !ok || got != want {
					t.Errorf("%s:%s = %q, %v; want %q", ctr, p, got, ok, want)
				}
			}
			if ctr == "running" {
				if out := e.must("exec", ctr, "cat", "/tmp/dir/b/c", "/data/a"); out != "c\na" {
					t.Errorf("exec sees %q", out)
				}
			}
			// A directory never replaces a file, nor the reverse.
			if _, _, code := e.berth("cp", filepath.Join(in, "dir"), ctr+":/tmp/renamed"); code != 125 {
				t.Errorf("dir onto a file: exit %d", code)
			}
		})
	}
	e.t = t
	// cp mounted the stopped and created containers' roots only for the
	// copy: nothing is left mounted (cleanup checks the roots too).
	if left := leftovers(e.root, e.runRoot); strings.Contains(left, "stopped") {
		t.Errorf("left mounted: %s", left)
	}
}

// TestCpArchiveAndLinks: -a keeps owners (else the container's root owns
// the copy), -L copies what a symlink leads to.
func TestCpArchiveAndLinks(t *testing.T) {
	e := newEnv(t)
	e.runReady("--name", "c1", "busybox", "sh", "-c", "echo target > /tmp/target; ln -s /tmp/target /tmp/link; echo ready; exec sleep 1000")
	in := t.TempDir()
	f := filepath.Join(in, "owned")
	os.WriteFile(f, []byte("x"), 0o640)
	os.Chown(f, 1234, 5678)
	e.must("cp", f, "c1:/tmp/plain")
	e.must("cp", "-a", f, "c1:/tmp/kept")
	if got := e.must("exec", "c1", "stat", "-c", "%u:%g %a", "/tmp/plain", "/tmp/kept"); got != "0:0 640\n1234:5678 640" {
		t.Errorf("owners: %q", got)
	}

	host := t.TempDir()
	e.must("cp", "c1:/tmp/link", host)
	if target, err := os.Readlink(filepath.Join(host, "link")); err != nil || target != "/tmp/target" {
		t.Errorf("without -L: %q, %v; want the symlink itself", target, err)
	}
	e.must("cp", "-L", "c1:/tmp/link", filepath.Join(host, "followed"))
	if b, err := os.ReadFile(filepath.Join(host, "followed")); err != nil || string(b) != "target\n" {
		t.Errorf("-L: %q, %v", b, err)
	}
	e.must("cp", "-L", "c1:/tmp/link", filepath.Join(host, "sub"))
	os.Mkdir(filepath.Join(host, "d"), 0o755)
	e.must("cp", "-L", "c1:/tmp/link", filepath.Join(host, "d"))
	if fi, err := os.Lstat(filepath.Join(host, "d", "link")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("-L into a dir keeps the link's name as a regular file: %v %v", fi, err)
	}
	// A symlink destination in the container: the copy goes where it leads.
	e.must("cp", f, "c1:/tmp/link")
	if got := e.must("exec", "c1", "cat", "/tmp/target"); got != "x" {
		t.Errorf("copy onto a symlink wrote %q to its target", got)
	}
}

// TestCpTarStreams: "-" reads a tar from stdin into a container directory
// and writes one of a container path to stdout.
func TestCpTarStreams(t *testing.T) {
	e := newEnv(t)
	e.runReady("--name", "c1", "busybox", "sh", "-c", "mkdir -p /d/e; echo f > /d/e/f; echo ready; exec sleep 1000")
	out, _, code := e.berth("cp", "c1:/d", "-")
	if code != 0 {
		t.Fatalf("cp c:/d -: exit %d", code)
	}
	if got := strings.Join(tarNames(t, []byte(out)), " "); got != "d/ d/e/ d/e/f" {
		t.Errorf("tar of c:/d: %q", got)
	}
	out, _, _ = e.berth("cp", "c1:/d/.", "-")
	if got := strings.Join(tarNames(t, []byte(out)), " "); got != "./ ./e/ ./e/f" {
		t.Errorf("tar of c:/d/.: %q", got)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "in/", Typeflag: tar.TypeDir, Mode: 0o750, ModTime: time.Unix(1e9, 0)})
	tw.WriteHeader(&tar.Header{Name: "in/x", Typeflag: tar.TypeReg, Mode: 0o600, Size: 3, Uid: 7, Gid: 8, ModTime: time.Unix(1e9, 0)})
	tw.Write([]byte("xyz"))
	tw.WriteHeader(&tar.Header{Name: "in/l", Typeflag: tar.TypeSymlink, Linkname: "x"})
	tw.Close()
	if _, errOut, code := e.berthIn(buf.Bytes(), "cp", "-", "c1:/tmp"); code != 0 {
		t.Fatalf("cp - c:/tmp: exit %d: %s", code, errOut)
	}
	if got := e.must("exec", "c1", "sh", "-c", "cat /tmp/in/l; stat -c '%a %u:%g %Y' /tmp/in /tmp/in/x"); got != "xyz750 0:0 1000000000\n600 0:0 1000000000" {
		t.Errorf("extracted: %q", got)
	}
	if _, errOut, code := e.berthIn(buf.Bytes(), "cp", "-", "c1:/d/e/f"); code != 125 || !strings.Contains(errOut, "must be a directory") {
		t.Errorf("tar onto a file: exit %d: %s", code, errOut)
	}
	buf.Reset()
	tw = tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "../../escape", Typeflag: tar.TypeReg, Mode: 0o600})
	tw.Close()
	if _, errOut, code := e.berthIn(buf.Bytes(), "cp", "-", "c1:/tmp"); code != 125 || !strings.Contains(errOut, "outside of the destination") {
		t.Errorf("tar entry with ..: exit %d: %s", code, errOut)
	}
}

// TestCpNoEscape: symlinks in the container that name a host path, or
// climb with "..", lead to the container's own files: the host file at
// the same path is never read nor written, for a running container and a
// stopped one.
func TestCpNoEscape(t *testing.T) {
	e := newEnv(t)
	marker, err := os.CreateTemp("/tmp", "berth-cp-marker-")
	if err != nil {
		t.Fatal(err)
	}
	markerPath := marker.Name()
	marker.WriteString("HOST SECRET\n")
	marker.Close()
	t.Cleanup(func() { os.Remove(markerPath) })
	hostDir, err := os.MkdirTemp("/tmp", "berth-cp-markerdir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	before, _ := os.Stat(markerPath)
	name := filepath.Base(markerPath)
	setup := "echo container > " + markerPath + "; mkdir -p " + hostDir +
		"; ln -s " + markerPath + " /abs" +
		"; ln -s ../../../../../../../.." + markerPath + " /tmp/rel" +
		"; ln -s /../../../../tmp /tmp/up" +
		"; ln -s ../../../../../.. /tmp/root" +
		"; ln -s " + hostDir + " /dirlink"
	e.runReady("--name", "running", "busybox", "sh", "-c", setup+"; echo ready; exec sleep 1000")
	e.must("run", "--name", "stopped", "busybox", "sh", "-c", setup)
	in := t.TempDir()
	payload := filepath.Join(in, name)
	os.WriteFile(payload, []byte("PAYLOAD\n"), 0o644)

	for _, ctr := range []string{"running", "stopped"} {
		// Reads through the links see the container's file.
		for _, p := range []string{"/abs", "/tmp/rel", "/tmp/up/" + name, "/tmp/root" + markerPath} {
			out := t.TempDir()
			e.must("cp", "-L", ctr+":"+p, filepath.Join(out, "got"))
			if b, _ := os.ReadFile(filepath.Join(out, "got")); string(b) != "container\n" {
				t.Errorf("%s: cp -L %s read %q", ctr, p, b)
			}
		}
		// Writes through the links land in the container.
		for _, dst := range []string{"/abs", "/tmp/rel", "/tmp/up/", "/tmp/root/tmp", "/dirlink"} {
			if _, errOut, code := e.berth("cp", payload, ctr+":"+dst); code != 0 {
				t.Errorf("%s: cp to %s: exit %d: %s", ctr, dst, code, errOut)
			}
		}
		if got, _ := e.ctrFile(ctr, markerPath); got != "PAYLOAD\n" {
			t.Errorf("%s: the container's own file holds %q", ctr, got)
		}
		if got, _ := e.ctrFile(ctr, hostDir+"/"+name); got != "PAYLOAD\n" {
			t.Errorf("%s: the container's dir holds %q", ctr, got)
		}
		// A tar whose symlink entry points at the host dir, then a file
		// through it.
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: hostDir})
		tw.WriteHeader(&tar.Header{Name: "evil/planted", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
		tw.Write([]byte("evil"))
		tw.WriteHeader(&tar.Header{Name: "evil2", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../" + markerPath})
		tw.WriteHeader(&tar.Header{Name: "evil2", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
		tw.Write([]byte("evil"))
		tw.Close()
		if _, errOut, code := e.berthIn(buf.Bytes(), "cp", "-", ctr+":/tmp"); code != 0 {
			t.Errorf("%s: tar with symlinks: exit %d: %s", ctr, code, errOut)
		}
		if got, _ := e.ctrFile(ctr, hostDir+"/planted"); got != "evil" {
			t.Errorf("%s: the planted file is not in the container: %q", ctr, got)
		}
	}
	// The host side: untouched.
	after, err := os.Stat(markerPath)
	if b, _ := os.ReadFile(markerPath); err != nil || string(b) != "HOST SECRET\n" || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("host marker changed: %q %v", b, err)
	}
	if left := listTree(t, hostDir); left != "" {
		t.Errorf("host dir got files: %s", left)
	}
	// Copies out: a symlink comes out as a symlink, never followed on the
	// host.
	out := t.TempDir()
	e.must("cp", "running:/abs", out)
	if target, _ := os.Readlink(filepath.Join(out, "abs")); target != markerPath {
		t.Errorf("symlink copied out as %q", target)
	}
}

// TestCpBadInput: Docker's one-line errors, exit 125, nothing changed.
func TestCpBadInput(t *testing.T) {
	e := newEnv(t)
	e.runReady("--name", "c1", "busybox", "sh", "-c", "echo ready; exec sleep 1000")
	e.must("run", "--name", "s1", "busybox", "true")
	in := filepath.Join(t.TempDir(), "f")
	os.WriteFile(in, []byte("x"), 0o644)
	host := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{in, "c1:/no/such/file"}, "Could not find the file /no/such in container c1"},
		{[]string{in, "s1:/no/such/file"}, "Could not find the file /no/such in container s1"},
		{[]string{"c1:/no/such", host}, "Could not find the file /no/such in container c1"},
		{[]string{"c1:/etc/passwd", filepath.Join(host, "no/such/file")}, "invalid output path: directory"},
		{[]string{in, "nosuch:/tmp"}, "no such container: nosuch"},
		{[]string{"nosuch:/tmp", host}, "no such container: nosuch"},
		{[]string{"c1:/tmp", "s1:/tmp"}, "copying between containers is not supported"},
		{[]string{in, host}, "must specify at least one container source"},
		{[]string{filepath.Join(host, "missing"), "c1:/tmp"}, "no such file or directory"},
		{[]string{in, "c1:/tmp/nodir/"}, "no such directory"},
		{[]string{"c1:/etc", "c1:/etc/passwd"}, "copying between containers"},
	} {
		_, errOut, code := e.berth(append([]string{"cp"}, c.args...)...)
		if code != 125 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("cp %v: exit %d, %q; want 125 and %q on one line", c.args, code, errOut, c.want)
		}
	}
	if got := e.must("exec", "c1", "ls", "/tmp"); got != "" {
		t.Errorf("the container's /tmp got %q", got)
	}
	if got := listTree(t, host); got != "" {
		t.Errorf("the host dir got %q", got)
	}
}

// TestCpVolumes: paths in volumes and bind mounts are the mounts' files,
// as the container sees them; a read-only mount refuses the copy.
func TestCpVolumes(t *testing.T) {
	e := newEnv(t)
	bind := t.TempDir()
	os.WriteFile(filepath.Join(bind, "from-host"), []byte("host\n"), 0o644)
	ro := t.TempDir()
	e.runReady("--name", "v1", "-v", "vol1:/data", "-v", bind+":/bind", "-v", ro+":/ro:ro", "busybox", "sh", "-c",
		"echo vol > /data/in-volume; echo ready; exec sleep 1000")
	in := filepath.Join(t.TempDir(), "f")
	os.WriteFile(in, []byte("copied\n"), 0o644)
	e.must("cp", in, "v1:/data/")
	e.must("cp", in, "v1:/bind/sub-not-there-is-fine")
	if got := e.must("exec", "v1", "cat", "/data/f", "/bind/sub-not-there-is-fine"); got != "copied\ncopied" {
		t.Errorf("the container sees %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(bind, "sub-not-there-is-fine")); string(b) != "copied\n" {
		t.Errorf("bind source holds %q", b)
	}
	if got, _ := e.ctrFile("v1", "/data/in-volume"); got != "vol\n" {
		t.Errorf("cp out of a volume: %q", got)
	}
	if got, _ := e.ctrFile("v1", "/bind/from-host"); got != "host\n" {
		t.Errorf("cp out of a bind: %q", got)
	}
	// The mount point itself, by its name in the container.
	out := t.TempDir()
	e.must("cp", "v1:/data", out)
	e.must("cp", "v1:/bind/.", filepath.Join(out, "b"))
	if got := listTree(t, out); got != "b/ b/from-host b/sub-not-there-is-fine data/ data/f data/in-volume" {
		t.Errorf("cp of mount points: %s", got)
	}
	if _, errOut, code := e.berth("cp", in, "v1:/ro/"); code != 125 || !strings.Contains(errOut, "read-only") {
		t.Errorf("cp into a read-only mount: exit %d: %s", code, errOut)
	}
	if left := listTree(t, ro); left != "" {
		t.Errorf("read-only mount got %s", left)
	}
	// --read-only: the root file system refuses, its volumes take.
	e.runReady("--name", "r1", "--read-only", "-v", "vol2:/data", "busybox", "sh", "-c", "echo ready; exec sleep 1000")
	if _, errOut, code := e.berth("cp", in, "r1:/tmp/"); code != 125 || !strings.Contains(errOut, "container rootfs is marked read-only") {
		t.Errorf("cp into a read-only rootfs: exit %d: %s", code, errOut)
	}
	e.must("cp", in, "r1:/data/")
}
