// Package snapshot keeps image layers unpacked on disk and makes
// snapshots of them: writable (active) or read-only (view) roots on a
// chain of committed layers, their diffs as OCI layers, and commits of
// those diffs as new layers.
//
// Layout of the store directory (ROOT/snapshots):
//
//	meta.db      bbolt: layers (diffID -> short id), chains, snapshots (meta.go)
//	layers/ID    one unpacked layer per diffID, ID a small integer
//	active/ID    one dir per active or view snapshot (driver specific)
//	tmp/         unpacks, copies and removals in progress
//
// A layer directory is an overlayfs layer dir (whiteouts as 0:0 char
// devices, opaque dirs as xattrs) and depends on its own content only,
// never on its parents: layers unpack in parallel, once, and every chain
// that has a layer shares its directory. A committed snapshot is a chain:
// its chainID (as the OCI image spec defines it) names the parent chain
// and the layer on top, so committing costs one metadata record. The short
// ids keep overlayfs's lowerdir option small (128 layers and more mount).
//
// Before the short ids, layers lived in layers/DIFFID (64 hex digits);
// Open renames such dirs to short ids once and records them.
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
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/snapshot/archive"
)

// Errors wrapped by the store and its snapshotters.
var (
	ErrNotFound = errors.New("snapshot not found")
	ErrExists   = errors.New("snapshot already exists")
	// ErrInUse: a layer or committed snapshot that others stand on.
	ErrInUse = errors.New("snapshot in use")
)

// Store is the set of unpacked layers and snapshots under one directory.
type Store struct {
	dir string
}

// Open opens (creating) the store in dir, migrating layer dirs named by
// diffID to short ids on the first open.
func Open(dir string) (*Store, error) {
	for _, d := range []string{"layers", "active", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("open snapshot store: %w", err)
		}
	}
	s := &Store{dir: dir}
	ready := false
	// Only a file another process has finished making can be read: bbolt
	// opening an empty one read-only would try to initialize it. Anything
	// short of that takes the write path, which waits for the other.
	if fi, err := os.Stat(s.dbPath()); err == nil && fi.Size() > 0 {
		var version error
		err := s.db(false, func(tx *bolt.Tx) error {
			if tx.Bucket(bucketMeta) == nil {
				return nil
			}
			if version = checkVersion(tx); version != nil {
				return nil
			}
			ready = tx.Bucket(bucketMeta).Get(keyMigrated) != nil
			return nil
		})
		if version != nil {
			return nil, version
		}
		if err != nil {
			ready = false
		}
	}
	if !ready {
		if err := s.migrate(); err != nil {
			return nil, fmt.Errorf("open snapshot store: %w", err)
		}
	}
	return s, nil
}

// migrate gives the layer dirs of the old layout (layers/DIFFID) short
// ids: the records are committed first, then the dirs renamed, then the
// store is marked done, so an interrupted migration resumes on the next
// open.
func (s *Store) migrate() error {
	entries, err := os.ReadDir(s.layersDir())
	if err != nil {
		return err
	}
	var legacy []v1.Hash
	for _, e := range entries {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if e.IsDir() && checkDiffID(h) == nil {
			legacy = append(legacy, h)
		}
	}
	ids := map[v1.Hash]uint64{}
	err = s.db(true, func(tx *bolt.Tx) error {
		if err := initDB(tx); err != nil {
			return err
		}
		for _, d := range legacy {
			rec, err := get[layerRec](tx, bucketLayers, d.String())
			if err != nil {
				return err
			}
			if rec == nil {
				id, err := tx.Bucket(bucketLayers).NextSequence()
				if err != nil {
					return err
				}
				rec = &layerRec{ID: id}
				if err := put(tx, bucketLayers, d.String(), rec); err != nil {
					return err
				}
			}
			ids[d] = rec.ID
		}
		return nil
	})
	if err != nil {
		return err
	}
	for d, id := range ids {
		old, dst := filepath.Join(s.layersDir(), d.Hex), s.layerDir(id)
		if fileExists(dst) {
			// Another process migrated it already, or the same layer was
			// unpacked again since: the old dir is a duplicate.
			if err := os.RemoveAll(old); err != nil {
				return err
			}
			continue
		}
		if err := os.Rename(old, dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("migrate layer %s: %w", d, err)
		}
	}
	return s.db(true, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyMigrated, []byte(time.Now().UTC().Format(time.RFC3339)))
	})
}

func (s *Store) layersDir() string { return filepath.Join(s.dir, "layers") }
func (s *Store) layerDir(id uint64) string {
	return filepath.Join(s.dir, "layers", strconv.FormatUint(id, 10))
}
func (s *Store) activeDir(id uint64) string {
	return filepath.Join(s.dir, "active", strconv.FormatUint(id, 10))
}

func checkDiffID(diffID v1.Hash) error {
	if diffID.Algorithm != "sha256" || len(diffID.Hex) != 64 {
		return fmt.Errorf("invalid layer diffID %q", diffID)
	}
	if _, err := hex.DecodeString(diffID.Hex); err != nil {
		return fmt.Errorf("invalid layer diffID %q", diffID)
	}
	return nil
}

// Path is where the unpacked layer with this diffID lives; "" when it is
// not unpacked.
func (s *Store) Path(diffID v1.Hash) string {
	var p string
	if checkDiffID(diffID) != nil {
		return ""
	}
	s.db(false, func(tx *bolt.Tx) error {
		rec, err := get[layerRec](tx, bucketLayers, diffID.String())
		if err == nil && rec != nil {
			p = s.layerDir(rec.ID)
		}
		return nil
	})
	if p == "" || !fileExists(p) {
		return ""
	}
	return p
}

// Has tells whether the layer is unpacked.
func (s *Store) Has(diffID v1.Hash) bool { return s.Path(diffID) != "" }

// Unpack reads the uncompressed layer tar r, unpacks it and, when its
// sha256 equals diffID and verify (if not nil) accepts, renames it into
// place. verify runs after the whole stream was read; the puller uses it
// to check the compressed digest and commit the compressed blob, so that
// neither is committed unless both match. On any error nothing is left.
// A layer already present (another process won the race) is success.
func (s *Store) Unpack(diffID v1.Hash, r io.Reader, verify func() error) error {
	if err := checkDiffID(diffID); err != nil {
		return err
	}
	_, err := s.unpack(&diffID, r, verify)
	return err
}

// unpack unpacks r as a layer; with want, its diffID must be *want.
func (s *Store) unpack(want *v1.Hash, r io.Reader, verify func() error) (v1.Hash, error) {
	name := "layer"
	if want != nil {
		name = want.Hex[:12]
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), name+"-")
	if err != nil {
		return v1.Hash{}, fmt.Errorf("unpack layer: %w", err)
	}
	defer os.RemoveAll(tmp) // empty after a successful rename
	if err := os.Chmod(tmp, 0o755); err != nil {
		return v1.Hash{}, fmt.Errorf("unpack layer: %w", err)
	}
	h := sha256.New()
	if err := archive.Apply(io.TeeReader(r, h), tmp, archive.Options{Whiteouts: archive.WhiteoutOverlay}); err != nil {
		return v1.Hash{}, fmt.Errorf("unpack layer %s: %w", name, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if want != nil {
		if err := checkHash(h, *want); err != nil {
			return v1.Hash{}, fmt.Errorf("unpack layer %s: %w", *want, err)
		}
	}
	if verify != nil {
		if err := verify(); err != nil {
			return v1.Hash{}, fmt.Errorf("unpack layer %s: %w", got, err)
		}
	}
	err = s.db(true, func(tx *bolt.Tx) error {
		rec, err := get[layerRec](tx, bucketLayers, got.String())
		if err != nil {
			return err
		}
		if rec != nil && fileExists(s.layerDir(rec.ID)) {
			return nil // unpacked meanwhile
		}
		if rec == nil {
			id, err := tx.Bucket(bucketLayers).NextSequence()
			if err != nil {
				return err
			}
			rec = &layerRec{ID: id}
		}
		dst := s.layerDir(rec.ID)
		// A dir of this id without a record was left by a process killed
		// between its rename and its commit: nobody uses it.
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
		return put(tx, bucketLayers, got.String(), rec)
	})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("commit layer %s: %w", got, err)
	}
	return got, nil
}

func checkHash(h hash.Hash, want v1.Hash) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex {
		return fmt.Errorf("content is sha256:%s, expected %s", got, want)
	}
	return nil
}

// List returns the diffIDs of all unpacked layers.
func (s *Store) List() ([]v1.Hash, error) {
	var out []v1.Hash
	err := s.db(false, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLayers).ForEach(func(k, v []byte) error {
			h, err := v1.NewHash(string(k))
			if err != nil {
				return nil
			}
			var rec layerRec
			if json.Unmarshal(v, &rec) == nil && fileExists(s.layerDir(rec.ID)) {
				out = append(out, h)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	return out, nil
}

// Remove deletes an unpacked layer and the committed chains that have it.
// A layer under an active or view snapshot is refused (ErrInUse). The dir
// is renamed out of the way first, so a half-removed layer is never taken
// for a whole one.
func (s *Store) Remove(diffID v1.Hash) error {
	if err := checkDiffID(diffID); err != nil {
		return err
	}
	trash, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "rm-")
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", diffID, err)
	}
	defer os.RemoveAll(trash)
	err = s.db(true, func(tx *bolt.Tx) error {
		rec, err := get[layerRec](tx, bucketLayers, diffID.String())
		if err != nil || rec == nil {
			return err
		}
		doomed, err := chainsWith(tx, diffID.String())
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
			var sr snapRec
			if err := json.Unmarshal(v, &sr); err != nil {
				return err
			}
			if doomed[sr.Parent] {
				return fmt.Errorf("%w: snapshot %q stands on it", ErrInUse, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for c := range doomed {
			if err := tx.Bucket(bucketChains).Delete([]byte(c)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketLayers).Delete([]byte(diffID.String())); err != nil {
			return err
		}
		if err := os.Rename(s.layerDir(rec.ID), filepath.Join(trash, "layer")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", diffID, err)
	}
	return nil
}

// chainsWith returns the committed chains that have the layer diffID.
func chainsWith(tx *bolt.Tx, diffID string) (map[string]bool, error) {
	recs := map[string]chainRec{}
	if err := tx.Bucket(bucketChains).ForEach(func(k, v []byte) error {
		var c chainRec
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		recs[string(k)] = c
		return nil
	}); err != nil {
		return nil, err
	}
	memo := map[string]bool{}
	var has func(string, int) bool
	has = func(id string, depth int) bool {
		if v, ok := memo[id]; ok {
			return v
		}
		c, ok := recs[id]
		if !ok || depth > len(recs) {
			return false
		}
		v := c.DiffID == diffID || (c.Parent != "" && has(c.Parent, depth+1))
		memo[id] = v
		return v
	}
	out := map[string]bool{}
	for id := range recs {
		if has(id, 0) {
			out[id] = true
		}
	}
	return out, nil
}

// CleanTmp removes what interrupted unpacks and removals left, and layer
// and snapshot dirs without a record. Only call it when no other process
// can be using the store (the engine root's exclusive lock is held).
func (s *Store) CleanTmp() error {
	entries, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return fmt.Errorf("clean snapshot tmp: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(s.dir, "tmp", e.Name())))
	}
	// Orphans are looked for with the metadata locked for writing (an
	// unpack renames its dir into place inside its own write transaction);
	// nothing is written, so the transaction is rolled back: no fsync.
	errRollback := errors.New("rollback")
	err = s.db(true, func(tx *bolt.Tx) error {
		known := map[string]map[string]bool{"layers": {}, "active": {}}
		for dir, b := range map[string][]byte{"layers": bucketLayers, "active": bucketSnapshots} {
			tx.Bucket(b).ForEach(func(_, v []byte) error {
				var rec struct {
					ID uint64 `json:"id"`
				}
				if json.Unmarshal(v, &rec) == nil {
					known[dir][strconv.FormatUint(rec.ID, 10)] = true
				}
				return nil
			})
		}
		for dir, ids := range known {
			entries, err := os.ReadDir(filepath.Join(s.dir, dir))
			if err != nil {
				return err
			}
			for _, e := range entries {
				if _, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && !ids[e.Name()] {
					errs = append(errs, os.RemoveAll(filepath.Join(s.dir, dir, e.Name())))
				}
			}
		}
		return errRollback
	})
	if err != nil && !errors.Is(err, errRollback) {
		errs = append(errs, fmt.Errorf("clean snapshot store: %w", err))
	}
	return errors.Join(errs...)
}

// ChainID is the OCI chain ID of a stack of layers (bottom first):
// the first diffID, then sha256(parent + " " + diffID) for each above.
func ChainID(diffIDs []v1.Hash) string {
	var c string
	for i, d := range diffIDs {
		if i == 0 {
			c = d.String()
			continue
		}
		c = chainStep(c, d.String())
	}
	return c
}

func chainStep(parent, diffID string) string {
	if parent == "" {
		return diffID
	}
	sum := sha256.Sum256([]byte(parent + " " + diffID))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Chain records the committed snapshots of a stack of unpacked layers
// (bottom first, as in an image config) and returns the top one's chainID,
// the parent to Prepare a container's root on. It is cheap and idempotent:
// the layer dirs are shared, only records are written.
func (s *Store) Chain(diffIDs []v1.Hash) (string, error) {
	if len(diffIDs) == 0 {
		return "", nil
	}
	for _, d := range diffIDs {
		if err := checkDiffID(d); err != nil {
			return "", err
		}
	}
	top := ChainID(diffIDs)
	// Most calls find the chain made already: look before writing.
	found := false
	s.db(false, func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketChains).Get([]byte(top)) != nil
		return nil
	})
	if found {
		return top, nil
	}
	err := s.db(true, func(tx *bolt.Tx) error {
		parent := ""
		for _, d := range diffIDs {
			rec, err := get[layerRec](tx, bucketLayers, d.String())
			if err != nil {
				return err
			}
			if rec == nil || !fileExists(s.layerDir(rec.ID)) {
				return fmt.Errorf("layer %s is not unpacked", d)
			}
			id := chainStep(parent, d.String())
			if err := putChain(tx, id, parent, d.String()); err != nil {
				return err
			}
			parent = id
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("chain layers: %w", err)
	}
	return top, nil
}

func putChain(tx *bolt.Tx, id, parent, diffID string) error {
	if tx.Bucket(bucketChains).Get([]byte(id)) != nil {
		return nil
	}
	return put(tx, bucketChains, id, chainRec{Parent: parent, DiffID: diffID, Created: time.Now().UTC()})
}

// lowers resolves a committed chain to its layer dirs, topmost first.
func (s *Store) lowers(tx *bolt.Tx, chainID string) ([]string, error) {
	var out []string
	for c := chainID; c != ""; {
		rec, err := get[chainRec](tx, bucketChains, c)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, fmt.Errorf("%w: committed snapshot %s", ErrNotFound, c)
		}
		lr, err := get[layerRec](tx, bucketLayers, rec.DiffID)
		if err != nil {
			return nil, err
		}
		if lr == nil || !fileExists(s.layerDir(lr.ID)) {
			return nil, fmt.Errorf("%w: layer %s of %s is not unpacked", ErrNotFound, rec.DiffID, chainID)
		}
		out = append(out, s.layerDir(lr.ID))
		if len(out) > 10000 {
			return nil, fmt.Errorf("snapshot %s: parent chain loops", chainID)
		}
		c = rec.Parent
	}
	return out, nil
}
