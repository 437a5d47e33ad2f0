package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/snapshot/flock"
)

var (
	bucketImages = []byte("images") // image ID (config digest) → Image JSON
	bucketNames  = []byte("names")  // canonical name:tag → image ID
)

// Layer is one layer of an image.
type Layer struct {
	Digest    v1.Hash `json:"digest"` // compressed blob
	DiffID    v1.Hash `json:"diffID"` // uncompressed tar; keys the snapshot
	Size      int64   `json:"size"`
	MediaType string  `json:"mediaType"`
}

// Image is the store's record of one image, identified like in Docker by
// its config digest.
type Image struct {
	ID                v1.Hash   `json:"id"`
	Manifest          v1.Hash   `json:"manifest"`
	ManifestMediaType string    `json:"manifestMediaType"`
	ManifestSize      int64     `json:"manifestSize"`
	Layers            []Layer   `json:"layers"`
	RepoDigests       []string  `json:"repoDigests,omitempty"` // canonical repo@digest
	Extra             []v1.Hash `json:"extra,omitempty"`       // other blobs to keep (an index pulled from)
	Created           time.Time `json:"created"`               // from the config
	Stored            time.Time `json:"stored"`                // when it came into the store
	// Names is filled in by lookups from the names bucket.
	Names []string `json:"-"`
}

// Size is the sum of the image's compressed layers (what `images` shows as
// Docker does for pulled images).
func (img *Image) Size() int64 {
	var n int64
	for _, l := range img.Layers {
		n += l.Size
	}
	return n
}

// PutImage records img (its blobs and layers must be committed already)
// and points names at it; a name moves from any image that had it.
func (s *Store) PutImage(img Image, names ...string) error {
	if err := checkDigest(img.ID); err != nil {
		return fmt.Errorf("put image: %w", err)
	}
	for _, b := range append([]v1.Hash{img.ID, img.Manifest}, img.Extra...) {
		if !s.HasBlob(b) {
			return fmt.Errorf("put image %s: blob %s missing", img.ID, b)
		}
	}
	for _, l := range img.Layers {
		if !s.HasLayer(l.DiffID) {
			return fmt.Errorf("put image %s: layer %s not unpacked", img.ID, l.DiffID)
		}
	}
	canon := make([]string, 0, len(names))
	for _, n := range names {
		c, err := reference.Normalize(n)
		if err != nil {
			return err
		}
		canon = append(canon, c)
	}
	if img.Stored.IsZero() {
		img.Stored = time.Now().UTC()
	}
	return s.db(true, func(tx *bolt.Tx) error {
		ib, err := tx.CreateBucketIfNotExists(bucketImages)
		if err != nil {
			return err
		}
		nb, err := tx.CreateBucketIfNotExists(bucketNames)
		if err != nil {
			return err
		}
		// Keep repo digests an earlier pull of the same image recorded.
		if old := ib.Get([]byte(img.ID.String())); old != nil {
			if prev, err := decodeImage(old); err == nil {
				img.RepoDigests = union(prev.RepoDigests, img.RepoDigests)
				img.Extra = unionHash(prev.Extra, img.Extra)
				img.Stored = prev.Stored
			}
		}
		b, err := encodeImage(img, s.compact)
		if err != nil {
			return err
		}
		if err := ib.Put([]byte(img.ID.String()), b); err != nil {
			return err
		}
		for _, c := range canon {
			if err := nb.Put([]byte(c), []byte(img.ID.String())); err != nil {
				return err
			}
		}
		return nil
	})
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func unionHash(a, b []v1.Hash) []v1.Hash {
	seen := map[v1.Hash]bool{}
	var out []v1.Hash
	for _, h := range append(append([]v1.Hash{}, a...), b...) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// Images lists all images with their names, newest first.
func (s *Store) Images() ([]Image, error) {
	var out []Image
	err := s.db(false, func(tx *bolt.Tx) error {
		names := namesByID(tx)
		ib := tx.Bucket(bucketImages)
		if ib == nil {
			return nil
		}
		out = make([]Image, 0, ib.Stats().KeyN)
		return ib.ForEach(func(k, v []byte) error {
			img, err := decodeImage(v)
			if err != nil {
				return fmt.Errorf("image record %s: %w", k, err)
			}
			img.Names = names[string(k)]
			out = append(out, img)
			return nil
		})
	})
	// Sort an index, not the records (moving 1,000 records around took
	// longer than reading them); records come in ID order, and ties on
	// the creation time keep it.
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := out[b].Created.Compare(out[a].Created); c != 0 {
			return c
		}
		return a - b
	})
	permute(out, idx)
	return out, err
}

// permute reorders imgs in place so that imgs[i] becomes the old
// imgs[idx[i]], following each cycle of the permutation (idx is used up).
func permute(imgs []Image, idx []int) {
	for i := range idx {
		if idx[i] < 0 {
			continue
		}
		saved, j := imgs[i], i
		for {
			k := idx[j]
			idx[j] = -1
			if k == i {
				imgs[j] = saved
				break
			}
			imgs[j], j = imgs[k], k
		}
	}
}

func namesByID(tx *bolt.Tx) map[string][]string {
	m := map[string][]string{}
	if nb := tx.Bucket(bucketNames); nb != nil {
		nb.ForEach(func(k, v []byte) error {
			m[string(v)] = append(m[string(v)], string(k))
			return nil
		})
	}
	for _, n := range m {
		sort.Strings(n)
	}
	return m
}

// Resolve finds an image by name ("busybox", "reg/app:v1"), by repo
// digest ("busybox@sha256:…"), by full ID ("sha256:…") or by an ID prefix
// of at least 4 hex digits, as Docker does.
func (s *Store) Resolve(ref string) (Image, error) {
	var img Image
	err := s.db(false, func(tx *bolt.Tx) error {
		id, err := s.resolveID(tx, ref)
		if err != nil {
			return err
		}
		v := tx.Bucket(bucketImages).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		rec, err := decodeImage(v)
		if err != nil {
			return fmt.Errorf("image record %s: %w", id, err)
		}
		img = rec
		img.Names = namesByID(tx)[id]
		return nil
	})
	return img, err
}

func (s *Store) resolveID(tx *bolt.Tx, ref string) (string, error) {
	id, err := resolveID(tx, ref)
	if errors.Is(err, ErrNotFound) && s.qualify != nil {
		if q := s.qualify(ref); q != ref {
			if qid, qerr := resolveID(tx, q); qerr == nil {
				return qid, nil
			}
		}
	}
	return id, err
}

func resolveID(tx *bolt.Tx, ref string) (string, error) {
	ib := tx.Bucket(bucketImages)
	if ib == nil {
		return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	hexPart := strings.TrimPrefix(ref, "sha256:")
	if isHex(hexPart) && len(hexPart) >= 4 {
		var match []string
		c := ib.Cursor()
		prefix := []byte("sha256:" + hexPart)
		for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
			match = append(match, string(k))
		}
		if len(match) == 1 {
			return match[0], nil
		}
		if len(match) > 1 {
			return "", fmt.Errorf("image ID prefix %q is ambiguous", ref)
		}
	}
	canon, err := reference.Normalize(ref)
	if err != nil {
		return "", err
	}
	if nb := tx.Bucket(bucketNames); nb != nil {
		if id := nb.Get([]byte(canon)); id != nil {
			return string(id), nil
		}
	}
	if strings.Contains(canon, "@") {
		var found string
		ib.ForEach(func(k, v []byte) error {
			if img, err := decodeImage(v); err == nil {
				for _, d := range img.RepoDigests {
					if d == canon {
						found = string(k)
					}
				}
			}
			return nil
		})
		if found != "" {
			return found, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Tag gives the image that ref resolves to the additional name newName.
func (s *Store) Tag(ref, newName string) error {
	if s.qualify != nil {
		newName = s.qualify(newName)
	}
	canon, err := reference.Normalize(newName)
	if err != nil {
		return err
	}
	if strings.Contains(canon, "@") {
		return fmt.Errorf("tag %s: cannot tag with a digest", newName)
	}
	return s.db(true, func(tx *bolt.Tx) error {
		id, err := s.resolveID(tx, ref)
		if err != nil {
			return err
		}
		nb, err := tx.CreateBucketIfNotExists(bucketNames)
		if err != nil {
			return err
		}
		return nb.Put([]byte(canon), []byte(id))
	})
}

// RemoveResult says what Remove did, in `docker rmi` terms.
type RemoveResult struct {
	Untagged []string
	Deleted  []v1.Hash
}

// Remove is `rmi`: a name loses its tag; the image goes when no name is
// left (or when removed by ID). An image with several names removed by ID
// needs force, as in Docker. Blobs and layers go at the next GC.
func (s *Store) Remove(ref string, force bool) (RemoveResult, error) {
	var res RemoveResult
	err := s.db(true, func(tx *bolt.Tx) error {
		var err error
		res, err = s.removeTx(tx, ref, force)
		return err
	})
	return res, err
}

// RemoveMany is Remove of each ref in turn, in one transaction (one
// commit for the whole command); a ref that fails changes nothing and
// its error is in errs at its index.
func (s *Store) RemoveMany(refs []string, force bool) (res []RemoveResult, errs []error, err error) {
	err = s.db(true, func(tx *bolt.Tx) error {
		res, errs = make([]RemoveResult, len(refs)), make([]error, len(refs))
		for i, ref := range refs {
			res[i], errs[i] = s.removeTx(tx, ref, force)
		}
		return nil
	})
	return res, errs, err
}

// Prune removes, in one transaction, the images without a name (all
// images with all) that nothing uses (Options.InUse), with their names,
// as `image prune` does; their content goes at the next GC.
func (s *Store) Prune(all bool) ([]RemoveResult, error) {
	var out []RemoveResult
	err := s.db(true, func(tx *bolt.Tx) error {
		out = nil
		names := namesByID(tx)
		var ids []string
		if err := tx.Bucket(bucketImages).ForEach(func(k, _ []byte) error {
			if len(names[string(k)]) == 0 || all {
				ids = append(ids, string(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			if s.inUse != nil {
				h, _ := v1.NewHash(id)
				if s.inUse(tx, h) != nil {
					continue
				}
			}
			res, err := s.removeTx(tx, id, true)
			if err != nil {
				return err
			}
			out = append(out, res)
		}
		return nil
	})
	return out, err
}

// removeTx decides everything before it writes, so that a refusal leaves
// the transaction as it was (RemoveMany commits the others).
func (s *Store) removeTx(tx *bolt.Tx, ref string, force bool) (RemoveResult, error) {
	var res RemoveResult
	id, err := s.resolveID(tx, ref)
	if err != nil {
		return res, err
	}
	nb, err := tx.CreateBucketIfNotExists(bucketNames)
	if err != nil {
		return res, err
	}
	names := namesByID(tx)[id]
	canon := s.nameKey(nb, ref)
	byName := canon != ""
	if byName {
		names = append([]string{canon}, remove(names, canon)...)
		if len(names) > 1 {
			// One of several names: only the tag goes.
			res.Untagged = []string{canon}
			return res, nb.Delete([]byte(canon))
		}
	}
	if !byName && len(names) > 1 && !force {
		return res, fmt.Errorf("unable to delete %s (must be forced): image is referenced in multiple repositories", ref)
	}
	h, _ := v1.NewHash(id)
	var busy error
	if s.inUse != nil {
		busy = s.inUse(tx, h)
	}
	if busy != nil && !force {
		if byName {
			// Docker keeps the last name of an image a container uses.
			return res, fmt.Errorf("unable to remove %s (must be forced): %w", ref, busy)
		}
		return res, fmt.Errorf("unable to delete %s (must be forced): %w", ref, busy)
	}
	for _, n := range names {
		if err := nb.Delete([]byte(n)); err != nil {
			return RemoveResult{}, err
		}
		res.Untagged = append(res.Untagged, n)
	}
	if busy != nil {
		// Forced: the names go, the image stays for what uses it.
		return res, nil
	}
	if err := tx.Bucket(bucketImages).Delete([]byte(id)); err != nil {
		return RemoveResult{}, err
	}
	res.Deleted = append(res.Deleted, h)
	return res, nil
}

// nameKey is the key in the names bucket that ref matched: its own
// canonical form, else that of its default-registry qualification; ""
// when ref is no name (an ID).
func (s *Store) nameKey(nb *bolt.Bucket, ref string) string {
	refs := []string{ref}
	if s.qualify != nil {
		refs = append(refs, s.qualify(ref))
	}
	for _, r := range refs {
		if canon, err := reference.Normalize(r); err == nil && nb.Get([]byte(canon)) != nil {
			return canon
		}
	}
	return ""
}

func remove(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// GCResult counts what GC removed.
type GCResult struct {
	Blobs, Layers int
}

// Referenced adds to blobs and layers (keyed by hex digest) the content
// every image record in tx uses.
func Referenced(tx *bolt.Tx, blobs, layers map[string]bool) error {
	ib := tx.Bucket(bucketImages)
	if ib == nil {
		return nil
	}
	return ib.ForEach(func(k, v []byte) error {
		img, err := decodeImage(v)
		if err != nil {
			return fmt.Errorf("image record %s: %w", k, err)
		}
		MarkImage(img, blobs, layers)
		return nil
	})
}

// MarkImage adds img's blobs and layers to the sets.
func MarkImage(img Image, blobs, layers map[string]bool) {
	blobs[img.ID.Hex], blobs[img.Manifest.Hex] = true, true
	for _, e := range img.Extra {
		blobs[e.Hex] = true
	}
	for _, l := range img.Layers {
		blobs[l.Digest.Hex], layers[l.DiffID.Hex] = true, true
	}
}

// Sweep removes the blobs and unpacked layers not in the sets (hex
// digests). The caller holds what keeps every other process from pinning
// content meanwhile (the engine's GC lock) and computed the sets under it.
func (s *Store) Sweep(blobs, layers map[string]bool) (GCResult, error) {
	var res GCResult
	var errs []error
	dir := filepath.Join(s.root, "image", "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	for _, e := range entries {
		if blobs[e.Name()] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		s.dropBlobLock(e.Name())
		res.Blobs++
	}
	diffIDs, err := s.snaps.List()
	if err != nil {
		return res, err
	}
	for _, d := range diffIDs {
		if layers[d.Hex] {
			continue
		}
		if err := s.snaps.Remove(d); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Layers++
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	return res, nil
}

// dropBlobLock removes a removed blob's lock file if no one holds it;
// LockBlob retries on a lock file removed under it.
func (s *Store) dropBlobLock(hex string) {
	path := filepath.Join(s.root, "image", "locks", hex+".lock")
	if _, err := os.Lstat(path); err != nil {
		return
	}
	l, ok, err := flock.TryAcquire(path, true)
	if err != nil || !ok {
		return
	}
	os.Remove(path)
	l.Release()
}
