// Package snapshot keeps image layers unpacked on disk: each layer once,
// keyed by its diffID, read-only and shared by every image that has it.
// The layer directories are overlayfs layer dirs (whiteouts as 0:0 char
// devices, opaque dirs as xattrs), so a layer's directory depends on its
// own content only and never on its parents; snapshot/overlay stacks them.
package snapshot

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

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/snapshot/archive"
)

// Store is the set of unpacked layers under one directory.
type Store struct {
	dir string
}

// Open opens (creating) the layer store in dir.
func Open(dir string) (*Store, error) {
	for _, d := range []string{filepath.Join(dir, "layers"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open snapshot store: %w", err)
		}
	}
	return &Store{dir: dir}, nil
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

// Path is where the layer with this diffID lives (whether it exists or not).
func (s *Store) Path(diffID v1.Hash) string {
	return filepath.Join(s.dir, "layers", diffID.Hex)
}

// Has tells whether the layer is unpacked.
func (s *Store) Has(diffID v1.Hash) bool {
	if checkDiffID(diffID) != nil {
		return false
	}
	fi, err := os.Lstat(s.Path(diffID))
	return err == nil && fi.IsDir()
}

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
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), diffID.Hex[:12]+"-")
	if err != nil {
		return fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	defer os.RemoveAll(tmp) // empty after a successful rename
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	h := sha256.New()
	if err := archive.Apply(io.TeeReader(r, h), tmp, archive.Options{Whiteouts: archive.WhiteoutOverlay}); err != nil {
		return fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	if err := checkHash(h, diffID); err != nil {
		return fmt.Errorf("unpack layer %s: %w", diffID, err)
	}
	if verify != nil {
		if err := verify(); err != nil {
			return fmt.Errorf("unpack layer %s: %w", diffID, err)
		}
	}
	if err := os.Rename(tmp, s.Path(diffID)); err != nil {
		if s.Has(diffID) {
			return nil
		}
		return fmt.Errorf("commit layer %s: %w", diffID, err)
	}
	return nil
}

func checkHash(h hash.Hash, want v1.Hash) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex {
		return fmt.Errorf("content is sha256:%s, expected %s", got, want)
	}
	return nil
}

// List returns the diffIDs of all unpacked layers.
func (s *Store) List() ([]v1.Hash, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "layers"))
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	var out []v1.Hash
	for _, e := range entries {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if checkDiffID(h) == nil {
			out = append(out, h)
		}
	}
	return out, nil
}

// Remove deletes an unpacked layer. It renames it out of the way first so
// that a half-removed layer is never taken for a whole one.
func (s *Store) Remove(diffID v1.Hash) error {
	if err := checkDiffID(diffID); err != nil {
		return err
	}
	trash, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "rm-")
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", diffID, err)
	}
	if err := os.Rename(s.Path(diffID), filepath.Join(trash, "layer")); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(trash)
		return fmt.Errorf("remove layer %s: %w", diffID, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove layer %s: %w", diffID, err)
	}
	return nil
}

// CleanTmp removes what interrupted unpacks and removals left. Only call
// it when no other process can be unpacking (the engine root's exclusive
// lock is held).
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
	return errors.Join(errs...)
}

// LowerDirs returns the layer dirs for an image's diffIDs (bottom first,
// as in the image config) in overlayfs lowerdir order (topmost first).
func (s *Store) LowerDirs(diffIDs []v1.Hash) ([]string, error) {
	out := make([]string, 0, len(diffIDs))
	for i := len(diffIDs) - 1; i >= 0; i-- {
		if !s.Has(diffIDs[i]) {
			return nil, fmt.Errorf("layer %s is not unpacked", diffIDs[i])
		}
		out = append(out, s.Path(diffIDs[i]))
	}
	return out, nil
}
