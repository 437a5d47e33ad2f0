package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ent is one tar entry of a test layer.
type ent struct {
	name, link string
	typ        byte
	mode       int64
	uid, gid   int
	body       string
	major      int64
	minor      int64
	xattrs     map[string]string
}

var mtime = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: mtime, Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if len(e.xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			for k, v := range e.xattrs {
				h.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: want not to exist, got err=%v", p, err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func getxattr(p, name string) string {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func TestExtractKeepsFileKinds(t *testing.T) {
	needUserXattrs(t)
	layer := mkTar(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o755},
		ent{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "bin/busybox", mode: 0o4755, uid: 0, gid: 0, body: "ELF"},
		ent{name: "bin/sh", typ: tar.TypeLink, link: "bin/busybox"},
		ent{name: "bin/ls", typ: tar.TypeSymlink, link: "busybox"},
		ent{name: "etc/localtime", typ: tar.TypeSymlink, link: "/usr/share/zoneinfo/UTC"},
		ent{name: "home/user/.profile", mode: 0o600, uid: 1000, gid: 1001, body: "PS1=$"},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		ent{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8, minor: 0},
		ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		ent{name: "usr/bin/ping", mode: 0o755, body: "ping", xattrs: map[string]string{
			"user.berth":             "yes",
			"trusted.overlay.opaque": "y", // forged: must be dropped
		}},
	)
	target := filepath.Join(t.TempDir(), "layer")
	if err := Extract(bytes.NewReader(layer), target, Options{}); err != nil {
		t.Fatal(err)
	}

	bb := lstat(t, filepath.Join(target, "bin/busybox"))
	sh := lstat(t, filepath.Join(target, "bin/sh"))
	tests := []struct {
		name string
		ok   bool
	}{
		{"setuid kept", bb.Mode&0o7777 == 0o4755},
		{"hardlink shares inode", bb.Ino == sh.Ino && bb.Nlink == 2},
		{"mtime kept", bb.Mtim.Sec == mtime.Unix()},
		{"dir mtime kept", lstat(t, filepath.Join(target, "bin")).Mtim.Sec == mtime.Unix()},
		{"sticky dir", lstat(t, filepath.Join(target, "tmp")).Mode&0o7777 == 0o1777},
		{"owner kept", func() bool {
			st := lstat(t, filepath.Join(target, "home/user/.profile"))
			return st.Uid == 1000 && st.Gid == 1001 && st.Mode&0o777 == 0o600
		}()},
		{"implicit parent 0755", lstat(t, filepath.Join(target, "home")).Mode&0o777 == 0o755},
		{"char device", func() bool {
			st := lstat(t, filepath.Join(target, "dev/null"))
			return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3)
		}()},
		{"block device", lstat(t, filepath.Join(target, "dev/sda")).Mode&unix.S_IFMT == unix.S_IFBLK},
		{"fifo", lstat(t, filepath.Join(target, "run/fifo")).Mode&unix.S_IFMT == unix.S_IFIFO},
		{"user xattr kept", getxattr(filepath.Join(target, "usr/bin/ping"), "user.berth") == "yes"},
		{"overlay xattr dropped", getxattr(filepath.Join(target, "usr/bin/ping"), "trusted.overlay.opaque") == ""},
	}
	for _, tc := range tests {
		if !tc.ok {
			t.Errorf("%s: failed", tc.name)
		}
	}
	for link, want := range map[string]string{"bin/ls": "busybox", "etc/localtime": "/usr/share/zoneinfo/UTC"} {
		got, err := os.Readlink(filepath.Join(target, link))
		if err != nil || got != want {
			t.Errorf("symlink %s = %q, %v; want %q", link, got, err, want)
		}
	}
	if got := readFile(t, filepath.Join(target, "bin/sh")); got != "ELF" {
		t.Errorf("bin/sh content %q", got)
	}
}

func TestExtractOverlayWhiteouts(t *testing.T) {
	layer := mkTar(t,
		ent{name: "etc/.wh.passwd"},
		ent{name: "var/cache/.wh..wh..opq"},
		ent{name: "var/cache/new", body: "n"},
		ent{name: "keep", body: "k"},
		ent{name: ".wh.keep"}, // same layer: must not hide its own file
	)
	target := filepath.Join(t.TempDir(), "layer")
	if err := Extract(bytes.NewReader(layer), target, Options{Whiteouts: WhiteoutOverlay}); err != nil {
		t.Fatal(err)
	}
	st := lstat(t, filepath.Join(target, "etc/passwd"))
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/passwd whiteout: mode %o rdev %d", st.Mode, st.Rdev)
	}
	if got := getxattr(filepath.Join(target, "var/cache"), "trusted.overlay.opaque"); got != "y" {
		t.Errorf("opaque xattr = %q", got)
	}
	mustNotExist(t, filepath.Join(target, ".wh.keep"))
	mustNotExist(t, filepath.Join(target, "var/cache/.wh..wh..opq"))
	if readFile(t, filepath.Join(target, "keep")) != "k" {
		t.Error("keep lost")
	}
}

func TestApplyWhiteouts(t *testing.T) {
	dir := t.TempDir()
	lower := mkTar(t,
		ent{name: "etc/passwd", body: "root"},
		ent{name: "etc/group", body: "root"},
		ent{name: "var/cache/old1", body: "o"},
		ent{name: "var/cache/sub/old2", body: "o"},
	)
	if err := Apply(bytes.NewReader(lower), dir, Options{Whiteouts: WhiteoutApply}); err != nil {
		t.Fatal(err)
	}
	upper := mkTar(t,
		ent{name: "etc/.wh.passwd"},
		ent{name: "var/cache/new", body: "n"},
		ent{name: "var/cache/.wh..wh..opq"},
		ent{name: "var/cache/new2", body: "n"},
		ent{name: "mine", body: "m"},
		ent{name: ".wh.mine"},
		ent{name: "nothere/.wh.x"},
	)
	if err := Apply(bytes.NewReader(upper), dir, Options{Whiteouts: WhiteoutApply}); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(dir, "etc/passwd"))
	mustNotExist(t, filepath.Join(dir, "var/cache/old1"))
	mustNotExist(t, filepath.Join(dir, "var/cache/sub"))
	mustNotExist(t, filepath.Join(dir, "nothere"))
	for _, p := range []string{"etc/group", "var/cache/new", "var/cache/new2", "mine"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestExtractReplacesEntries(t *testing.T) {
	layer := mkTar(t,
		ent{name: "a", body: "old"},
		ent{name: "a", body: "new"},
		ent{name: "d/x", body: "x"},
		ent{name: "d", typ: tar.TypeSymlink, link: "elsewhere"}, // dir replaced by symlink
		ent{name: "e/", typ: tar.TypeDir, mode: 0o700},
		ent{name: "e/f", body: "f"},
		ent{name: "e/", typ: tar.TypeDir, mode: 0o755}, // existing dir keeps its children
	)
	target := filepath.Join(t.TempDir(), "layer")
	if err := Extract(bytes.NewReader(layer), target, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(target, "a")); got != "new" {
		t.Errorf("a = %q", got)
	}
	if l, _ := os.Readlink(filepath.Join(target, "d")); l != "elsewhere" {
		t.Errorf("d -> %q", l)
	}
	if got := readFile(t, filepath.Join(target, "e/f")); got != "f" {
		t.Errorf("e/f = %q", got)
	}
	if m := lstat(t, filepath.Join(target, "e")).Mode & 0o777; m != 0o755 {
		t.Errorf("e mode %o", m)
	}
}

// TestExtractParentCache: a directory that entries were written into and
// that a later entry replaces (by a symlink, a file, or a whiteout in the
// same layer) is resolved again afterwards, never through the cache.
func TestExtractParentCache(t *testing.T) {
	layer := mkTar(t,
		ent{name: "a/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "a/f1", body: "1"},
		ent{name: "a", typ: tar.TypeSymlink, link: "b"}, // replaces the directory
		ent{name: "b/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "a/f2", body: "2"}, // through the new symlink: b/f2
		ent{name: "c/d/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "c/d/g", body: "g"},
		ent{name: "c", body: "now a file"}, // c/d goes with it
		ent{name: "e/x/y", body: "y"},
		ent{name: "e/.wh.x"}, // this layer's own e/x stays (overlay mode)
		ent{name: "e/x/z", body: "z"},
	)
	target := filepath.Join(t.TempDir(), "layer")
	if err := Extract(bytes.NewReader(layer), target, Options{Whiteouts: WhiteoutOverlay}); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(target, "a")); l != "b" {
		t.Errorf("a -> %q", l)
	}
	if got := readFile(t, filepath.Join(target, "b/f2")); got != "2" {
		t.Errorf("b/f2 = %q", got)
	}
	if got := readFile(t, filepath.Join(target, "c")); got != "now a file" {
		t.Errorf("c = %q", got)
	}
	for _, f := range []string{"e/x/y", "e/x/z"} {
		if _, err := os.Lstat(filepath.Join(target, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestExtractRejectsHostileLayers: every layer here tries to write outside
// its target. Each must fail with an error naming the entry, leave no
// target and no temporary directory, and leave the sibling untouched.
func TestExtractRejectsHostileLayers(t *testing.T) {
	tests := []struct {
		name   string
		ents   []ent
		escape bool // the error wraps ErrEscape
	}{
		{"dotdot", []ent{{name: "../evil", body: "x"}}, true},
		{"dotdot inside", []ent{{name: "a/../../evil", body: "x"}}, true},
		{"dotdot benign looking", []ent{{name: "a/../b", body: "x"}}, true},
		{"absolute", []ent{{name: "/etc/evil", body: "x"}}, true},
		{"relative symlink out", []ent{{name: "l", typ: tar.TypeSymlink, link: "../outside"}}, true},
		{"deep symlink out", []ent{{name: "a/b/l", typ: tar.TypeSymlink, link: "../../../outside"}}, true},
		{"symlink parent out", []ent{
			{name: "l", typ: tar.TypeSymlink, link: "/../outside"},
			{name: "l/evil", body: "x"},
		}, true},
		{"symlink chain parent out", []ent{
			{name: "a", typ: tar.TypeSymlink, link: "/b/.."},
			{name: "b/", typ: tar.TypeDir, mode: 0o755},
			{name: "c", typ: tar.TypeSymlink, link: "/a/../../outside"},
			{name: "c/evil", body: "x"},
		}, true},
		{"hardlink dotdot", []ent{{name: "h", typ: tar.TypeLink, link: "../outside/sentinel"}}, true},
		{"hardlink absolute", []ent{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, true},
		{"hardlink via symlink out", []ent{
			{name: "l", typ: tar.TypeSymlink, link: "/../outside"},
			{name: "h", typ: tar.TypeLink, link: "l/sentinel"},
		}, true},
		{"hardlink missing", []ent{{name: "h", typ: tar.TypeLink, link: "nothere"}}, false},
		{"hardlink to dir", []ent{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "h", typ: tar.TypeLink, link: "d"}}, false},
		{"whiteout dotdot", []ent{{name: "a/.wh.."}}, false},
		{"whiteout through symlink out", []ent{
			{name: "l", typ: tar.TypeSymlink, link: "/../outside"},
			{name: "l/.wh.sentinel"},
		}, true},
		{"opaque through symlink out", []ent{
			{name: "l", typ: tar.TypeSymlink, link: "/../outside"},
			{name: "l/.wh..wh..opq"},
		}, true},
		{"symlink loop", []ent{
			{name: "a", typ: tar.TypeSymlink, link: "b"},
			{name: "b", typ: tar.TypeSymlink, link: "a"},
			{name: "a/x", body: "x"},
		}, false},
		{"file as parent", []ent{{name: "f", body: "x"}, {name: "f/x", body: "x"}}, false},
		{"unsupported type", []ent{{name: "x", typ: 'Z'}}, false},
	}
	for _, mode := range []WhiteoutMode{WhiteoutOverlay, WhiteoutApply} {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				base := t.TempDir()
				outside := filepath.Join(base, "outside")
				if err := os.Mkdir(outside, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(outside, "sentinel"), []byte("s"), 0o644); err != nil {
					t.Fatal(err)
				}
				target := filepath.Join(base, "layer")
				layer := mkTar(t, append([]ent{{name: "ok", body: "fine"}}, tc.ents...)...)
				err := Extract(bytes.NewReader(layer), target, Options{Whiteouts: mode})
				if err == nil {
					t.Fatal("extract succeeded")
				}
				var ee *EntryError
				if !errors.As(err, &ee) {
					t.Errorf("error %v does not name the entry", err)
				}
				if tc.escape != errors.Is(err, ErrEscape) {
					t.Errorf("error %v: escape = %v, want %v", err, errors.Is(err, ErrEscape), tc.escape)
				}
				names, _ := os.ReadDir(base)
				if len(names) != 1 || names[0].Name() != "outside" {
					t.Errorf("left behind in %s: %v", base, names)
				}
				inside, _ := os.ReadDir(outside)
				if len(inside) != 1 || readFile(t, filepath.Join(outside, "sentinel")) != "s" {
					t.Errorf("outside changed: %v", inside)
				}
			})
		}
	}
}

func TestExtractTargetExists(t *testing.T) {
	target := t.TempDir()
	if err := Extract(bytes.NewReader(mkTar(t)), target, Options{}); err == nil {
		t.Fatal("extract over existing target succeeded")
	}
}

func TestExtractTruncated(t *testing.T) {
	layer := mkTar(t, ent{name: "big", body: string(bytes.Repeat([]byte("x"), 4096))})
	target := filepath.Join(t.TempDir(), "layer")
	if err := Extract(bytes.NewReader(layer[:1000]), target, Options{}); err == nil {
		t.Fatal("truncated layer extracted")
	}
	mustNotExist(t, target)
}

// needUserXattrs skips a test whose layers carry user.* xattrs where the
// temp dir's file system has none (tmpfs before Linux 6.6: the test guest).
func needUserXattrs(t *testing.T) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("no user xattrs in %s: %v", os.TempDir(), err)
	}
}
