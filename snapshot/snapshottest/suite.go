// Package snapshottest is the test suite every snapshot driver passes:
// chains of prepare, commit, view and remove; diffs checked by applying
// them to their parent's tree; whiteouts, opaque dirs, hardlinks, xattrs
// and devices; refusals; concurrent prepares; 128-layer chains mounted by
// every method the kernel has; and nothing left mounted. Each driver's
// tests call Run.
package snapshottest

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/archive"
	"github.com/berth-dev/berth/snapshot/overlay"
	"github.com/berth-dev/berth/test/fixture"
)

// Run runs the suite against the named driver.
func Run(t *testing.T, driver string) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *snapshot.Store, snapshot.Snapshotter)
	}{
		{"PrepareCommitView", testPrepareCommitView},
		{"DiffApplies", testDiffApplies},
		{"EmptyDiff", testEmptyDiff},
		{"ViewReadOnly", testViewReadOnly},
		{"RemoveRefusals", testRemoveRefusals},
		{"Errors", testErrors},
		{"ConcurrentPrepare", testConcurrentPrepare},
		{"Layers128", testLayers128},
		{"BusyboxCommit", testBusyboxCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := snapshot.Open(filepath.Join(dir, "snapshots"))
			if err != nil {
				t.Fatal(err)
			}
			sn, err := s.NewDriver(driver)
			if err != nil {
				t.Fatal(err)
			}
			if sn.Name() != driver {
				t.Fatalf("driver %s, want %s", sn.Name(), driver)
			}
			t.Cleanup(func() { checkNoMounts(t, dir) })
			tc.fn(t, s, sn)
		})
	}
}

// checkNoMounts fails when anything is still mounted below dir.
func checkNoMounts(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, dir) {
			t.Errorf("left mounted: %s", line)
		}
	}
}

// mount mounts mounts on a new dir, unmounted at cleanup.
func mount(t *testing.T, mounts []snapshot.Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := snapshot.MountAll(mounts, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := snapshot.Unmount(target); err != nil {
			t.Error(err)
		}
	})
	return target
}

func unmount(t *testing.T, target string) {
	t.Helper()
	if err := snapshot.Unmount(target); err != nil {
		t.Fatal(err)
	}
}

func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := fixture.Tree(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, rel)
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), 0o644))
}

func read(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// commit commits key and returns the layer with its uncompressed blob.
func commit(t *testing.T, sn snapshot.Snapshotter, key string) (snapshot.Layer, []byte) {
	t.Helper()
	var buf bytes.Buffer
	l, err := sn.Commit(key, &buf, snapshot.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.DiffID != l.Digest || l.Size != int64(buf.Len()) {
		t.Fatalf("uncompressed layer: %+v, %d bytes", l, buf.Len())
	}
	return l, buf.Bytes()
}

// base is a first layer with what the second one changes.
func base(t *testing.T, root string) {
	for _, f := range []string{"bin/busybox", "etc/passwd", "etc/shadow", "etc/conf.d/a", "etc/conf.d/b",
		"var/cache/old", "opt/thing", "srv/data/x", "usr/lib/l.so", "keep/k"} {
		write(t, root, f, "v1 "+f)
	}
	must(t, os.Link(filepath.Join(root, "bin/busybox"), filepath.Join(root, "bin/sh")))
	must(t, os.Symlink("busybox", filepath.Join(root, "bin/ls")))
	setXattr(t, root, "etc/passwd", "user.one", "1")
	must(t, os.Chmod(filepath.Join(root, "etc/shadow"), 0o600))
	must(t, os.Chown(filepath.Join(root, "var/cache"), 100, 100))
	must(t, os.Chtimes(filepath.Join(root, "keep/k"), time.Unix(1_600_000_000, 0), time.Unix(1_600_000_000, 0)))
}

// userXattrs tells whether the temp dir's file system takes user.*
// xattrs (tmpfs does from Linux 6.6 only: not in the 6.1 test guest).
func userXattrs(t *testing.T) bool {
	p := filepath.Join(t.TempDir(), "x")
	must(t, os.WriteFile(p, nil, 0o644))
	return unix.Setxattr(p, "user.probe", []byte("1"), 0) == nil
}

// setXattr sets a user.* xattr where the file system allows it.
func setXattr(t *testing.T, root, rel, name, value string) {
	t.Helper()
	err := unix.Setxattr(filepath.Join(root, rel), name, []byte(value), 0)
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Logf("no user xattrs here: %v", err)
		return
	}
	must(t, err)
}

// change is what a container does on top of base.
func change(t *testing.T, root string) {
	write(t, root, "bin/busybox", "v2 busybox") // through a hardlink pair
	must(t, os.Remove(filepath.Join(root, "etc/shadow")))
	must(t, os.RemoveAll(filepath.Join(root, "etc/conf.d")))
	must(t, os.Mkdir(filepath.Join(root, "etc/conf.d"), 0o750)) // opaque
	write(t, root, "etc/conf.d/c", "c")
	setXattr(t, root, "etc/passwd", "user.two", "2")
	must(t, os.Chown(filepath.Join(root, "var/cache"), 200, 200))
	must(t, os.Remove(filepath.Join(root, "opt/thing")))
	write(t, root, "opt/thing/inside", "file became a dir")
	must(t, os.RemoveAll(filepath.Join(root, "srv/data")))
	must(t, os.Symlink("/tmp", filepath.Join(root, "srv/data"))) // dir became a link
	must(t, os.Link(filepath.Join(root, "usr/lib/l.so"), filepath.Join(root, "usr/lib/l.so.1")))
	write(t, root, "new/deep/file", "new")
	must(t, os.Link(filepath.Join(root, "new/deep/file"), filepath.Join(root, "new/link")))
	must(t, unix.Mknod(filepath.Join(root, "new/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Mkfifo(filepath.Join(root, "new/fifo"), 0o600))
	must(t, os.Chmod(filepath.Join(root, "bin/ls"), 0o755)) // follows: busybox's mode
	must(t, os.Chmod(filepath.Join(root, "usr"), 0o711))
}

func testPrepareCommitView(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	m, err := sn.Prepare("one", "")
	must(t, err)
	root := mount(t, m)
	base(t, root)
	unmount(t, root)
	l1, _ := commit(t, sn, "one")
	if l1.ChainID != l1.DiffID.String() {
		t.Errorf("chainID of a base layer %s, want its diffID %s", l1.ChainID, l1.DiffID)
	}
	if !s.Has(l1.DiffID) {
		t.Error("committed layer not in the store")
	}
	must(t, sn.Remove("one"))

	m, err = sn.Prepare("two", l1.ChainID)
	must(t, err)
	root = mount(t, m)
	if got := read(t, root, "etc/passwd"); got != "v1 etc/passwd" {
		t.Errorf("etc/passwd = %q", got)
	}
	change(t, root)
	want := tree(t, root)
	unmount(t, root)
	l2, _ := commit(t, sn, "two")
	if want := snapshot.ChainID([]v1.Hash{l1.DiffID, l2.DiffID}); l2.ChainID != want {
		t.Errorf("chainID %s, want %s", l2.ChainID, want)
	}
	info, err := sn.Stat(l2.ChainID)
	must(t, err)
	if info.Kind != snapshot.KindCommitted || info.Parent != l1.ChainID || info.DiffID != l2.DiffID {
		t.Errorf("stat %+v", info)
	}
	info, err = sn.Stat("two")
	must(t, err)
	if info.Kind != snapshot.KindActive || info.Parent != l1.ChainID || info.Driver != sn.Name() {
		t.Errorf("stat %+v", info)
	}

	u, err := sn.Usage("two")
	must(t, err)
	if u.Inodes == 0 || u.Size < int64(len("v2 busybox")) {
		t.Errorf("usage of two: %+v", u)
	}
	u1, err := sn.Usage(l1.ChainID)
	must(t, err)
	// base: 10 files and a link to one of them, a symlink, 11 directories.
	if u1.Inodes != 22 {
		t.Errorf("usage of %s: %+v, want 22 inodes", l1.ChainID, u1)
	}
	if _, err := sn.Usage("nope"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("usage of nothing: %v", err)
	}
	m, err = sn.View("view", l2.ChainID)
	must(t, err)
	got := tree(t, mount(t, m))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("view of the commit differs from the snapshot (-snapshot +view):\n%s", diff)
	}
	// Committing the same change again names the same layer and chain.
	l2b, _ := commit(t, sn, "two")
	if l2b.ChainID != l2.ChainID {
		t.Errorf("second commit %s, first %s", l2b.ChainID, l2.ChainID)
	}
	list, err := sn.List()
	must(t, err)
	kinds := map[string]snapshot.Kind{}
	for _, i := range list {
		kinds[i.Key] = i.Kind
	}
	wantKinds := map[string]snapshot.Kind{l1.ChainID: snapshot.KindCommitted, l2.ChainID: snapshot.KindCommitted,
		"two": snapshot.KindActive, "view": snapshot.KindView}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

// testDiffApplies applies the diff (gzip) to the parent's layer and
// compares the result with the snapshot's tree.
func testDiffApplies(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	m, err := sn.Prepare("one", "")
	must(t, err)
	root := mount(t, m)
	base(t, root)
	unmount(t, root)
	l1, blob1 := commit(t, sn, "one")

	m, err = sn.Prepare("two", l1.ChainID)
	must(t, err)
	root = mount(t, m)
	change(t, root)
	want := tree(t, root)

	var buf bytes.Buffer
	l, err := sn.Diff("two", &buf, snapshot.DiffOptions{Compression: archive.Gzip})
	must(t, err)
	if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" || l.Size != int64(buf.Len()) || l.Digest == l.DiffID {
		t.Errorf("gzip layer %+v (%d bytes)", l, buf.Len())
	}
	if d, _, _ := v1.SHA256(bytes.NewReader(buf.Bytes())); d != l.Digest {
		t.Errorf("digest %s, blob is %s", l.Digest, d)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	must(t, os.Mkdir(ref, 0o755))
	must(t, archive.Apply(bytes.NewReader(blob1), ref, archive.Options{Whiteouts: archive.WhiteoutApply}))
	zr, _, err := archive.Decompress(bytes.NewReader(buf.Bytes()))
	must(t, err)
	var raw bytes.Buffer
	must(t, archive.Apply(teeTo(zr, &raw), ref, archive.Options{Whiteouts: archive.WhiteoutApply}))
	if d, _, _ := v1.SHA256(bytes.NewReader(raw.Bytes())); d != l.DiffID {
		t.Errorf("diffID %s, tar is %s", l.DiffID, d)
	}
	if diff := cmp.Diff(want, tree(t, ref)); diff != "" {
		t.Errorf("parent + diff differs from the snapshot (-snapshot +applied):\n%s", diff)
	}
	// What the layer says, entry by entry.
	ents := tarEntries(t, raw.Bytes())
	for name, wantType := range map[string]byte{
		"etc/.wh.shadow": tar.TypeReg, "etc/conf.d/c": tar.TypeReg, "new/null": tar.TypeChar,
		"new/fifo": tar.TypeFifo, "srv/data": tar.TypeSymlink, "opt/thing/inside": tar.TypeReg,
	} {
		h, ok := ents[name]
		if !ok {
			t.Errorf("layer lacks %s", name)
			continue
		}
		if h.Typeflag != wantType {
			t.Errorf("%s: type %c, want %c", name, h.Typeflag, wantType)
		}
	}
	// The opaque dir is either marked opaque or lists its deletions.
	_, opq := ents["etc/conf.d/.wh..wh..opq"]
	_, wha := ents["etc/conf.d/.wh.a"]
	if !opq && !wha {
		t.Error("etc/conf.d's old entries neither made opaque nor whited out")
	}
	links := 0
	for _, h := range ents {
		if h.Typeflag == tar.TypeLink {
			links++
		}
	}
	if links < 2 {
		t.Errorf("%d hardlinks in the layer, want at least 2 (bin, new, usr/lib)", links)
	}
	if _, ok := ents["keep/k"]; ok {
		t.Error("unchanged keep/k is in the layer")
	}
	if h := ents["etc/passwd"]; userXattrs(t) && (h == nil || h.PAXRecords["SCHILY.xattr.user.two"] != "2") {
		t.Errorf("etc/passwd xattrs lost: %v", h)
	}
}

func teeTo(r interface{ Read([]byte) (int, error) }, w *bytes.Buffer) *teeReader {
	return &teeReader{r: r, w: w}
}

type teeReader struct {
	r interface{ Read([]byte) (int, error) }
	w *bytes.Buffer
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.w.Write(p[:n])
	return n, err
}

func tarEntries(t *testing.T, b []byte) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		out[strings.TrimSuffix(h.Name, "/")] = h
	}
	return out
}

func testEmptyDiff(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	m, err := sn.Prepare("one", "")
	must(t, err)
	root := mount(t, m)
	base(t, root)
	unmount(t, root)
	l1, _ := commit(t, sn, "one")
	_, err = sn.Prepare("two", l1.ChainID)
	must(t, err)
	var buf bytes.Buffer
	_, err = sn.Diff("two", &buf, snapshot.DiffOptions{})
	must(t, err)
	if ents := tarEntries(t, buf.Bytes()); len(ents) != 0 {
		t.Errorf("untouched snapshot has a diff: %v", ents)
	}
}

func testViewReadOnly(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	for i, n := range []int{0, 1, 3} {
		diffIDs := unpackLayers(t, s, n)
		top, err := s.Chain(diffIDs)
		must(t, err)
		key := fmt.Sprint("view-", i)
		m, err := sn.View(key, top)
		must(t, err)
		root := mount(t, m)
		if n > 0 {
			if got := read(t, root, fmt.Sprintf("layer-%d", n-1)); got != fmt.Sprint(n-1) {
				t.Errorf("layer-%d = %q", n-1, got)
			}
		}
		if err := os.WriteFile(filepath.Join(root, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("write to a %d-layer view: %v, want EROFS", n, err)
		}
		if _, err := sn.Diff(key, &bytes.Buffer{}, snapshot.DiffOptions{}); err == nil {
			t.Error("diff of a view succeeded")
		}
		unmount(t, root)
		must(t, sn.Remove(key))
	}
}

func testRemoveRefusals(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	diffIDs := unpackLayers(t, s, 2)
	top, err := s.Chain(diffIDs)
	must(t, err)
	bottom := snapshot.ChainID(diffIDs[:1])
	m, err := sn.Prepare("ctr", top)
	must(t, err)
	root := mount(t, m)
	if err := sn.Remove(top); !errors.Is(err, snapshot.ErrInUse) {
		t.Errorf("remove of a parent with an active child: %v", err)
	}
	if err := sn.Remove(bottom); !errors.Is(err, snapshot.ErrInUse) {
		t.Errorf("remove of a parent with a committed child: %v", err)
	}
	if err := s.Remove(diffIDs[0]); !errors.Is(err, snapshot.ErrInUse) {
		t.Errorf("remove of a layer under an active snapshot: %v", err)
	}
	if err := sn.Remove("ctr"); !errors.Is(err, snapshot.ErrInUse) {
		t.Errorf("remove of a mounted snapshot: %v", err)
	}
	// A view of one layer or none is a bind mount for every driver.
	for _, parent := range []string{"", bottom} {
		m, err := sn.View("v", parent)
		must(t, err)
		v := mount(t, m)
		if err := sn.Remove("v"); parent == "" && !errors.Is(err, snapshot.ErrInUse) {
			t.Errorf("remove of a mounted empty view: %v", err)
		}
		unmount(t, v)
		sn.Remove("v")
	}
	unmount(t, root)
	must(t, sn.Remove("ctr"))
	if _, err := sn.Stat("ctr"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("stat after remove: %v", err)
	}
	must(t, sn.Remove(top))
	must(t, sn.Remove(bottom))
	// A layer goes with the chains that have it.
	top, err = s.Chain(diffIDs)
	must(t, err)
	must(t, s.Remove(diffIDs[0]))
	if _, err := sn.Stat(top); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("chain on a removed layer: %v", err)
	}
	if _, err := sn.Prepare("again", top); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("prepare on a removed layer: %v", err)
	}
	list, err := sn.List()
	must(t, err)
	if len(list) != 0 {
		t.Errorf("left: %+v", list)
	}
}

func testErrors(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	diffIDs := unpackLayers(t, s, 1)
	top, err := s.Chain(diffIDs)
	must(t, err)
	_, err = sn.Prepare("a", top)
	must(t, err)
	for _, tc := range []struct {
		name string
		err  error
		want error
		msg  string
	}{
		{"duplicate key", second(sn.Prepare("a", top)), snapshot.ErrExists, ""},
		{"key of a committed", second(sn.Prepare(top, top)), nil, "for committed snapshots"},
		{"digest-shaped key", second(sn.View("sha256:"+strings.Repeat("2", 64), top)), nil, "for committed snapshots"},
		{"NUL in key", second(sn.Prepare("a\x00b", top)), nil, "invalid snapshot key"},
		{"unknown parent", second(sn.Prepare("b", "sha256:"+strings.Repeat("0", 64))), snapshot.ErrNotFound, ""},
		{"empty key", second(sn.Prepare("", top)), nil, "invalid snapshot key"},
		{"mounts of nothing", second(sn.Mounts("nope")), snapshot.ErrNotFound, ""},
		{"mounts of committed", second(sn.Mounts(top)), nil, "committed"},
		{"remove nothing", sn.Remove("nope"), snapshot.ErrNotFound, ""},
		{"diff of nothing", second(sn.Diff("nope", &bytes.Buffer{}, snapshot.DiffOptions{})), snapshot.ErrNotFound, ""},
		{"commit of nothing", second(sn.Commit("nope", nil, snapshot.DiffOptions{})), snapshot.ErrNotFound, ""},
		{"chain of a missing layer", second(s.Chain([]v1.Hash{diffIDs[0], {Algorithm: "sha256", Hex: strings.Repeat("1", 64)}})), nil, "not unpacked"},
		{"bad compression", second(sn.Diff("a", &bytes.Buffer{}, snapshot.DiffOptions{Compression: archive.Zstd})), nil, "not supported"},
	} {
		if tc.err == nil || (tc.want != nil && !errors.Is(tc.err, tc.want)) || !strings.Contains(tc.err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v %q", tc.name, tc.err, tc.want, tc.msg)
		}
	}
	if _, err := sn.Stat("b"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("failed prepare left a record: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func testConcurrentPrepare(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	top, err := s.Chain(unpackLayers(t, s, 3))
	must(t, err)
	const n = 8
	var wg sync.WaitGroup
	mounts := make([][]snapshot.Mount, n)
	errs := make([]error, n)
	dup := make([]error, n)
	for i := range n {
		wg.Go(func() {
			mounts[i], errs[i] = sn.Prepare(fmt.Sprint("ctr-", i), top)
			_, dup[i] = sn.Prepare("same", top)
		})
	}
	wg.Wait()
	won := 0
	for i := range n {
		must(t, errs[i])
		if dup[i] == nil {
			won++
		} else if !errors.Is(dup[i], snapshot.ErrExists) {
			t.Errorf("prepare of a taken key: %v", dup[i])
		}
	}
	if won != 1 {
		t.Errorf("%d prepares of one key succeeded", won)
	}
	roots := make([]string, n)
	for i := range n {
		roots[i] = mount(t, mounts[i])
		write(t, roots[i], "mine", fmt.Sprint(i))
	}
	for i := range n {
		if got := read(t, roots[i], "mine"); got != fmt.Sprint(i) {
			t.Errorf("snapshot %d sees %q", i, got)
		}
		unmount(t, roots[i])
	}
	for i := range n {
		wg.Go(func() { errs[i] = sn.Remove(fmt.Sprint("ctr-", i)) })
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
}

// unpackLayers unpacks n layers: layer-I holds I, and "top" says which
// layer is the top one.
func unpackLayers(t *testing.T, s *snapshot.Store, n int) []v1.Hash {
	t.Helper()
	var out []v1.Hash
	for i := range n {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for name, body := range map[string]string{fmt.Sprintf("layer-%d", i): fmt.Sprint(i), "top": fmt.Sprint(i)} {
			must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(body)), ModTime: time.Unix(1e9, 0)}))
			tw.Write([]byte(body))
		}
		if i > 0 {
			// A whiteout of the layer below's own file... kept: only
			// every third layer deletes one, so whiteouts stack too.
			if i%3 == 0 {
				must(t, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf(".wh.gone-%d", i-1), Typeflag: tar.TypeReg}))
			}
		}
		must(t, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("gone-%d", i), Mode: 0o644, Typeflag: tar.TypeReg}))
		tw.Close()
		d, _, err := v1.SHA256(bytes.NewReader(buf.Bytes()))
		must(t, err)
		must(t, s.Unpack(d, &buf, nil))
		out = append(out, d)
	}
	return out
}

func testLayers128(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	const n = 128
	diffIDs := unpackLayers(t, s, n)
	top, err := s.Chain(diffIDs)
	must(t, err)
	m, err := sn.Prepare("big", top)
	must(t, err)
	methods := []overlay.Method{overlay.Auto}
	if sn.Name() == snapshot.DriverOverlay {
		methods = append(methods, overlay.Relative)
		if overlay.LowerdirPlusSupported() {
			methods = append(methods, overlay.LowerdirPlus)
		} else {
			t.Log("this kernel has no overlayfs lowerdir+ (Linux 6.8+): that method is not tested")
		}
	}
	for _, method := range methods {
		t.Run(method.String(), func(t *testing.T) {
			target := t.TempDir()
			for _, mm := range m {
				must(t, mm.MountWith(target, method))
			}
			defer unmount(t, target)
			for i := range n {
				if got := read(t, target, fmt.Sprintf("layer-%d", i)); got != fmt.Sprint(i) {
					t.Fatalf("layer-%d = %q", i, got)
				}
				_, err := os.Lstat(filepath.Join(target, fmt.Sprintf("gone-%d", i)))
				if gone := (i+1)%3 == 0 && i+1 < n; gone != errors.Is(err, os.ErrNotExist) {
					t.Errorf("gone-%d: %v (whited out: %v)", i, err, gone)
				}
			}
			if got := read(t, target, "top"); got != fmt.Sprint(n-1) {
				t.Errorf("top = %q", got)
			}
			write(t, target, "written", "w")
		})
	}
	vm, err := sn.View("bigview", top)
	must(t, err)
	for _, method := range methods {
		t.Run("view-"+method.String(), func(t *testing.T) {
			target := t.TempDir()
			for _, mm := range vm {
				must(t, mm.MountWith(target, method))
			}
			defer unmount(t, target)
			if got := read(t, target, "layer-0") + read(t, target, "top"); got != fmt.Sprintf("0%d", n-1) {
				t.Errorf("layer-0 and top: %q", got)
			}
			if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
				t.Errorf("write to a 128-layer view: %v, want EROFS", err)
			}
		})
	}
	must(t, sn.Remove("bigview"))
	if sn.Name() == snapshot.DriverOverlay {
		// The old way: full paths in one mount(2) option string overflow
		// its page; the error says so.
		target := t.TempDir()
		err := m[0].MountWith(target, overlay.Legacy)
		if err == nil {
			unmount(t, target)
			t.Log("128 layers fit in one page of options here (short store path)")
		} else if !strings.Contains(err.Error(), "bytes of mount options") {
			t.Errorf("legacy mount of 128 layers: %v", err)
		}
	}
	var buf bytes.Buffer
	_, err = sn.Diff("big", &buf, snapshot.DiffOptions{})
	must(t, err)
	ents := tarEntries(t, buf.Bytes())
	if _, ok := ents["written"]; !ok || len(ents) != 1 {
		t.Errorf("diff of the 128-layer snapshot: %v", ents)
	}
	must(t, sn.Remove("big"))
}

// testBusyboxCommit is what `commit` and build do: a busybox root from the
// test fixture, a shell run in it (chroot) that changes it, the change
// committed, and a new root on the commit that shows it.
func testBusyboxCommit(t *testing.T, s *snapshot.Store, sn snapshot.Snapshotter) {
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	must(t, fixture.BusyboxRootfs(rootfs))
	layer, err := fixture.TarDir(rootfs)
	must(t, err)
	diffID, _, err := v1.SHA256(bytes.NewReader(layer))
	must(t, err)
	must(t, s.Unpack(diffID, bytes.NewReader(layer), nil))
	base, err := s.Chain([]v1.Hash{diffID})
	must(t, err)

	m, err := sn.Prepare("step", base)
	must(t, err)
	root := mount(t, m)
	sh := func(root, script string) string {
		t.Helper()
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/bin:/usr/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
		return string(out)
	}
	sh(root, "echo built > /etc/motd && rm /bin/ls && mkdir -p /app && ln /bin/busybox /app/echo && chmod 700 /app")
	unmount(t, root)
	l, err := sn.Commit("step", nil, snapshot.DiffOptions{Compression: archive.Gzip})
	must(t, err)
	must(t, sn.Remove("step"))

	m, err = sn.Prepare("run", l.ChainID)
	must(t, err)
	root = mount(t, m)
	if got := sh(root, "cat /etc/motd; test -e /bin/ls || echo no-ls; /app/echo linked; [ /app/echo -ef /bin/busybox ] && echo same; stat -c %a /app"); got != "built\nno-ls\nlinked\nsame\n700\n" {
		t.Errorf("root on the commit shows %q", got)
	}
	unmount(t, root)
	must(t, sn.Remove("run"))
}
