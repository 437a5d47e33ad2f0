package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/berth-dev/berth/image/store"
)

// SchemaVersion is the metadata layout this binary reads and writes.
// Version 1: the buckets in schemaBuckets, image records as image/store
// writes them. Buckets and fields added since without a version change,
// because a reader of an older file finds nothing missing that it needs:
// container-names and pod-names (made by the first write), pod records
// in pods (pod.go), Container.Pod and PodInfra.
const SchemaVersion = 1

var (
	bucketMeta       = []byte("meta") // "version" → big-endian uint64
	bucketContainers = []byte("containers")
	// bucketCNames maps container names to ids. Made by the first
	// container write (version 1 files from before it lack it).
	bucketCNames  = []byte("container-names")
	bucketVolumes = []byte("volumes")
	keyVersion    = []byte("version")
)

// schemaBuckets are created with the file so that readers never need to
// create one; later issues fill them.
var schemaBuckets = [][]byte{
	bucketMeta,
	[]byte("images"), []byte("names"), // image/store
	bucketContainers, bucketCNames,
	bucketVolumes, []byte("networks"), []byte("pods"), []byte("execs"), []byte("events"),
}

// ErrNewerSchema is wrapped when the metadata was written by a newer
// berth: it is refused, never rewritten.
var ErrNewerSchema = errors.New("metadata written by a newer berth")

var errNotOurs = errors.New("not a berth metadata file")

// ErrCorrupt is wrapped when the metadata file cannot be read as bbolt.
var ErrCorrupt = errors.New("metadata file is corrupt")

// metaFile is ROOT/meta.db, opened for one transaction at a time: bbolt
// locks the file for as long as a process has it open (flock: exclusive
// for a writer, shared for readers), so several processes share it by
// taking turns. Scope of that lock: one View or Update.
type metaFile struct {
	path    string
	timeout time.Duration
	updates atomic.Int64 // write transactions run (each one commit, one fsync)
	// driver is the snapshot driver record read at open (snapshots.go).
	driver []byte
}

func (m *metaFile) View(fn func(*bolt.Tx) error) error { return m.tx(false, fn) }
func (m *metaFile) Update(fn func(*bolt.Tx) error) error {
	m.updates.Add(1)
	return m.tx(true, fn)
}

func (m *metaFile) open(write bool) (*bolt.DB, error) {
	db, err := bolt.Open(m.path, 0o600, &bolt.Options{Timeout: m.timeout, ReadOnly: !write})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("metadata %s: still locked by another berth process after %s", m.path, m.timeout)
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("open metadata: %w", err)
	default:
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, m.path, err)
	}
}

func (m *metaFile) tx(write bool, fn func(*bolt.Tx) error) (err error) {
	db, err := m.open(write)
	if err != nil {
		return err
	}
	defer db.Close()
	// bbolt trusts its pages once the meta page checks out; a damaged
	// page panics in the middle of a transaction. Say which file it was
	// (the write transaction is not committed).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, m.path, r)
		}
	}()
	if write {
		return db.Update(fn)
	}
	return db.View(fn)
}

func readVersion(tx *bolt.Tx) (uint64, bool) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0, false
	}
	v := b.Get(keyVersion)
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

func checkVersion(path string, v uint64) error {
	if v > SchemaVersion {
		return fmt.Errorf("%w: %s has schema version %d, this berth reads up to %d; upgrade berth (the file is left as it is)", ErrNewerSchema, path, v, SchemaVersion)
	}
	return nil
}

// openMeta makes sure ROOT/meta.db exists at SchemaVersion, creating it
// (and migrating the pre-engine image metadata) on first use. The common
// case, a current file, costs one read-only open.
func openMeta(root string, timeout time.Duration) (*metaFile, error) {
	m := &metaFile{path: filepath.Join(root, "meta.db"), timeout: timeout}
	if fi, err := os.Stat(m.path); err == nil && fi.Size() > 0 {
		var (
			v  uint64
			ok bool
		)
		err := m.View(func(tx *bolt.Tx) error {
			if v, ok = readVersion(tx); ok {
				m.driver = bytes.Clone(tx.Bucket(bucketMeta).Get(keyDriver))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if ok {
			if err := checkVersion(m.path, v); err != nil {
				return nil, err
			}
			if v == SchemaVersion {
				return m, nil
			}
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open metadata: %w", err)
	}
	legacy := filepath.Join(root, "image", "meta.db")
	migrated := false
	err := m.Update(func(tx *bolt.Tx) error {
		// Checked again under the writer's lock: another process may
		// have set the file up since the read above.
		v, ok := readVersion(tx)
		if ok {
			if err := checkVersion(m.path, v); err != nil {
				return err
			}
			if v == SchemaVersion {
				return nil
			}
			// Older versions: their upgrades go here.
		} else if err := tx.ForEach(func([]byte, *bolt.Bucket) error { return errNotOurs }); err != nil {
			return fmt.Errorf("%s holds bbolt buckets but no berth schema version: not a berth metadata file (left as it is)", m.path)
		}
		for _, b := range schemaBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		if _, err := os.Stat(legacy); err == nil {
			if err := migrateLegacy(tx, legacy, timeout); err != nil {
				return err
			}
			migrated = true
		}
		var ver [8]byte
		binary.BigEndian.PutUint64(ver[:], SchemaVersion)
		return tx.Bucket(bucketMeta).Put(keyVersion, ver[:])
	})
	if err != nil {
		return nil, err
	}
	if migrated {
		// Committed: the old file is kept as a backup, renamed so that it
		// is not migrated twice.
		if err := os.Rename(legacy, legacy+".migrated"); err != nil {
			return nil, fmt.Errorf("migrate image metadata: %w", err)
		}
	}
	return m, nil
}

// migrateLegacy copies every bucket of the pre-engine image metadata
// (images and names) into tx, image records in the compact form.
func migrateLegacy(tx *bolt.Tx, path string, timeout time.Duration) error {
	old, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("migrate image metadata %s: %w", path, err)
	}
	defer old.Close()
	return old.View(func(otx *bolt.Tx) error {
		return otx.ForEach(func(name []byte, ob *bolt.Bucket) error {
			nb, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return fmt.Errorf("migrate bucket %s: %w", name, err)
			}
			return ob.ForEach(func(k, v []byte) error {
				if v == nil {
					return nil // nested buckets: the old layout has none
				}
				// bbolt keeps what Put gets until commit, and the old
				// file's pages are unmapped before that: copy.
				v = bytes.Clone(v)
				if string(name) == "images" {
					var err error
					if v, err = store.CompactRecord(v); err != nil {
						return fmt.Errorf("migrate image %s: %w", k, err)
					}
				}
				return nb.Put(bytes.Clone(k), v)
			})
		})
	})
}
