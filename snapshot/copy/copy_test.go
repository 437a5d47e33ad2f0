package copy

import (
	"archive/tar"
	"bytes"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/snapshot/archive"
	"github.com/berth-dev/berth/snapshot/overlay"
	"github.com/berth-dev/berth/test/fixture"
)

type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, major       int
	xattrs           map[string]string
}

var mtime = time.Unix(1_600_000_000, 0)

// unpack writes the entries as a layer tar and extracts it as an
// overlayfs layer dir, as package snapshot does.
func unpack(t *testing.T, dir string, ents ...ent) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Uid: e.uid, Gid: e.uid,
			Size: int64(len(e.body)), ModTime: mtime, Format: tar.FormatPAX,
			Devmajor: int64(e.major), Devminor: 3}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	if err := archive.Extract(&buf, dir, archive.Options{Whiteouts: archive.WhiteoutOverlay}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tree describes every entry below dir: what a container would see of it.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := fixture.Tree(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// layers is a three-layer image exercising what overlayfs shows
// specially: whiteouts, opaque dirs, replaced types, hardlinks, symlinks,
// xattrs, devices and set-id bits.
func layers(t *testing.T, base string) []string {
	dir, sym, chr, fifo, hard := byte(tar.TypeDir), byte(tar.TypeSymlink), byte(tar.TypeChar), byte(tar.TypeFifo), byte(tar.TypeLink)
	l1 := unpack(t, filepath.Join(base, "l1"),
		ent{name: "bin/", typ: dir, mode: 0o755},
		ent{name: "bin/busybox", body: "ELF1", mode: 0o4755},
		ent{name: "bin/sh", typ: hard, link: "bin/busybox"},
		ent{name: "bin/ls", typ: sym, link: "busybox"},
		ent{name: "etc/", typ: dir, mode: 0o755},
		ent{name: "etc/passwd", body: "root:x:0:0"},
		ent{name: "etc/shadow", body: "secret", mode: 0o600},
		ent{name: "etc/conf.d/", typ: dir, mode: 0o755},
		ent{name: "etc/conf.d/a", body: "a"},
		ent{name: "etc/conf.d/b", body: "b"},
		ent{name: "var/", typ: dir, mode: 0o755},
		ent{name: "var/cache/", typ: dir, mode: 0o700, uid: 100},
		ent{name: "var/cache/old", body: "old", uid: 100},
		ent{name: "opt/thing", body: "file that becomes a dir"},
		ent{name: "srv/", typ: dir, mode: 0o755},
		ent{name: "srv/data/x", body: "dir that becomes a link"},
		ent{name: "dev/null", typ: chr, mode: 0o666, major: 1},
		ent{name: "run/fifo", typ: fifo, mode: 0o600},
		ent{name: "x", body: "xattr", xattrs: map[string]string{"user.one": "1"}},
	)
	l2 := unpack(t, filepath.Join(base, "l2"),
		ent{name: "bin/busybox", body: "ELF2", mode: 0o755},
		ent{name: "etc/.wh.shadow"},
		ent{name: "etc/conf.d/.wh..wh..opq"},
		ent{name: "etc/conf.d/c", body: "c"},
		ent{name: "var/cache/", typ: dir, mode: 0o755, uid: 200},
		ent{name: "var/cache/new", body: "new"},
		ent{name: "opt/thing/", typ: dir, mode: 0o750},
		ent{name: "opt/thing/inside", body: "i"},
		ent{name: "srv/data", typ: sym, link: "/tmp"},
		ent{name: "usr/lib/l.so", body: "so"},
		ent{name: "usr/lib/l.so.1", typ: hard, link: "usr/lib/l.so"},
		ent{name: "x", body: "xattr2", xattrs: map[string]string{"user.two": "2"}},
		ent{name: "usr/bin/a", body: "linked", mode: 0o755},
		ent{name: "usr/bin/b", typ: hard, link: "usr/bin/a"},
	)
	l3 := unpack(t, filepath.Join(base, "l3"),
		ent{name: ".wh.run"},
		ent{name: "usr/lib/.wh.l.so"},
		ent{name: "etc/conf.d/d", body: "d"},
		ent{name: "var/.wh..wh..opq"},
		ent{name: "var/log/", typ: dir, mode: 0o755},
		ent{name: ".wh.never-existed"},
	)
	return []string{l3, l2, l1}
}

func TestCopyMatchesOverlay(t *testing.T) {
	needUserXattrs(t)
	base := t.TempDir()
	lowers := layers(t, base)

	ov, err := overlay.Prepare(filepath.Join(base, "ov"), lowers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ov.Remove() })
	want := tree(t, ov.Merged())
	if err := ov.Remove(); err != nil {
		t.Fatal(err)
	}

	cp, err := Prepare(filepath.Join(base, "cp"), lowers)
	if err != nil {
		t.Fatal(err)
	}
	got := tree(t, cp.Merged())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("copy differs from overlay (-overlay +copy):\n%s", diff)
	}
	// Spot checks, so that a bug shared by both cannot hide.
	for _, tc := range []struct{ path, want string }{
		{"bin/busybox", "ELF2"},
		{"bin/sh", "ELF1"}, // the link in l1 kept the old inode
		{"etc/conf.d/c", "c"},
		{"etc/conf.d/d", "d"},
		{"opt/thing/inside", "i"},
		{"usr/lib/l.so.1", "so"},
	} {
		if b, err := os.ReadFile(filepath.Join(cp.Merged(), tc.path)); err != nil || string(b) != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.path, b, err, tc.want)
		}
	}
	for _, gone := range []string{"etc/shadow", "etc/conf.d/a", "run", "usr/lib/l.so", "var/cache", "never-existed"} {
		if _, err := os.Lstat(filepath.Join(cp.Merged(), gone)); !os.IsNotExist(err) {
			t.Errorf("%s should be gone: %v", gone, err)
		}
	}
	if !strings.Contains(got["usr/bin/a"], "links=usr/bin/a,usr/bin/b") {
		t.Errorf("hardlink lost: %s", got["usr/bin/a"])
	}
	if fi, err := os.Lstat(filepath.Join(cp.Merged(), "srv/data")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("srv/data should be a symlink now: %v", err)
	}
	if !strings.Contains(got["bin/busybox"], "perm=755") || !strings.Contains(got["bin/sh"], "perm=4755") {
		t.Errorf("bin: %s / %s", got["bin/busybox"], got["bin/sh"])
	}
	if _, ok := got["x"]; !ok || !strings.Contains(got["x"], `user.two="2"`) || strings.Contains(got["x"], "user.one") {
		t.Errorf("x: %s", got["x"])
	}
	// No overlay-private attribute leaks into the copy.
	filepath.Walk(cp.Merged(), func(p string, _ os.FileInfo, _ error) error {
		names, _ := listXattrs(p)
		for _, n := range names {
			if strings.HasPrefix(n, overlayXattrPrefix) {
				t.Errorf("%s has %s", p, n)
			}
		}
		return nil
	})
	if err := cp.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cp.Dir); !os.IsNotExist(err) {
		t.Errorf("Remove left %s", cp.Dir)
	}
}

func TestPrepareErrors(t *testing.T) {
	base := t.TempDir()
	for _, tc := range []struct {
		name   string
		lowers []string
		want   string
	}{
		{"no layers", nil, "no layers"},
		{"missing layer", []string{filepath.Join(base, "nope")}, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(tc.name, " ", "-"))
			_, err := Prepare(dir, tc.lowers)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left %v", entries)
			}
		})
	}
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
