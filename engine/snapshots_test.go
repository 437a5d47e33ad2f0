package engine_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/engine"
)

func TestSnapshotDriverChoice(t *testing.T) {
	root, run := t.TempDir(), t.TempDir()
	var warn bytes.Buffer
	open := func(driver, setting string) (*engine.Engine, error) {
		return engine.Open(engine.Options{Root: root, RunRoot: run, SnapshotDriver: driver, SnapshotDriverSetting: setting, Warnings: &warn})
	}
	choice := func(driver, setting string) engine.DriverChoice {
		t.Helper()
		e, err := open(driver, setting)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		return e.SnapshotDriver()
	}

	// First open: the probe (overlay works under t.TempDir here, or the
	// warning says why not); later opens read the record.
	first := choice("", "")
	if first.By != engine.DriverByProbe || first.Earlier {
		t.Fatalf("first open: %+v", first)
	}
	if (first.Name == "copy") != (warn.Len() > 0) {
		t.Errorf("driver %s, warning %q", first.Name, warn.String())
	}
	warn.Reset()
	again := choice("", "")
	if again.Name != first.Name || !again.Earlier || !again.Chosen.Equal(first.Chosen) || warn.Len() > 0 {
		t.Errorf("second open: %+v, warning %q", again, warn.String())
	}
	if !strings.Contains(again.Source(), "recorded in "+filepath.Join(root, "meta.db")) {
		t.Errorf("source %q", again.Source())
	}

	// The config's driver, while no snapshot exists, is taken and kept.
	if c := choice("vfs", "file /x.toml"); c.Name != "copy" || c.By != engine.DriverByConfig || c.Earlier || c.Source() != "storage.driver (file /x.toml)" {
		t.Errorf("config vfs: %+v %q", c, c.Source())
	}
	if c := choice("", ""); c.Name != "copy" || c.By != engine.DriverByConfig || !c.Earlier {
		t.Errorf("after config: %+v", c)
	}

	// A snapshot pins the driver: another one named is an error, and the
	// record stays.
	e, err := open("", "")
	if err != nil {
		t.Fatal(err)
	}
	sn, err := e.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare("box", ""); err != nil {
		t.Fatal(err)
	}
	e.Close()
	for _, tc := range []struct{ driver, setting, want string }{
		{"overlay", "env BERTH_SNAPSHOTTER", `storage.driver = "overlay" (env BERTH_SNAPSHOTTER), but ` + root + ` holds 1 snapshot(s) made with the copy driver`},
		{"bogus", "flag --x", `storage.driver (flag --x): unknown snapshot driver "bogus"`},
	} {
		if e, err := open(tc.driver, tc.setting); err == nil || !strings.Contains(err.Error(), tc.want) {
			if err == nil {
				e.Close()
			}
			t.Errorf("%s: err = %v, want %q", tc.driver, err, tc.want)
		}
	}
	if c := choice("copy", ""); c.Name != "copy" || !c.Earlier {
		t.Errorf("same driver named: %+v", c)
	}

	// A damaged record is named, not replaced.
	db, err := bolt.Open(filepath.Join(root, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("snapshot-driver"), []byte("{")) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if e, err := open("", ""); !errors.Is(err, engine.ErrCorrupt) || !strings.Contains(err.Error(), "snapshot driver record") {
		if err == nil {
			e.Close()
		}
		t.Errorf("damaged record: %v", err)
	}
}
