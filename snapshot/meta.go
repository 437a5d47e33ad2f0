package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The snapshot metadata, ROOT/snapshots/meta.db (bbolt):
//
//	meta       "version" -> schemaVersion
//	layers     diffID -> layerRec: the short id naming layers/ID
//	chains     chainID -> chainRec: a committed snapshot (parent chain + layer)
//	snapshots  key -> snapRec: active and view snapshots, active/ID
//
// The file is opened for one transaction at a time, as the image store's
// is, so that several berth processes share the root: bbolt's own flock
// serializes writers across processes, dbLock within one.
const schemaVersion = 1

var (
	bucketMeta      = []byte("meta")
	bucketLayers    = []byte("layers")
	bucketChains    = []byte("chains")
	bucketSnapshots = []byte("snapshots")
	keyVersion      = []byte("version")
	keyMigrated     = []byte("migrated-diffid-dirs")
)

type layerRec struct {
	ID uint64 `json:"id"`
}

type chainRec struct {
	Parent  string    `json:"parent,omitempty"`
	DiffID  string    `json:"diffID"`
	Created time.Time `json:"created"`
}

type snapRec struct {
	ID      uint64    `json:"id"`
	Kind    Kind      `json:"kind"`
	Parent  string    `json:"parent,omitempty"`
	Driver  string    `json:"driver"`
	Created time.Time `json:"created"`
}

// dbLocks: one lock per metadata file in this process. bbolt's flock would
// serialize two opens of one process as well, but by polling.
var dbLocks sync.Map

func (s *Store) dbLock() *sync.RWMutex {
	l, _ := dbLocks.LoadOrStore(s.dbPath(), &sync.RWMutex{})
	return l.(*sync.RWMutex)
}

func (s *Store) dbPath() string { return filepath.Join(s.dir, "meta.db") }

// db runs fn in one transaction of a freshly opened metadata file.
func (s *Store) db(write bool, fn func(*bolt.Tx) error) error {
	l := s.dbLock()
	if write {
		l.Lock()
		defer l.Unlock()
	} else {
		l.RLock()
		defer l.RUnlock()
	}
	db, err := bolt.Open(s.dbPath(), 0o600, &bolt.Options{ReadOnly: !write})
	if err != nil {
		return fmt.Errorf("open snapshot metadata %s: %w", s.dbPath(), err)
	}
	defer db.Close()
	if write {
		return db.Update(fn)
	}
	return db.View(fn)
}

// initDB makes the buckets and checks the schema version.
func initDB(tx *bolt.Tx) error {
	mb, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if v := mb.Get(keyVersion); v != nil {
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("snapshot metadata version %q: %w", v, err)
		}
		if n > schemaVersion {
			return fmt.Errorf("snapshot metadata has schema version %d; this berth knows up to %d", n, schemaVersion)
		}
	} else if err := mb.Put(keyVersion, []byte(fmt.Sprint(schemaVersion))); err != nil {
		return err
	}
	for _, b := range [][]byte{bucketLayers, bucketChains, bucketSnapshots} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

func checkVersion(tx *bolt.Tx) error {
	mb := tx.Bucket(bucketMeta)
	if mb == nil {
		return errors.New("snapshot metadata has no meta bucket")
	}
	var n int
	if err := json.Unmarshal(mb.Get(keyVersion), &n); err != nil || n > schemaVersion {
		return fmt.Errorf("snapshot metadata %s has schema version %s; this berth knows up to %d", tx.DB().Path(), mb.Get(keyVersion), schemaVersion)
	}
	return nil
}

func get[T any](tx *bolt.Tx, bucket []byte, key string) (*T, error) {
	v := tx.Bucket(bucket).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	var out T
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("snapshot metadata %s/%s: %w", bucket, key, err)
	}
	return &out, nil
}

func put(tx *bolt.Tx, bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), b)
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
