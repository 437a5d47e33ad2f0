package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/snapshot/archive"
)

// Kind of a snapshot.
type Kind int

const (
	// KindCommitted: a chain of layers, named by its chainID; read-only,
	// the parent of other snapshots.
	KindCommitted Kind = iota
	// KindActive: a writable root on a committed parent, named by any key.
	KindActive
	// KindView: a read-only root on a committed parent.
	KindView
)

func (k Kind) String() string {
	switch k {
	case KindCommitted:
		return "committed"
	case KindActive:
		return "active"
	case KindView:
		return "view"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Info describes a snapshot.
type Info struct {
	// Key: the chainID of a committed snapshot, the caller's key for the
	// others.
	Key  string
	Kind Kind
	// Parent is the committed snapshot below ("" for none).
	Parent string
	// DiffID (committed) is the layer on top of Parent.
	DiffID v1.Hash
	// Driver (active, view) made the snapshot and serves its mounts.
	Driver  string
	Created time.Time
}

// DiffOptions says how a diff is written.
type DiffOptions struct {
	// Compression: archive.Uncompressed or archive.Gzip (the default,
	// the zero value being Uncompressed, must be asked for).
	Compression archive.Compression
}

// Layer is a diff as written: an OCI layer blob.
type Layer struct {
	// ChainID of the committed snapshot (Commit only).
	ChainID string
	// DiffID is the sha256 of the uncompressed tar; Digest and Size are
	// those of the blob written (equal to the DiffID uncompressed).
	DiffID    v1.Hash
	Digest    v1.Hash
	Size      int64
	MediaType types.MediaType
}

// Snapshotter makes snapshots on the layers of a Store. Both drivers,
// overlay and copy, implement it; a snapshot stays with the driver that
// made it (Mounts, Diff and Remove use that one, whichever is asked).
type Snapshotter interface {
	// Name is the driver's name (DriverOverlay or DriverCopy).
	Name() string
	// Prepare makes the active (writable) snapshot key on the committed
	// snapshot parent ("" for an empty root) and returns its mounts.
	Prepare(key, parent string) ([]Mount, error)
	// View makes the read-only snapshot key on parent.
	View(key, parent string) ([]Mount, error)
	// Mounts returns what to mount for an active or view snapshot; the
	// caller mounts them (Mount.Mount, MountAll) where it wants.
	Mounts(key string) ([]Mount, error)
	Stat(key string) (Info, error)
	// Usage is the disk use of the snapshot's own files.
	Usage(key string) (Usage, error)
	// List returns every snapshot, committed ones first.
	List() ([]Info, error)
	// Remove deletes an active or view snapshot with its changes, or a
	// committed one (its record; layer dirs go with Store.Remove) that no
	// other snapshot stands on (else ErrInUse). The caller unmounts first.
	Remove(key string) error
	// Diff writes what the active snapshot key changed against its parent
	// to w as an OCI layer tar: whiteouts for deletions, opaque dirs,
	// hardlinks, xattrs, devices.
	Diff(key string, w io.Writer, opts DiffOptions) (Layer, error)
	// Commit turns the diff of the active snapshot key into a committed
	// layer on its parent: the layer is unpacked into the store, its chain
	// recorded (Layer.ChainID, to Prepare on) and, with w not nil, the
	// blob written to w. key itself stays as it is (Remove it when done):
	// a container committed keeps running on its own layer.
	Commit(key string, w io.Writer, opts DiffOptions) (Layer, error)
	// Changes lists the paths Diff would write for the active snapshot
	// key, for callers that describe a diff rather than write it (`berth
	// diff`). Call ChangeSet.Done when finished with it.
	Changes(key string) (ChangeSet, error)
}

// ChangeSet is what an active snapshot changed against its parent.
type ChangeSet struct {
	// Root is the tree to read changed paths from.
	Root string
	// Lowers are the parent's layer dirs, topmost first (overlayfs layer
	// dirs: whiteouts are 0:0 character devices).
	Lowers  []string
	Changes []archive.Change
	// Done releases what reading the changes needed (a mount).
	Done func()
}

// driver is what overlay and copy do differently; the metadata is shared.
type driver interface {
	name() string
	// create makes the snapshot dir's content for kind on lowers
	// (topmost first).
	create(dir string, lowers []string, kind Kind) error
	mounts(dir string, lowers []string, kind Kind) []Mount
	// changes returns the tree to read changed paths from, the changes,
	// and what to undo when done.
	changes(dir string, lowers []string) (string, []archive.Change, func(), error)
}

type snapshotter struct {
	s *Store
	d driver
}

func (sn *snapshotter) Name() string { return sn.d.name() }

func driverByName(name string) driver {
	switch name {
	case DriverOverlay:
		return overlayDriver{}
	case DriverCopy:
		return copyDriver{}
	}
	return nil
}

// checkKey: digest-shaped names are the committed snapshots' (chainIDs),
// so that a later commit can never take an active snapshot's name.
func checkKey(key string) error {
	if key == "" || len(key) > 512 || strings.ContainsAny(key, "\x00") {
		return fmt.Errorf("invalid snapshot key %q", key)
	}
	if strings.HasPrefix(key, "sha256:") {
		return fmt.Errorf("invalid snapshot key %q: names starting with sha256: are for committed snapshots", key)
	}
	return nil
}

func (sn *snapshotter) Prepare(key, parent string) ([]Mount, error) {
	return sn.create(key, parent, KindActive)
}

func (sn *snapshotter) View(key, parent string) ([]Mount, error) {
	return sn.create(key, parent, KindView)
}

func (sn *snapshotter) create(key, parent string, kind Kind) ([]Mount, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var rec snapRec
	var lowers []string
	err := sn.s.db(true, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSnapshots).Get([]byte(key)) != nil || tx.Bucket(bucketChains).Get([]byte(key)) != nil {
			return fmt.Errorf("%w: %q", ErrExists, key)
		}
		var err error
		if lowers, err = sn.s.lowers(tx, parent); err != nil {
			return err
		}
		id, err := tx.Bucket(bucketSnapshots).NextSequence()
		if err != nil {
			return err
		}
		rec = snapRec{ID: id, Kind: kind, Parent: parent, Driver: sn.d.name(), Created: time.Now().UTC()}
		return put(tx, bucketSnapshots, key, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("%s snapshot %q: %w", kind, key, err)
	}
	dir := sn.s.activeDir(rec.ID)
	// A dir of this id without a record is what a killed process left.
	err = os.RemoveAll(dir)
	if err == nil {
		err = os.Mkdir(dir, 0o700)
	}
	if err == nil {
		err = sn.d.create(dir, lowers, kind)
	}
	if err != nil {
		if rerr := sn.Remove(key); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, fmt.Errorf("%s snapshot %q: %w", kind, key, err)
	}
	return sn.d.mounts(dir, lowers, kind), nil
}

// active looks up an active or view snapshot with its lowers and driver.
func (sn *snapshotter) active(key string) (snapRec, []string, driver, error) {
	var rec *snapRec
	var lowers []string
	err := sn.s.db(false, func(tx *bolt.Tx) error {
		var err error
		if rec, err = get[snapRec](tx, bucketSnapshots, key); err != nil {
			return err
		}
		if rec == nil {
			if tx.Bucket(bucketChains).Get([]byte(key)) != nil {
				return fmt.Errorf("%q is a committed snapshot", key)
			}
			return fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		lowers, err = sn.s.lowers(tx, rec.Parent)
		return err
	})
	if err != nil {
		return snapRec{}, nil, nil, err
	}
	d := driverByName(rec.Driver)
	if d == nil {
		return snapRec{}, nil, nil, fmt.Errorf("snapshot %q: unknown driver %q", key, rec.Driver)
	}
	return *rec, lowers, d, nil
}

func (sn *snapshotter) Mounts(key string) ([]Mount, error) {
	rec, lowers, d, err := sn.active(key)
	if err != nil {
		return nil, fmt.Errorf("mounts of %q: %w", key, err)
	}
	return d.mounts(sn.s.activeDir(rec.ID), lowers, rec.Kind), nil
}

func (sn *snapshotter) Stat(key string) (Info, error) {
	var info Info
	err := sn.s.db(false, func(tx *bolt.Tx) error {
		if rec, err := get[snapRec](tx, bucketSnapshots, key); err != nil || rec != nil {
			if rec != nil {
				info = Info{Key: key, Kind: rec.Kind, Parent: rec.Parent, Driver: rec.Driver, Created: rec.Created}
			}
			return err
		}
		rec, err := get[chainRec](tx, bucketChains, key)
		if err != nil {
			return err
		}
		if rec == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		info, err = chainInfo(key, rec)
		return err
	})
	return info, err
}

func chainInfo(key string, rec *chainRec) (Info, error) {
	d, err := v1.NewHash(rec.DiffID)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot metadata %s: %w", key, err)
	}
	return Info{Key: key, Kind: KindCommitted, Parent: rec.Parent, DiffID: d, Created: rec.Created}, nil
}

func (sn *snapshotter) List() ([]Info, error) {
	var out []Info
	err := sn.s.db(false, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketChains).ForEach(func(k, v []byte) error {
			var rec chainRec
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			info, err := chainInfo(string(k), &rec)
			out = append(out, info)
			return err
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
			var rec snapRec
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, Info{Key: string(k), Kind: rec.Kind, Parent: rec.Parent, Driver: rec.Driver, Created: rec.Created})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return out, nil
}

func (sn *snapshotter) Remove(key string) error {
	trash, err := os.MkdirTemp(filepath.Join(sn.s.dir, "tmp"), "rm-")
	if err != nil {
		return fmt.Errorf("remove snapshot %q: %w", key, err)
	}
	defer os.RemoveAll(trash)
	err = sn.s.db(true, func(tx *bolt.Tx) error {
		rec, err := get[snapRec](tx, bucketSnapshots, key)
		if err != nil {
			return err
		}
		if rec != nil {
			dir := sn.s.activeDir(rec.ID)
			if err := checkNotMounted(dir); err != nil {
				return err
			}
			if err := os.Rename(dir, filepath.Join(trash, "snapshot")); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return tx.Bucket(bucketSnapshots).Delete([]byte(key))
		}
		if tx.Bucket(bucketChains).Get([]byte(key)) == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		if err := children(tx, key); err != nil {
			return err
		}
		return tx.Bucket(bucketChains).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("remove snapshot %q: %w", key, err)
	}
	return nil
}

// children refuses a committed snapshot that another one stands on.
func children(tx *bolt.Tx, key string) error {
	for _, b := range [][]byte{bucketChains, bucketSnapshots} {
		err := tx.Bucket(b).ForEach(func(k, v []byte) error {
			var rec struct {
				Parent string `json:"parent"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if rec.Parent == key {
				return fmt.Errorf("%w: snapshot %q stands on it", ErrInUse, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// hashWriter counts and hashes what goes through it.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func (hw *hashWriter) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(hw.h.Sum(nil))}
}

func (sn *snapshotter) Diff(key string, w io.Writer, opts DiffOptions) (Layer, error) {
	l, err := sn.diff(key, w, nil, opts)
	if err != nil {
		return Layer{}, fmt.Errorf("diff of %q: %w", key, err)
	}
	return l, nil
}

// diff writes the layer blob to w (when not nil) and the uncompressed tar
// to raw (when not nil).
func (sn *snapshotter) diff(key string, w, raw io.Writer, opts DiffOptions) (Layer, error) {
	rec, lowers, d, err := sn.active(key)
	if err != nil {
		return Layer{}, err
	}
	if rec.Kind != KindActive {
		return Layer{}, fmt.Errorf("%q is a %s snapshot", key, rec.Kind)
	}
	root, changes, done, err := d.changes(sn.s.activeDir(rec.ID), lowers)
	if err != nil {
		return Layer{}, err
	}
	defer done()
	if w == nil {
		w = io.Discard
	}
	blob := &hashWriter{w: w, h: sha256.New()}
	l := Layer{}
	var tarOut io.Writer
	var zw *gzip.Writer
	switch opts.Compression {
	case archive.Uncompressed:
		tarOut, l.MediaType = blob, types.OCIUncompressedLayer
	case archive.Gzip:
		zw = gzip.NewWriter(blob)
		tarOut, l.MediaType = zw, types.OCILayer
	default:
		return Layer{}, fmt.Errorf("diff compression %s is not supported", opts.Compression)
	}
	uncompressed := &hashWriter{w: tarOut, h: sha256.New()}
	var out io.Writer = uncompressed
	if raw != nil {
		out = io.MultiWriter(uncompressed, raw)
	}
	if err := archive.WriteChanges(out, root, changes); err != nil {
		return Layer{}, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return Layer{}, err
		}
	}
	l.DiffID, l.Digest, l.Size = uncompressed.sum(), blob.sum(), blob.n
	return l, nil
}

func (sn *snapshotter) Changes(key string) (ChangeSet, error) {
	rec, lowers, d, err := sn.active(key)
	if err != nil {
		return ChangeSet{}, fmt.Errorf("changes of %q: %w", key, err)
	}
	if rec.Kind != KindActive {
		return ChangeSet{}, fmt.Errorf("changes of %q: a %s snapshot", key, rec.Kind)
	}
	root, changes, done, err := d.changes(sn.s.activeDir(rec.ID), lowers)
	if err != nil {
		return ChangeSet{}, fmt.Errorf("changes of %q: %w", key, err)
	}
	archive.SortChanges(changes)
	return ChangeSet{Root: root, Lowers: lowers, Changes: changes, Done: done}, nil
}

func (sn *snapshotter) Commit(key string, w io.Writer, opts DiffOptions) (Layer, error) {
	rec, _, _, err := sn.active(key)
	if err != nil {
		return Layer{}, fmt.Errorf("commit %q: %w", key, err)
	}
	pr, pw := io.Pipe()
	type result struct {
		l   Layer
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := sn.diff(key, w, pw, opts)
		pw.CloseWithError(err)
		done <- result{l, err}
	}()
	diffID, err := sn.s.unpack(nil, pr, nil)
	pr.CloseWithError(errors.New("layer unpack stopped"))
	res := <-done
	if res.err != nil {
		return Layer{}, fmt.Errorf("commit %q: %w", key, res.err)
	}
	if err != nil {
		return Layer{}, fmt.Errorf("commit %q: %w", key, err)
	}
	if diffID != res.l.DiffID {
		return Layer{}, fmt.Errorf("commit %q: unpacked %s, wrote %s", key, diffID, res.l.DiffID)
	}
	l := res.l
	l.ChainID = chainStep(rec.Parent, diffID.String())
	err = sn.s.db(true, func(tx *bolt.Tx) error {
		if rec.Parent != "" && tx.Bucket(bucketChains).Get([]byte(rec.Parent)) == nil {
			return fmt.Errorf("%w: parent %s", ErrNotFound, rec.Parent)
		}
		return putChain(tx, l.ChainID, rec.Parent, diffID.String())
	})
	if err != nil {
		return Layer{}, fmt.Errorf("commit %q: %w", key, err)
	}
	return l, nil
}

// Usage is what a snapshot's own files take: the changes of an active
// overlay snapshot, the whole copy of a copy one, the layer of a committed
// one. Size is apparent bytes, each inode counted once.
type Usage struct {
	Size   int64
	Inodes int64
}

func (sn *snapshotter) Usage(key string) (Usage, error) {
	var dir string
	err := sn.s.db(false, func(tx *bolt.Tx) error {
		if rec, err := get[snapRec](tx, bucketSnapshots, key); err != nil || rec != nil {
			if rec != nil {
				dir = filepath.Join(sn.s.activeDir(rec.ID), "fs")
			}
			return err
		}
		rec, err := get[chainRec](tx, bucketChains, key)
		if err != nil {
			return err
		}
		if rec == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		lr, err := get[layerRec](tx, bucketLayers, rec.DiffID)
		if err != nil {
			return err
		}
		if lr == nil {
			return fmt.Errorf("%w: layer %s", ErrNotFound, rec.DiffID)
		}
		dir = sn.s.layerDir(lr.ID)
		return nil
	})
	if err != nil {
		return Usage{}, fmt.Errorf("usage of %q: %w", key, err)
	}
	var u Usage
	seen := map[[2]uint64]bool{}
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok {
			k := [2]uint64{st.Dev, st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		u.Inodes++
		if fi.Mode().IsRegular() {
			u.Size += fi.Size()
		}
		return nil
	})
	if err != nil {
		return Usage{}, fmt.Errorf("usage of %q: %w", key, err)
	}
	return u, nil
}
