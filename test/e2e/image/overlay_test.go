package image_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/archive"
	"github.com/berth-dev/berth/test/fixture"
)

type tarEnt struct {
	name, body, link string
	typ              byte
	mode             int64
	xattrs           map[string]string
}

// tarLayer is a gzip layer of the entries.
func tarLayer(t *testing.T, ents ...tarEnt) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)),
			ModTime: time.Unix(1_700_000_000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		for k, v := range e.xattrs {
			h.PAXRecords = map[string]string{"SCHILY.xattr." + k: v}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fsTree describes what a container sees below dir.
func fsTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := fixture.Tree(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSnapshotDriversMatchLayers pulls a multi-layer image with
// whiteouts, opaque dirs, hardlinks, symlinks and xattrs through the real
// registry, then makes its root with the overlay and the copy drivers
// from the unpacked layers and checks both against the layer blobs
// applied one on the other.
func TestSnapshotDriversMatchLayers(t *testing.T) {
	reg := startRegistry(t)
	dir, sym, hard, chr := byte(tar.TypeDir), byte(tar.TypeSymlink), byte(tar.TypeLink), byte(tar.TypeChar)
	ref := reg + "/snap/layers:v1"
	pushImage(t, ref, imageOn(t,
		tarLayer(t,
			tarEnt{name: "bin/", typ: dir, mode: 0o755},
			tarEnt{name: "bin/busybox", body: "ELF", mode: 0o755},
			tarEnt{name: "bin/sh", typ: hard, link: "bin/busybox"},
			tarEnt{name: "bin/ls", typ: sym, link: "busybox"},
			tarEnt{name: "etc/passwd", body: "root:x:0:0"},
			tarEnt{name: "etc/shadow", body: "s", mode: 0o600},
			tarEnt{name: "etc/ssl/a.pem", body: "a"},
			tarEnt{name: "etc/ssl/b.pem", body: "b"},
			tarEnt{name: "dev/null", typ: chr, mode: 0o666},
			tarEnt{name: "lib", typ: sym, link: "usr/lib"},
			tarEnt{name: "usr/lib/libc.so", body: "libc", xattrs: map[string]string{"user.tag": "one"}},
		),
		tarLayer(t,
			tarEnt{name: "etc/.wh.shadow"},
			tarEnt{name: "etc/ssl/.wh..wh..opq"},
			tarEnt{name: "etc/ssl/c.pem", body: "c"},
			tarEnt{name: "usr/lib/libc.so", body: "libc2", xattrs: map[string]string{"user.tag": "two"}},
			tarEnt{name: "usr/lib/libc.so.6", typ: hard, link: "usr/lib/libc.so"},
		),
		tarLayer(t,
			tarEnt{name: "bin/.wh.ls"},
			tarEnt{name: "etc/ssl/d.pem", body: "d"},
			tarEnt{name: "srv/", typ: dir, mode: 0o750},
		),
	))
	root := t.TempDir()
	mustBerth(t, root, "pull", "-q", "--tls-verify=false", ref)

	s, e := openStore(t, root)
	defer e.Close()
	rec, err := s.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Layers) != 3 {
		t.Fatalf("%d layers", len(rec.Layers))
	}

	// The reference: the pulled blobs applied in order.
	want := filepath.Join(t.TempDir(), "applied")
	if err := os.Mkdir(want, 0o755); err != nil {
		t.Fatal(err)
	}
	var diffIDs []v1.Hash
	for _, l := range rec.Layers {
		diffIDs = append(diffIDs, l.DiffID)
		f, err := s.OpenBlob(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := archive.Decompress(f)
		if err != nil {
			t.Fatal(err)
		}
		err = archive.Apply(r, want, archive.Options{Whiteouts: archive.WhiteoutApply})
		r.Close()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	wantTree := fsTree(t, want)
	for _, p := range []string{"etc/shadow", "etc/ssl/a.pem", "bin/ls"} {
		if _, ok := wantTree[p]; ok {
			t.Errorf("reference still has whited-out %s", p)
		}
	}

	snaps := s.Snapshots()
	top, err := snaps.Chain(diffIDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{snapshot.DriverOverlay, snapshot.DriverCopy} {
		t.Run(name, func(t *testing.T) {
			sn, err := snaps.NewDriver(name)
			if err != nil {
				t.Fatal(err)
			}
			mounts, err := sn.Prepare("ctr-"+name, top)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sn.Remove("ctr-" + name) })
			merged := t.TempDir()
			if err := snapshot.MountAll(mounts, merged); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { snapshot.Unmount(merged) })
			if name == snapshot.DriverOverlay {
				var st unix.Statfs_t
				if err := unix.Statfs(merged, &st); err != nil || st.Type != unix.OVERLAYFS_SUPER_MAGIC {
					t.Fatalf("%s is not an overlay mount: %v", merged, err)
				}
			}
			got := fsTree(t, merged)
			if diff := cmp.Diff(wantTree, got); diff != "" {
				t.Errorf("%s root differs from the applied layers (-want +got):\n%s", name, diff)
			}
			// A write lands in the container's own layer, never in
			// the shared layer dirs, and is all its diff holds.
			if err := os.WriteFile(filepath.Join(merged, "etc/passwd"), []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, d := range diffIDs {
				if b, err := os.ReadFile(filepath.Join(snaps.Path(d), "etc/passwd")); err == nil && string(b) != "root:x:0:0" {
					t.Errorf("layer %s changed through the container root", d)
				}
			}
			var diff bytes.Buffer
			if _, err := sn.Diff("ctr-"+name, &diff, snapshot.DiffOptions{}); err != nil {
				t.Fatal(err)
			}
			var names []string
			tr := tar.NewReader(&diff)
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				names = append(names, h.Name)
			}
			if want := []string{"etc/", "etc/passwd"}; !cmp.Equal(names, want) {
				t.Errorf("diff holds %v, want %v", names, want)
			}
			if err := snapshot.Unmount(merged); err != nil {
				t.Fatal(err)
			}
			if err := sn.Remove("ctr-" + name); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSnapshotOldLayout: a root whose layers sit where berth put them
// before short ids (snapshots/layers/DIFFID, no snapshot metadata) keeps
// working: the first command migrates it, and images, history, roots and
// GC go on as before.
func TestSnapshotOldLayout(t *testing.T) {
	reg := startRegistry(t)
	ref := reg + "/snap/old:v1"
	pushImage(t, ref, imageOn(t,
		tarLayer(t, tarEnt{name: "etc/passwd", body: "root:x:0:0"}),
		tarLayer(t, tarEnt{name: "etc/hostname", body: "old"}),
	))
	root := t.TempDir()
	mustBerth(t, root, "pull", "-q", "--tls-verify=false", ref)
	s, e := openStore(t, root)
	rec, err := s.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	// Back to the old layout.
	snaps := filepath.Join(root, "snapshots")
	for _, l := range rec.Layers {
		if err := os.Rename(s.Snapshots().Path(l.DiffID), filepath.Join(snaps, "layers", l.DiffID.Hex)); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	if err := os.Remove(filepath.Join(snaps, "meta.db")); err != nil {
		t.Fatal(err)
	}

	if out := mustBerth(t, root, "history", "-q", ref); out == "" {
		t.Error("history of the migrated image is empty")
	}
	s, e = openStore(t, root)
	defer e.Close()
	var diffIDs []v1.Hash
	for _, l := range rec.Layers {
		p := s.Snapshots().Path(l.DiffID)
		if p == "" || len(filepath.Base(p)) > 3 {
			t.Fatalf("layer %s at %q after migration", l.DiffID, p)
		}
		diffIDs = append(diffIDs, l.DiffID)
	}
	top, err := s.Snapshots().Chain(diffIDs)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshots().NewDriver("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := sn.View("old", top)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := snapshot.MountAll(m, target); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(target, "etc/hostname"))
	snapshot.Unmount(target)
	if err != nil || string(b) != "old" {
		t.Errorf("etc/hostname = %q, %v", b, err)
	}
	if err := sn.Remove("old"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	mustBerth(t, root, "rmi", ref)
	mustBerth(t, root, "image", "prune", "-a")
	if entries, _ := os.ReadDir(filepath.Join(snaps, "layers")); len(entries) != 0 {
		t.Errorf("GC left layer dirs %v", entries)
	}
}
