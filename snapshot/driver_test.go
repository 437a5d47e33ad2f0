package snapshot

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/snapshot/archive"
)

func TestNewDriver(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OverlaySupported(); err != nil {
		t.Fatalf("overlay should work on this host: %v", err)
	}
	for _, tc := range []struct {
		setting, env, want, wantErr string
	}{
		{want: DriverOverlay}, // auto: overlay works here
		{setting: "copy", want: DriverCopy},
		{setting: "vfs", want: DriverCopy},
		{setting: "overlay2", want: DriverOverlay},
		{env: "copy", want: DriverCopy},
		{setting: "overlay", env: "copy", want: DriverOverlay}, // the setting wins
		{setting: "zfs", wantErr: `unknown snapshot driver "zfs"`},
		{env: "btrfs", wantErr: `unknown snapshot driver "btrfs"`},
	} {
		t.Run(tc.setting+"/"+tc.env, func(t *testing.T) {
			t.Setenv(EnvDriver, tc.env)
			d, err := s.NewDriver(tc.setting)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || d.Name() != tc.want {
				t.Fatalf("got %v, %v; want %s", d, err, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(entries) != 0 {
		t.Errorf("the overlay probe left %v", entries)
	}
}

// TestMigrateDiffIDDirs: a store of the old layout (layers/DIFFID) opens
// with the same layers under short ids, resumes an interrupted migration,
// and prepares roots on them.
func TestMigrateDiffIDDirs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	var ids []v1.Hash
	for i := range 3 {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := fmt.Sprint("layer ", i)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprint("f", i), Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(body))})
		tw.Write([]byte(body))
		tw.Close()
		id, _, _ := v1.SHA256(bytes.NewReader(buf.Bytes()))
		ids = append(ids, id)
		// As the old Store.Unpack left it.
		legacy := filepath.Join(dir, "layers", id.Hex)
		if err := os.MkdirAll(filepath.Dir(legacy), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := archive.Extract(&buf, legacy, archive.Options{Whiteouts: archive.WhiteoutOverlay}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		p := s.Path(id)
		if p == "" || len(filepath.Base(p)) > 2 {
			t.Fatalf("layer %d at %q", i, p)
		}
		if b, err := os.ReadFile(filepath.Join(p, fmt.Sprint("f", i))); err != nil || string(b) != fmt.Sprint("layer ", i) {
			t.Errorf("layer %d: %q %v", i, b, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "layers", id.Hex)); !os.IsNotExist(err) {
			t.Errorf("old dir of layer %d left: %v", i, err)
		}
	}
	// An interrupted migration (records made, a dir not yet renamed, the
	// store not marked) resumes.
	p0 := s.Path(ids[0])
	if err := os.Rename(p0, filepath.Join(dir, "layers", ids[0].Hex)); err != nil {
		t.Fatal(err)
	}
	if err := s.db(true, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyMigrated) }); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if got := s.Path(ids[0]); got != p0 {
		t.Errorf("resumed migration put layer 0 at %q, want %q", got, p0)
	}
	top, err := s.Chain(ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{DriverOverlay, DriverCopy} {
		sn, err := s.NewDriver(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := sn.View("v-"+name, top)
		if err != nil {
			t.Fatal(err)
		}
		target := t.TempDir()
		if err := MountAll(m, target); err != nil {
			t.Fatal(err)
		}
		for i := range ids {
			if _, err := os.Stat(filepath.Join(target, fmt.Sprint("f", i))); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := Unmount(target); err != nil {
			t.Fatal(err)
		}
		if err := sn.Remove("v-" + name); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSchemaVersion: a store written by a newer berth is refused, not
// rewritten.
func TestSchemaVersion(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db(true, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.dir); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("open of a newer store: %v", err)
	}
}

// TestCorruptMetadata: a damaged meta.db is refused with an error that
// names it, and nothing in the store is touched.
func TestCorruptMetadata(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	good := tarOf(t, "f", "good")
	diffID, _, _ := v1.SHA256(bytes.NewReader(good))
	if err := s.Unpack(diffID, bytes.NewReader(good), nil); err != nil {
		t.Fatal(err)
	}
	layer := s.Path(diffID)
	garbage := bytes.Repeat([]byte("not bbolt "), 1000)
	if err := os.WriteFile(s.dbPath(), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), s.dbPath()) {
		t.Fatalf("open of a corrupt store: %v", err)
	}
	if b, _ := os.ReadFile(s.dbPath()); !bytes.Equal(b, garbage) {
		t.Error("the corrupt file was rewritten")
	}
	if _, err := os.Stat(filepath.Join(layer, "f")); err != nil {
		t.Errorf("layer touched: %v", err)
	}
}
