package engine_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
)

func volNames(vs []engine.Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func volCreate(t *testing.T, e *engine.Engine, o engine.VolumeCreateOptions) engine.Volume {
	t.Helper()
	v, _, err := e.CreateVolume(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func volUse(t *testing.T, e *engine.Engine, id string, names ...string) {
	t.Helper()
	c := engine.Container{ID: id, State: engine.StateCreated, Created: time.Now()}
	for _, n := range names {
		c.Mounts = append(c.Mounts, engine.MountPoint{Type: "volume", Name: n, Destination: "/" + n, RW: true})
	}
	if err := e.PutContainer(c); err != nil {
		t.Fatal(err)
	}
}

func volMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestCreateVolume(t *testing.T) {
	e := newRoots(t).open(t)
	tests := []struct {
		name    string
		opts    engine.VolumeCreateOptions
		wantErr string
	}{
		{"named", engine.VolumeCreateOptions{Name: "v1", Labels: map[string]string{"a": "1"}}, ""},
		{"local driver", engine.VolumeCreateOptions{Name: "v2.x_y-z", Driver: "local"}, ""},
		{"two chars", engine.VolumeCreateOptions{Name: "ab"}, ""},
		{"one char", engine.VolumeCreateOptions{Name: "a"}, "invalid characters"},
		{"leading dash", engine.VolumeCreateOptions{Name: "-ab"}, "invalid characters"},
		{"leading dot", engine.VolumeCreateOptions{Name: ".ab"}, "invalid characters"},
		{"dotdot", engine.VolumeCreateOptions{Name: ".."}, "invalid characters"},
		{"slash", engine.VolumeCreateOptions{Name: "a/b"}, "invalid characters"},
		{"space", engine.VolumeCreateOptions{Name: "a b"}, "invalid characters"},
		{"nul", engine.VolumeCreateOptions{Name: "ab\x00"}, "invalid characters"},
		{"too long", engine.VolumeCreateOptions{Name: strings.Repeat("a", 256)}, "longer than 255"},
		{"driver", engine.VolumeCreateOptions{Name: "v3", Driver: "nfs"}, `volume driver "nfs" is not supported`},
		{"options", engine.VolumeCreateOptions{Name: "v3", Options: map[string]string{"type": "tmpfs"}}, "volume options are not supported yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, created, err := e.CreateVolume(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !created {
				t.Fatalf("created %v, err %v", created, err)
			}
			want := filepath.Join(e.Root(), "volumes", tc.opts.Name, "_data")
			if v.Name != tc.opts.Name || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != want || v.Anonymous ||
				v.Labels == nil || v.Options == nil { // Docker's {} for none
				t.Errorf("volume %+v", v)
			}
			if m := volMode(t, want); m != os.ModeDir|0o755 {
				t.Errorf("mode of _data %v", m)
			}
			if time.Since(v.CreatedAt) > time.Minute || v.CreatedAt.Location() != time.UTC || v.CreatedAt.Nanosecond() != 0 {
				t.Errorf("CreatedAt %v", v.CreatedAt)
			}
		})
	}
	if m := volMode(t, filepath.Join(e.Root(), "volumes")); m != os.ModeDir|0o701 {
		t.Errorf("mode of volumes/ %v", m)
	}
	if _, err := os.Stat(filepath.Join(e.Root(), "volumes", "v3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused create left a directory: %v", err)
	}

	// Docker's create is idempotent and keeps what the first one made.
	v, created, err := e.CreateVolume(engine.VolumeCreateOptions{Name: "v1", Labels: map[string]string{"b": "2"}})
	if err != nil || created || v.Labels["a"] != "1" || v.Labels["b"] != "" {
		t.Errorf("second create: %+v, created %v, %v", v, created, err)
	}

	anon := volCreate(t, e, engine.VolumeCreateOptions{})
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(anon.Name) || !anon.Anonymous {
		t.Errorf("anonymous volume %+v", anon)
	}
	if _, ok := anon.Labels[engine.AnonymousVolumeLabel]; !ok {
		t.Errorf("anonymous volume labels %v", anon.Labels)
	}
	got, err := e.GetVolume(anon.Name)
	if err != nil || !got.Anonymous || !got.CreatedAt.Equal(anon.CreatedAt) {
		t.Errorf("get %+v, %v", got, err)
	}
	if _, err := e.GetVolume("nope"); !errors.Is(err, engine.ErrNoSuchVolume) || err.Error() != "no such volume: nope" {
		t.Errorf("get missing: %v", err)
	}
}

// A directory without a record (a crash between the two) does not leak
// its files into a new volume of that name.
func TestCreateVolumeLeftoverDir(t *testing.T) {
	e := newRoots(t).open(t)
	old := filepath.Join(e.Root(), "volumes", "v1", "_data")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
	if ents, _ := os.ReadDir(v.Mountpoint); len(ents) != 0 {
		t.Errorf("new volume holds %v", ents)
	}
}

// Metadata files from before volumes may lack the bucket.
func TestVolumesWithoutBucket(t *testing.T) {
	e := newRoots(t).open(t)
	if err := e.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("volumes")) }); err != nil {
		t.Fatal(err)
	}
	if vs, err := e.ListVolumes(engine.VolumeFilter{}); err != nil || len(vs) != 0 {
		t.Fatalf("list: %v, %v", vs, err)
	}
	if _, err := e.GetVolume("v1"); !errors.Is(err, engine.ErrNoSuchVolume) {
		t.Fatal(err)
	}
	if err := e.RemoveVolume("v1", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.PruneVolumes(true, engine.VolumeFilter{}); err != nil {
		t.Fatal(err)
	}
	volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
	if vs, err := e.ListVolumes(engine.VolumeFilter{}); err != nil || len(vs) != 1 {
		t.Fatalf("list: %v, %v", vs, err)
	}
}

func TestListVolumes(t *testing.T) {
	e := newRoots(t).open(t)
	volCreate(t, e, engine.VolumeCreateOptions{Name: "web-data", Labels: map[string]string{"app": "web", "tier": "front"}})
	volCreate(t, e, engine.VolumeCreateOptions{Name: "db-data", Labels: map[string]string{"app": "db"}})
	volCreate(t, e, engine.VolumeCreateOptions{Name: "cache"})
	volUse(t, e, "c1", "db-data")
	tests := []struct {
		filters []string
		want    []string
		wantErr string
	}{
		{nil, []string{"cache", "db-data", "web-data"}, ""},
		{[]string{"dangling=true"}, []string{"cache", "web-data"}, ""},
		{[]string{"dangling=false"}, []string{"db-data"}, ""},
		{[]string{"dangling=0"}, []string{"db-data"}, ""},
		{[]string{"name=data"}, []string{"db-data", "web-data"}, ""},
		{[]string{"name=web", "name=cache"}, []string{"cache", "web-data"}, ""},
		{[]string{"label=app"}, []string{"db-data", "web-data"}, ""},
		{[]string{"label=app=web"}, []string{"web-data"}, ""},
		{[]string{"label=app", "label=tier=front"}, []string{"web-data"}, ""},
		{[]string{"label=app=nope"}, nil, ""},
		{[]string{"label!=app"}, []string{"cache"}, ""},
		{[]string{"driver=local", "name=cache"}, []string{"cache"}, ""},
		{[]string{"driver=nfs"}, nil, ""},
		{[]string{"dangling=true", "label=app"}, []string{"web-data"}, ""},
		{[]string{"dangling=maybe"}, nil, "dangling takes true or false"},
		{[]string{"dangling=true", "dangling=false"}, nil, "conflicts"},
		{[]string{"label="}, nil, "label needs a key"},
		{[]string{"color=red"}, nil, `unknown key "color"`},
		{[]string{"name"}, nil, "want KEY=VALUE"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.filters, ","), func(t *testing.T) {
			f, err := engine.ParseVolumeFilters(tc.filters)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			vs, err := e.ListVolumes(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := volNames(vs); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRemoveVolume(t *testing.T) {
	e := newRoots(t).open(t)
	v1 := volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
	volCreate(t, e, engine.VolumeCreateOptions{Name: "v2"})
	volUse(t, e, "c1", "v1")
	volUse(t, e, "c2", "v2", "v1")
	if err := os.WriteFile(filepath.Join(v1.Mountpoint, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		vol     string
		force   bool
		wantErr string
		is      error
	}{
		{"in use", "v1", false, "remove v1: volume is in use - [c1, c2]", engine.ErrVolumeInUse},
		{"in use, force", "v1", true, "remove v1: volume is in use - [c1, c2]", engine.ErrVolumeInUse},
		{"missing", "v9", false, "no such volume: v9", engine.ErrNoSuchVolume},
		{"missing, force", "v9", true, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.RemoveVolume(tc.vol, tc.force)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(v1.Mountpoint, "f")); err != nil || string(b) != "data" {
		t.Fatalf("a refused remove touched the data: %q, %v", b, err)
	}
	// Once no container names it, it goes, data and all.
	if err := e.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("containers"))
		return errors.Join(b.Delete([]byte("c1")), b.Delete([]byte("c2")))
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveVolume("v1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetVolume("v1"); !errors.Is(err, engine.ErrNoSuchVolume) {
		t.Errorf("get after remove: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root(), "volumes")); len(ents) != 1 || ents[0].Name() != "v2" {
		t.Errorf("volumes/ holds %v", ents)
	}
}

func TestPruneVolumes(t *testing.T) {
	type vol struct {
		name   string
		anon   bool
		labels map[string]string
		used   bool
		bytes  int
	}
	vols := []vol{
		{name: "named", bytes: 100},
		{name: "named-used", used: true},
		{name: "anon1", anon: true, bytes: 1000},
		{name: "anon2", anon: true, labels: map[string]string{"keep": "yes"}, bytes: 10},
		{name: "anon-used", anon: true, used: true, bytes: 5},
	}
	tests := []struct {
		name    string
		all     bool
		filters []string
		want    []string
		bytes   int64
		wantErr string
	}{
		{"anonymous", false, nil, []string{"anon1", "anon2"}, 1010 + 2*3, ""},
		{"all", true, nil, []string{"anon1", "anon2", "named"}, 1110 + 3*3, ""},
		{"label", false, []string{"label=keep"}, []string{"anon2"}, 10 + 3, ""},
		{"not label", true, []string{"label!=keep=yes"}, []string{"anon1", "named"}, 1100 + 2*3, ""},
		{"name filter", false, []string{"name=anon"}, nil, 0, "only label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newRoots(t).open(t)
			for _, v := range vols {
				// Anonymous volumes made the way `-v /path` makes them
				// have random names; Anonymous with a name is the same
				// record, easier to assert on.
				got := volCreate(t, e, engine.VolumeCreateOptions{Name: v.name, Anonymous: v.anon, Labels: v.labels})
				if v.bytes > 0 {
					f := filepath.Join(got.Mountpoint, "f")
					if err := os.WriteFile(f, make([]byte, v.bytes), 0o644); err != nil {
						t.Fatal(err)
					}
					// A hardlink counts once; symlinks count nothing.
					if err := os.Link(f, filepath.Join(got.Mountpoint, "hl")); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(got.Mountpoint, "g"), []byte("abc"), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink("/etc/passwd", filepath.Join(got.Mountpoint, "sl")); err != nil {
						t.Fatal(err)
					}
				}
				if v.used {
					volUse(t, e, "c-"+v.name, v.name)
				}
			}
			f, err := engine.ParseVolumeFilters(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			deleted, reclaimed, err := e.PruneVolumes(tc.all, f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(deleted, tc.want) || reclaimed != tc.bytes {
				t.Errorf("deleted %v, %d bytes; want %v, %d", deleted, reclaimed, tc.want, tc.bytes)
			}
			left, err := e.ListVolumes(engine.VolumeFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range left {
				if slices.Contains(deleted, v.Name) {
					t.Errorf("%s deleted but listed", v.Name)
				}
			}
			if len(left)+len(deleted) != len(vols) {
				t.Errorf("left %v", volNames(left))
			}
			ents, _ := os.ReadDir(filepath.Join(e.Root(), "volumes"))
			if len(ents) != len(left) {
				t.Errorf("volumes/ holds %d entries for %d volumes", len(ents), len(left))
			}
		})
	}
}

func TestVolumeSize(t *testing.T) {
	e := newRoots(t).open(t)
	v := volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
	if err := os.MkdirAll(filepath.Join(v.Mountpoint, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "a", "b", "f"), make([]byte, 1234), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := e.VolumeSize(v); n != 1234 {
		t.Errorf("size %d", n)
	}
}

// volTree makes a rootfs for FillVolume next to a host directory that
// holds a secret: every escape attempt points at it.
func volTree(t *testing.T) (rootfs, host string) {
	t.Helper()
	base := t.TempDir()
	rootfs, host = filepath.Join(base, "rootfs"), filepath.Join(base, "host")
	data := filepath.Join(rootfs, "data")
	for _, d := range []string{host, filepath.Join(data, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o600))
	old := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	files := []struct {
		name     string
		data     string
		mode     os.FileMode
		uid, gid int
	}{
		{"file.txt", "hello", 0o640, 1001, 1002},
		{"setuid", "x", 0o4755 | os.ModeSetuid, 0, 0},
		{"sub/deep", "deep", 0o600, 33, 33},
		{"hl1", "linked", 0o644, 0, 0},
		{"empty", "", 0o644, 5, 5},
	}
	for _, f := range files {
		p := filepath.Join(data, f.name)
		must(os.WriteFile(p, []byte(f.data), 0o600))
		must(os.Lchown(p, f.uid, f.gid))
		must(unix.Chmod(p, uint32(f.mode.Perm())|map[bool]uint32{true: unix.S_ISUID}[f.mode&os.ModeSetuid != 0]))
	}
	must(os.Link(filepath.Join(data, "hl1"), filepath.Join(data, "sub", "hl2")))
	must(unix.Setxattr(filepath.Join(data, "file.txt"), "user.color", []byte("blue"), 0))
	must(os.Symlink("/etc/host-secret", filepath.Join(data, "abs")))
	must(os.Symlink("../../host/secret", filepath.Join(data, "rel")))
	must(os.Symlink(host, filepath.Join(data, "hostdir")))
	must(os.Lchown(filepath.Join(data, "abs"), 7, 8))
	must(unix.Mkfifo(filepath.Join(data, "fifo"), 0o620))
	must(unix.Mknod(filepath.Join(data, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Chmod(filepath.Join(data, "null"), 0o666))
	must(os.Chmod(filepath.Join(data, "sub"), 0o710))
	must(os.Lchown(filepath.Join(data, "sub"), 44, 55))
	for _, p := range []string{"file.txt", "sub/deep", "sub", "abs", "fifo"} {
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(data, p), []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}, unix.AT_SYMLINK_NOFOLLOW))
	}
	must(os.Chmod(data, 0o750))
	must(os.Lchown(data, 1000, 2000))
	// Ways out of the rootfs, and a way within it.
	must(os.Symlink("../host", filepath.Join(rootfs, "esc")))
	must(os.Symlink("../../../../../../.."+host, filepath.Join(rootfs, "deepesc")))
	must(os.Symlink(host, filepath.Join(rootfs, "absdir")))
	must(os.Symlink("/data", filepath.Join(rootfs, "inside")))
	must(os.WriteFile(filepath.Join(rootfs, "file"), nil, 0o644))
	return rootfs, host
}

type volEntry struct {
	mode       os.FileMode
	uid, gid   uint32
	mtime      int64
	data, link string
	rdev       uint64
}

// volWalk describes a tree, never following symlinks.
func volWalk(t *testing.T, root string) map[string]volEntry {
	t.Helper()
	out := map[string]volEntry{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		en := volEntry{mode: fi.Mode(), uid: st.Uid, gid: st.Gid, mtime: st.Mtim.Nano(), rdev: st.Rdev}
		if fi.IsDir() && rel == "." {
			en.mtime = 0 // filled after the walk
		}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			en.data = string(b)
		case fi.Mode()&os.ModeSymlink != 0:
			en.link, _ = os.Readlink(p)
		}
		out[rel] = en
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFillVolume(t *testing.T) {
	rootfs, host := volTree(t)
	want := volWalk(t, filepath.Join(rootfs, "data"))
	tests := []struct {
		name   string
		dst    string
		filled bool
	}{
		{"dir", "/data", true},
		{"relative path", "data/", true},
		{"symlink inside rootfs", "/inside", true},
		{"relative symlink out", "/esc", false},
		{"deep relative symlink out", "/deepesc", false},
		{"absolute symlink out", "/absdir", false},
		{"dotdot out", "/../host", false},
		{"dotdot through data", "/data/../../host", false},
		{"missing", "/missing", false},
		{"regular file", "/file", false},
		{"through a file", "/file/x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newRoots(t).open(t)
			v := volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
			if err := e.FillVolume(v, rootfs, tc.dst); err != nil {
				t.Fatal(err)
			}
			got := volWalk(t, v.Mountpoint)
			if !tc.filled {
				if len(got) != 1 {
					t.Fatalf("volume holds %v", got)
				}
				if m := volMode(t, v.Mountpoint); m != os.ModeDir|0o755 {
					t.Errorf("mode %v", m)
				}
				return
			}
			for rel, w := range want {
				g, ok := got[rel]
				if !ok {
					t.Errorf("%s not copied", rel)
					continue
				}
				if g != w {
					t.Errorf("%s: got %+v, want %+v", rel, g, w)
				}
			}
			for rel := range got {
				if _, ok := want[rel]; !ok {
					t.Errorf("%s copied from nowhere", rel)
				}
			}
			var a, b unix.Stat_t
			if err := unix.Stat(filepath.Join(v.Mountpoint, "hl1"), &a); err != nil {
				t.Fatal(err)
			}
			if err := unix.Stat(filepath.Join(v.Mountpoint, "sub", "hl2"), &b); err != nil {
				t.Fatal(err)
			}
			if a.Ino != b.Ino || a.Nlink != 2 {
				t.Errorf("hardlinks: inodes %d %d, nlink %d", a.Ino, b.Ino, a.Nlink)
			}
			buf := make([]byte, 16)
			if n, err := unix.Getxattr(filepath.Join(v.Mountpoint, "file.txt"), "user.color", buf); err != nil || string(buf[:n]) != "blue" {
				t.Errorf("xattr: %q, %v", buf[:n], err)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(host, "secret")); err != nil || string(b) != "host secret" {
		t.Errorf("host file: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(host); len(ents) != 1 {
		t.Errorf("host dir holds %v", ents)
	}
}

// A volume that holds data keeps it: the copy-up is for new volumes only.
func TestFillVolumeNotEmpty(t *testing.T) {
	rootfs, _ := volTree(t)
	e := newRoots(t).open(t)
	v := volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "mine"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.FillVolume(v, rootfs, "/data"); err != nil {
		t.Fatal(err)
	}
	got := volWalk(t, v.Mountpoint)
	if len(got) != 2 || got["mine"].data != "keep" || got["."].uid != 0 || got["."].mode != os.ModeDir|0o755 {
		t.Errorf("volume %+v", got)
	}
	// A second fill of a filled volume does nothing either.
	if err := os.Remove(filepath.Join(v.Mountpoint, "mine")); err != nil {
		t.Fatal(err)
	}
	if err := e.FillVolume(v, rootfs, "/data"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "data", "later"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.FillVolume(v, rootfs, "/data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(v.Mountpoint, "later")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refilled: %v", err)
	}
}

// File capabilities survive the copy (they live in security.capability,
// which chown clears: set after it).
func TestFillVolumeCapabilities(t *testing.T) {
	setcap, err := exec.LookPath("setcap")
	if err != nil {
		t.Skip("no setcap")
	}
	rootfs := t.TempDir()
	p := filepath.Join(rootfs, "bin", "ping")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(setcap, "cap_net_raw+ep", p).CombinedOutput(); err != nil {
		t.Skipf("setcap: %v: %s", err, out)
	}
	e := newRoots(t).open(t)
	v := volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
	if err := e.FillVolume(v, rootfs, "/bin"); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 64)
	n, err := unix.Getxattr(p, "security.capability", want)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 64)
	m, err := unix.Getxattr(filepath.Join(v.Mountpoint, "ping"), "security.capability", got)
	if err != nil || string(got[:m]) != string(want[:n]) {
		t.Errorf("security.capability: %x, %v; want %x", got[:m], err, want[:n])
	}
}

// What a remover killed after its commit left is swept by the next prune,
// unless a live remover holds it.
func TestPruneSweepsTrash(t *testing.T) {
	e := newRoots(t).open(t)
	volCreate(t, e, engine.VolumeCreateOptions{Name: "keep"})
	dir := filepath.Join(e.Root(), "volumes")
	left, busy := filepath.Join(dir, ".trash-left"), filepath.Join(dir, ".trash-busy")
	for _, d := range []string{left, busy} {
		if err := os.MkdirAll(filepath.Join(d, "_data", "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(busy)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if deleted, _, err := e.PruneVolumes(false, engine.VolumeFilter{}); err != nil || len(deleted) != 0 {
		t.Fatalf("prune: %v, %v", deleted, err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("left trash: %v", err)
	}
	if _, err := os.Stat(busy); err != nil {
		t.Errorf("busy trash: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep", "_data")); err != nil {
		t.Error(err)
	}
}

// Creates of one name race to one volume; fills of one volume to one copy.
func TestVolumeConcurrency(t *testing.T) {
	rootfs, _ := volTree(t)
	e := newRoots(t).open(t)
	const n = 6
	errs := make(chan error, n)
	made := make(chan bool, n)
	for range n {
		go func() {
			v, created, err := e.CreateVolume(engine.VolumeCreateOptions{Name: "v1"})
			if err == nil {
				err = e.FillVolume(v, rootfs, "/data")
			}
			made <- created
			errs <- err
		}()
	}
	count := 0
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		if <-made {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d creates made the volume", count)
	}
	v, err := e.GetVolume("v1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(volWalk(t, v.Mountpoint)), len(volWalk(t, filepath.Join(rootfs, "data"))); got != want {
		t.Errorf("volume holds %d entries, want %d", got, want)
	}
}

// A copy that fails leaves the volume empty, to be filled by the next
// start, rather than half full and looking whole.
func TestFillVolumeFailure(t *testing.T) {
	rootfs, _ := volTree(t)
	e := newRoots(t).open(t)
	v := volCreate(t, e, engine.VolumeCreateOptions{Name: "v1"})
	boom := errors.New("boom")
	engine.SetFillFault(func(rel string) error {
		if rel == "sub/hl2" {
			return boom
		}
		return nil
	})
	err := e.FillVolume(v, rootfs, "/data")
	engine.SetFillFault(nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "fill volume v1 from /data") {
		t.Fatalf("err = %v", err)
	}
	if got := volWalk(t, v.Mountpoint); len(got) != 1 {
		t.Fatalf("failed fill left %v", got)
	}
	if err := e.FillVolume(v, rootfs, "/data"); err != nil {
		t.Fatal(err)
	}
	if got, want := len(volWalk(t, v.Mountpoint)), len(volWalk(t, filepath.Join(rootfs, "data"))); got != want {
		t.Errorf("refill: %d entries, want %d", got, want)
	}
}

// Filters and names come from API requests too: no input panics, and a
// name that passes is one path component that ls finds again.
func FuzzVolumeFiltersAndNames(f *testing.F) {
	for _, s := range []string{"dangling=true", "label=a=b", "label!=x", "name=", "=", "a/b", "..", "ab", "x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if flt, err := engine.ParseVolumeFilters([]string{s, s}); err == nil && flt.Dangling == nil &&
			len(flt.Names)+len(flt.Drivers)+len(flt.Labels)+len(flt.NotLabels) != 2 {
			t.Errorf("%q parsed to %+v", s, flt)
		}
		if engine.ValidVolumeName(s) == nil {
			if filepath.Base(s) != s || s == "." || s == ".." || strings.HasPrefix(s, ".") || len(s) < 2 {
				t.Errorf("%q passed", s)
			}
		}
	})
}
