// Package store is the engine's image store: a content-addressed blob
// store (manifests, configs, compressed layers) and the metadata that
// names images, under the engine root:
//
//	ROOT/image/blobs/sha256/HEX  committed blobs (renamed into place once verified)
//	ROOT/image/tmp/              blobs being written
//	ROOT/image/locks/HEX.lock    per-blob locks: one process fetches a blob at a time
//	ROOT/snapshots/              unpacked layers (package snapshot)
//
// The image records live in two bbolt buckets, images and names, of a
// metadata file the caller provides (Options.Meta): the engine gives its
// one versioned file (package engine). Open alone, for tools and the
// tests of the packages below the engine, keeps them where they were
// before the engine existed, in ROOT/image/meta.db, and holds ROOT/lock
// shared as those versions did.
//
// Several berth processes share the root: metadata transactions are
// short, blobs and layers are renamed into place only when verified, and
// every method that finds content to reuse or writes it first pins it
// (Options.Pin) so that a concurrent garbage collection keeps it until
// the image that uses it is recorded.
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/flock"
)

// DefaultRoot is the engine root when neither --root nor BERTH_ROOT is set.
const DefaultRoot = "/var/lib/berth"

// ErrNotFound is wrapped by lookups of images that are not in the store.
var ErrNotFound = errors.New("no such image")

// Meta runs one metadata transaction on the file that holds the images
// and names buckets; each call is short (a bbolt file is locked for as
// long as a process has it open).
type Meta interface {
	View(fn func(*bolt.Tx) error) error
	Update(fn func(*bolt.Tx) error) error
}

// Kind says what a pinned digest names.
type Kind int

const (
	KindBlob  Kind = iota // a blob digest
	KindLayer             // a layer diffID (an unpacked snapshot)
)

// Options configure a store opened by the engine.
type Options struct {
	// Meta holds the images and names buckets.
	Meta Meta
	// Pin, if set, is called before content is looked for or written, so
	// that garbage collection keeps it until the caller is done (the
	// engine records a lease). An error aborts the operation.
	Pin func(Kind, v1.Hash) error
	// InUse, if set, is asked inside the removing transaction whether an
	// image may lose its record; an error names what uses it.
	InUse func(tx *bolt.Tx, id v1.Hash) error
}

// Store is the image store of one engine root.
type Store struct {
	root  string
	lock  *flock.Lock // standalone Open only
	meta  Meta
	pin   func(Kind, v1.Hash) error
	inUse func(*bolt.Tx, v1.Hash) error
	snaps *snapshot.Store
	// tmp is held shared by every writer in this process for as long as
	// it has something in a tmp dir; cleaning takes it exclusive without
	// waiting (other processes: the root's lock, held by the caller).
	tmp *sync.RWMutex
	// compact: image records in the binary form (record.go); JSON for a
	// standalone store, as older berth binaries read.
	compact bool
	// qualify maps a short name to the default registry's name for it
	// (registry.Config.Qualify); nil when Docker Hub is the default.
	qualify func(string) string
}

// SetShortNames makes lookups of a short name ("busybox") that no local
// name matches try qualify(name) as well, the name a pull from the
// configured default registry stores it under. Tag names are qualified
// the same way, as Docker qualifies them with docker.io.
func (s *Store) SetShortNames(qualify func(string) string) { s.qualify = qualify }

// OpenWith opens (creating) the image directories under root with the
// metadata and pins the engine provides. The caller owns the root's
// locks and cleans what killed processes left (CleanTmp).
func OpenWith(root string, opts Options) (*Store, error) {
	if opts.Meta == nil {
		return nil, errors.New("open image store: no metadata")
	}
	for _, d := range []string{"image/blobs/sha256", "image/tmp", "image/locks"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	snaps, err := snapshot.Open(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
	return &Store{root: root, meta: opts.Meta, pin: opts.Pin, inUse: opts.InUse, snaps: snaps, tmp: new(sync.RWMutex), compact: true}, nil
}

// WithPin is a view of s whose pins go to pin (one lease per operation of
// a long-lived process); it shares everything else with s.
func (s *Store) WithPin(pin func(Kind, v1.Hash) error) *Store {
	c := *s
	c.lock = nil
	c.pin = pin
	return &c
}

// Open opens (creating) a standalone store under root, with its metadata
// in ROOT/image/meta.db and no pins; it holds ROOT/lock shared until
// Close and cleans tmp/ when it is alone. The engine uses OpenWith.
func Open(root string) (*Store, error) {
	s, err := OpenWith(root, Options{Meta: LegacyMeta(root)})
	if err != nil {
		return nil, err
	}
	lock, err := flock.Acquire(filepath.Join(root, "lock"), false)
	if err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	s.lock = lock
	s.compact = false
	// Alone? Then whatever sits in tmp/ was left by a killed process.
	if ok, err := lock.TryUpgrade(); err != nil {
		lock.Release()
		return nil, err
	} else if ok {
		err := s.cleanTmp()
		if derr := lock.Downgrade(); derr != nil {
			lock.Release()
			return nil, derr
		}
		if err != nil {
			lock.Release()
			return nil, err
		}
	}
	return s, nil
}

// Close releases the root (a standalone store's lock; nothing otherwise).
func (s *Store) Close() error { return s.lock.Release() }

func (s *Store) pinned(k Kind, h v1.Hash) error {
	if s.pin == nil {
		return nil
	}
	return s.pin(k, h)
}

// Root is the engine root directory.
func (s *Store) Root() string { return s.root }

// Snapshots is the layer store of this root.
func (s *Store) Snapshots() *snapshot.Store { return s.snaps }

// CleanTmp removes what killed processes left in the tmp dirs, unless
// this process is writing there (then ok is false). Only call it when no
// other process can be writing (the caller is alone in the root).
func (s *Store) CleanTmp() (ok bool, err error) {
	if !s.tmp.TryLock() {
		return false, nil
	}
	defer s.tmp.Unlock()
	return true, s.cleanTmp()
}

func (s *Store) cleanTmp() error {
	dir := filepath.Join(s.root, "image", "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean image tmp: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clean image tmp: %w", err)
		}
	}
	return s.snaps.CleanTmp()
}

func checkDigest(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("unsupported digest %q (only sha256)", h)
	}
	if _, err := hex.DecodeString(h.Hex); err != nil {
		return fmt.Errorf("invalid digest %q", h)
	}
	return nil
}

// BlobPath is where the blob with digest h lives.
func (s *Store) BlobPath(h v1.Hash) string {
	return filepath.Join(s.root, "image", "blobs", "sha256", h.Hex)
}

// HasBlob tells whether the blob is committed. It pins the blob first: a
// caller that finds it goes on to use it.
func (s *Store) HasBlob(h v1.Hash) bool {
	if checkDigest(h) != nil {
		return false
	}
	if s.pinned(KindBlob, h) != nil {
		return false
	}
	_, err := os.Stat(s.BlobPath(h))
	return err == nil
}

// OpenBlob opens a committed blob.
func (s *Store) OpenBlob(h v1.Hash) (*os.File, error) {
	if err := checkDigest(h); err != nil {
		return nil, err
	}
	f, err := os.Open(s.BlobPath(h))
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", h, err)
	}
	return f, nil
}

// maxMetaBlob bounds manifests and configs read whole into memory.
const maxMetaBlob = 8 << 20

// ReadBlob reads a small blob (manifest, index, config) whole.
func (s *Store) ReadBlob(h v1.Hash) ([]byte, error) {
	f, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaBlob+1))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	if len(b) > maxMetaBlob {
		return nil, fmt.Errorf("read blob %s: larger than %d bytes", h, maxMetaBlob)
	}
	return b, nil
}

// LockBlob takes the per-blob lock, so that two processes pulling the same
// layer download it once: the second waits, then finds it committed.
func (s *Store) LockBlob(h v1.Hash) (*flock.Lock, error) {
	if err := checkDigest(h); err != nil {
		return nil, err
	}
	if err := s.pinned(KindBlob, h); err != nil {
		return nil, err
	}
	path := filepath.Join(s.root, "image", "locks", h.Hex+".lock")
	// GC removes the lock file of a blob it removes (holding the lock): a
	// lock taken on a file that is no longer at path locks nothing, so
	// take it again on the new one.
	for {
		l, err := flock.Acquire(path, true)
		if err != nil {
			return nil, err
		}
		if l.At(path) {
			return l, nil
		}
		l.Release()
	}
}

// HasLayer tells whether the layer is unpacked, pinning it first.
func (s *Store) HasLayer(diffID v1.Hash) bool {
	if s.pinned(KindLayer, diffID) != nil {
		return false
	}
	return s.snaps.Has(diffID)
}

// UnpackLayer is snapshot.Store.Unpack with the layer pinned first.
func (s *Store) UnpackLayer(diffID v1.Hash, r io.Reader, verify func() error) error {
	if err := s.pinned(KindLayer, diffID); err != nil {
		return err
	}
	s.tmp.RLock()
	defer s.tmp.RUnlock()
	return s.snaps.Unpack(diffID, r, verify)
}

// BlobWriter streams a blob into tmp/ and commits it under its digest.
type BlobWriter struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

// NewBlobWriter starts writing a blob.
func (s *Store) NewBlobWriter() (*BlobWriter, error) {
	s.tmp.RLock()
	f, err := os.CreateTemp(filepath.Join(s.root, "image", "tmp"), "blob-")
	if err != nil {
		s.tmp.RUnlock()
		return nil, fmt.Errorf("write blob: %w", err)
	}
	return &BlobWriter{s: s, f: f, h: sha256.New()}, nil
}

func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Digest is the digest of what was written so far.
func (w *BlobWriter) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Size is the number of bytes written so far.
func (w *BlobWriter) Size() int64 { return w.n }

// Commit checks the content against want (and size, when size >= 0) and
// renames the blob into place.
func (w *BlobWriter) Commit(want v1.Hash, size int64) error {
	if w.done {
		return errors.New("blob writer already closed")
	}
	defer w.Abort()
	if err := checkDigest(want); err != nil {
		return err
	}
	if err := w.s.pinned(KindBlob, want); err != nil {
		return err
	}
	if got := w.Digest(); got != want {
		return fmt.Errorf("blob digest mismatch: content is %s, expected %s", got, want)
	}
	if size >= 0 && w.n != size {
		return fmt.Errorf("blob %s: size mismatch: got %d bytes, expected %d", want, w.n, size)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("write blob %s: %w", want, err)
	}
	if err := w.f.Chmod(0o444); err != nil {
		return fmt.Errorf("write blob %s: %w", want, err)
	}
	if err := os.Rename(w.f.Name(), w.s.BlobPath(want)); err != nil {
		return fmt.Errorf("commit blob %s: %w", want, err)
	}
	return nil
}

// Abort drops an uncommitted blob; harmless after Commit.
func (w *BlobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
	w.s.tmp.RUnlock()
}

// WriteBlob stores r as the blob want, verifying it.
func (s *Store) WriteBlob(want v1.Hash, size int64, r io.Reader) error {
	if err := checkDigest(want); err != nil {
		return err
	}
	if s.HasBlob(want) {
		return nil
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("write blob %s: %w", want, err)
	}
	return w.Commit(want, size)
}

// PutBlob stores a small in-memory blob and returns its digest.
func (s *Store) PutBlob(b []byte) (v1.Hash, error) {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	return h, s.WriteBlob(h, int64(len(b)), strings.NewReader(string(b)))
}

// dbTimeout bounds the wait for another process's metadata transaction;
// they are all short, so a long wait means something is stuck.
const dbTimeout = 30 * time.Second

// LegacyMeta is the metadata file of a store before the engine existed,
// ROOT/image/meta.db, opened for one transaction at a time.
func LegacyMeta(root string) Meta { return legacyMeta(filepath.Join(root, "image", "meta.db")) }

type legacyMeta string

func (m legacyMeta) View(fn func(*bolt.Tx) error) error   { return m.tx(false, fn) }
func (m legacyMeta) Update(fn func(*bolt.Tx) error) error { return m.tx(true, fn) }

func (m legacyMeta) tx(write bool, fn func(*bolt.Tx) error) error {
	db, err := bolt.Open(string(m), 0o600, &bolt.Options{Timeout: dbTimeout})
	if err != nil {
		return fmt.Errorf("open image metadata: %w", err)
	}
	defer db.Close()
	if write {
		return db.Update(fn)
	}
	return db.View(fn)
}

func (s *Store) db(write bool, fn func(*bolt.Tx) error) error {
	if write {
		return s.meta.Update(fn)
	}
	return s.meta.View(fn)
}
