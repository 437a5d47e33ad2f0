package image_test

import (
	"bytes"
	"context"
	be "encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/image/importer"
	"github.com/berth-dev/berth/image/store"
)

// TestOldRootMigrates: a root written by the image store before the
// engine (its metadata in ROOT/image/meta.db) works with every image
// command of this berth, which moves its records into ROOT/meta.db.
func TestOldRootMigrates(t *testing.T) {
	root := t.TempDir()
	old, err := store.Open(root) // the pre-engine code path and layout
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(busyboxTar(t, true))
	if err != nil {
		t.Fatal(err)
	}
	img, err := importer.Import(context.Background(), old, f, "old/busybox:v1", importer.Options{})
	f.Close()
	old.Close()
	if err != nil {
		t.Fatal(err)
	}

	if out := mustBerth(t, root, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); out != "old/busybox:v1 "+img.ID.Hex[:12]+"\n" {
		t.Fatalf("images of the old root:\n%s", out)
	}
	for _, p := range []string{"meta.db", "image/meta.db.migrated"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Error(err)
		}
	}
	if out := mustBerth(t, root, "history", "old/busybox:v1"); !strings.Contains(out, "Imported from") {
		t.Errorf("history:\n%s", out)
	}
	mustBerth(t, root, "tag", "old/busybox:v1", "new/busybox:v2")
	mustBerth(t, root, "rmi", "old/busybox:v1")
	if out := mustBerth(t, root, "image", "prune", "-a"); !strings.Contains(out, "Removed 3 blobs and 1 layers") {
		t.Errorf("prune -a:\n%s", out)
	}
	if out := mustBerth(t, root, "images", "-q"); out != "" {
		t.Errorf("images left:\n%s", out)
	}
	checkStore(t, root)
}

// TestBadMetadataFile: a corrupt metadata file, or one from a newer
// berth, fails every command with an error naming it, and neither it nor
// anything else in the root is touched.
func TestBadMetadataFile(t *testing.T) {
	newer := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.Update(func(tx *bolt.Tx) error {
			b, _ := tx.CreateBucket([]byte("meta"))
			return b.Put([]byte("version"), be.BigEndian.AppendUint64(nil, 99))
		})
	}
	garbage := func(t *testing.T, path string) {
		os.WriteFile(path, bytes.Repeat([]byte("berth?"), 5000), 0o600)
	}
	for _, tc := range []struct {
		name string
		make func(*testing.T, string)
		want string
	}{
		{"corrupt", garbage, "metadata file is corrupt"},
		{"newer", newer, "written by a newer berth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "meta.db")
			tc.make(t, path)
			before, _ := os.ReadFile(path)
			for _, args := range [][]string{{"images"}, {"image", "prune", "-a"}, {"rmi", "x"}} {
				_, err := berth(t, root, args...)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
					t.Errorf("berth %v: %v; want %q naming %s", args, err, tc.want, path)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("the metadata file was changed")
			}
			if entries, _ := os.ReadDir(root); len(entries) != 1 {
				t.Errorf("root holds %v, want meta.db alone", entries)
			}
		})
	}
}
