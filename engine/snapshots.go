package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/snapshot"
)

// The snapshot driver of a root is chosen once, on the first open, and
// recorded in meta.db (bucket meta, key snapshot-driver): later opens read
// it with the schema version and neither probe nor warn again, and a root
// keeps the driver its snapshots were made with. The choice, in order:
// storage.driver of the config (BERTH_SNAPSHOTTER, berth.toml); else the
// driver of snapshots already in a root from before the record; else a
// probe that mounts a tiny overlay in the store's tmp dir: overlay where
// that works, copy (said once, on Options.Warnings) where it does not. A
// config naming another driver than the recorded one is taken (and
// recorded) only while the root holds no active or view snapshot.

// How a driver was chosen (DriverChoice.By).
const (
	DriverByConfig    = "config"    // storage.driver named it
	DriverBySnapshots = "snapshots" // the snapshots already in the root use it
	DriverByProbe     = "probe"     // overlayfs was tried on the root
)

var keyDriver = []byte("snapshot-driver")

// DriverChoice is the snapshot driver of a root and where it came from.
type DriverChoice struct {
	Name string `json:"name"` // snapshot.DriverOverlay or snapshot.DriverCopy
	By   string `json:"by"`   // DriverByConfig, DriverBySnapshots or DriverByProbe
	// Setting is where the config named it ("env BERTH_SNAPSHOTTER").
	Setting string `json:"setting,omitempty"`
	// Reason is why the probe did not take overlay.
	Reason string    `json:"reason,omitempty"`
	Chosen time.Time `json:"chosen"`
	// Recorded is the file the choice is kept in; Earlier says it was
	// read from there (made by an earlier command), not made now.
	Recorded string `json:"-"`
	Earlier  bool   `json:"-"`
}

// Source says in words where the choice came from.
func (c DriverChoice) Source() string {
	var s string
	switch c.By {
	case DriverByConfig:
		s = "storage.driver"
		if c.Setting != "" {
			s += " (" + c.Setting + ")"
		}
	case DriverBySnapshots:
		s = "the snapshots already in the root"
	case DriverByProbe:
		s = "probe: overlayfs works here"
		if c.Reason != "" {
			s = "probe: overlayfs does not work here (" + c.Reason + ")"
		}
	default:
		s = c.By
	}
	if c.Earlier {
		s += "; recorded in " + c.Recorded + " on " + c.Chosen.UTC().Format(time.RFC3339)
	}
	return s
}

// normalizeDriver maps the names the config takes to the snapshot
// package's two drivers ("" stays "": choose).
func normalizeDriver(name string) (string, error) {
	switch name {
	case "":
		return "", nil
	case snapshot.DriverOverlay, "overlay2", "overlayfs":
		return snapshot.DriverOverlay, nil
	case snapshot.DriverCopy, "vfs":
		return snapshot.DriverCopy, nil
	}
	return "", fmt.Errorf("unknown snapshot driver %q (want %q or %q)", name, snapshot.DriverOverlay, snapshot.DriverCopy)
}

// chooseDriver sets e.driver (see the top of this file); recorded is what
// meta.db held at open (nil: nothing).
func (e *Engine) chooseDriver(opts Options, recorded []byte, warn io.Writer) error {
	want, err := normalizeDriver(opts.SnapshotDriver)
	if err != nil {
		return fmt.Errorf("storage.driver%s: %w", settingAt(opts.SnapshotDriverSetting), err)
	}
	for range 3 {
		var rec *DriverChoice
		if recorded != nil {
			rec = &DriverChoice{}
			if err := json.Unmarshal(recorded, rec); err != nil || rec.Name == "" {
				return fmt.Errorf("%w: %s: snapshot driver record %q", ErrCorrupt, e.meta.path, recorded)
			}
			rec.Recorded, rec.Earlier = e.meta.path, true
			if want == "" || want == rec.Name {
				e.driver = *rec
				return nil
			}
		}
		// Snapshots of another driver than the one to take keep theirs.
		has, other, err := e.otherSnapshots(want)
		if err != nil {
			return err
		}
		c := DriverChoice{Name: want, By: DriverByConfig, Setting: opts.SnapshotDriverSetting, Recorded: e.meta.path}
		switch {
		case want != "" && has > 0:
			return fmt.Errorf("snapshot driver: storage.driver = %q%s, but %s holds %d snapshot(s) made with the %s driver: remove them first, or leave storage.driver unset to keep %s",
				opts.SnapshotDriver, settingAt(opts.SnapshotDriverSetting), e.root, has, other, other)
		case want == "" && has > 0:
			c = DriverChoice{Name: other, By: DriverBySnapshots, Recorded: e.meta.path}
		case want == "":
			c = DriverChoice{Name: snapshot.DriverOverlay, By: DriverByProbe, Recorded: e.meta.path}
			if perr := e.images.Snapshots().OverlaySupported(); perr != nil {
				c.Name, c.Reason = snapshot.DriverCopy, probeReason(perr)
			}
		}
		c.Chosen = time.Now().UTC()
		raw, err := json.Marshal(c)
		if err != nil {
			return err
		}
		// Under the writer's lock: another process may have chosen since
		// this one read the record; then its choice is the one to check.
		var theirs []byte
		err = e.meta.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			if cur := b.Get(keyDriver); cur != nil && string(cur) != string(recorded) {
				theirs = append([]byte(nil), cur...)
				return nil
			}
			return b.Put(keyDriver, raw)
		})
		if err != nil {
			return fmt.Errorf("record snapshot driver: %w", err)
		}
		if theirs != nil {
			recorded = theirs
			continue
		}
		e.driver = c
		if c.By == DriverByProbe && c.Name == snapshot.DriverCopy && warn != nil {
			fmt.Fprintf(warn, "WARNING: overlayfs does not work on %s (%s): using the copy snapshot driver (full copies: slower, more space); recorded in %s, set [storage] driver to choose\n",
				e.root, c.Reason, e.meta.path)
		}
		return nil
	}
	return fmt.Errorf("record snapshot driver in %s: it keeps changing under other berth processes", e.meta.path)
}

// otherSnapshots counts the active and view snapshots not made with want
// (all of them when want is ""), and names the driver of the first.
func (e *Engine) otherSnapshots(want string) (int, string, error) {
	sn, err := e.images.Snapshots().NewDriver(snapshot.DriverCopy) // any: the records are shared
	if err != nil {
		return 0, "", err
	}
	infos, err := sn.List()
	if err != nil {
		return 0, "", err
	}
	n, other := 0, ""
	for _, in := range infos {
		if in.Kind == snapshot.KindCommitted || in.Driver == want {
			continue
		}
		if n == 0 {
			other = in.Driver
		}
		n++
	}
	return n, other, nil
}

// probeReason words a failed overlay probe: the kernel's refusal, without
// the probe's throwaway paths.
func probeReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "overlay mount: " + errno.Error()
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

func settingAt(setting string) string {
	if setting == "" {
		return ""
	}
	return " (" + setting + ")"
}

// SnapshotDriver is the root's snapshot driver and where it came from.
func (e *Engine) SnapshotDriver() DriverChoice { return e.driver }

// Snapshots is the snapshotter of the root's driver: writable and
// read-only roots on chains of the image layers.
func (e *Engine) Snapshots() (snapshot.Snapshotter, error) {
	return e.images.Snapshots().NewDriver(e.driver.Name)
}
