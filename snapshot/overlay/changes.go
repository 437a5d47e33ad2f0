package overlay

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot/archive"
)

// ErrNeedsFullDiff: the upper dir holds what only its lower layers explain
// (a renamed directory's redirect, a metadata-only copy-up): reading the
// upper dir alone cannot say what changed, so the caller must compare the
// whole trees.
var ErrNeedsFullDiff = errors.New("overlay upper dir has redirects or metacopy files")

// Changes reads what the upper dir of an overlay (unmounted or not)
// changed against its lowers: every entry of it is new or changed, a 0:0
// character device is a deletion and trusted.overlay.opaque marks a
// directory that hides the lowers. Every name of a multiply-linked file is
// in the upper dir, so hardlinks stay whole.
func Changes(upper string) ([]archive.Change, error) {
	var out []archive.Change
	err := walkUpper(upper, "", &out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func walkUpper(upper, rel string, out *[]archive.Change) error {
	entries, err := os.ReadDir(filepath.Join(upper, rel))
	if err != nil {
		return fmt.Errorf("read upper dir: %w", err)
	}
	for _, e := range entries {
		r := path.Join(rel, e.Name())
		p := filepath.Join(upper, r)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("read upper dir: %w", err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			*out = append(*out, archive.Change{Path: r, Kind: archive.ChangeDelete})
			continue
		}
		for _, x := range []string{"trusted.overlay.redirect", "trusted.overlay.metacopy"} {
			if _, err := unix.Lgetxattr(p, x, nil); err == nil {
				return fmt.Errorf("%s: %w", r, ErrNeedsFullDiff)
			}
		}
		c := archive.Change{Path: r, Kind: archive.ChangeAdd}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			c.Opaque = IsOpaque(p)
			*out = append(*out, c)
			if err := walkUpper(upper, r, out); err != nil {
				return err
			}
			continue
		}
		*out = append(*out, c)
	}
	return nil
}

// IsOpaque tells whether the layer directory p hides the layers below it.
func IsOpaque(p string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}
