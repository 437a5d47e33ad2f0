// Package overlay stacks read-only layer directories (from package
// snapshot) under a per-container upper dir with overlayfs.
package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxOptions: mount(2) passes options in one page.
const maxOptions = 4095

// Mount mounts an overlay at target: lowers (topmost first) under upper,
// with work as overlayfs's work dir (same filesystem as upper).
func Mount(lowers []string, upper, work, target string) error {
	if len(lowers) == 0 {
		return errors.New("overlay mount: no lower layers")
	}
	for _, p := range append(append([]string{}, lowers...), upper, work, target) {
		// ':' and ',' separate overlayfs options; such paths would change
		// what is mounted.
		if strings.ContainsAny(p, ":,") {
			return fmt.Errorf("overlay mount: path %q contains ':' or ','", p)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), upper, work)
	if len(opts) > maxOptions {
		return fmt.Errorf("overlay mount: %d layers make %d bytes of mount options (max %d)", len(lowers), len(opts), maxOptions)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay mount on %s: %w", target, err)
	}
	return nil
}

// Unmount unmounts target; not mounted is not an error.
func Unmount(target string) error {
	err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}

// Rootfs is a container's writable root: DIR/upper, DIR/work, DIR/merged.
type Rootfs struct {
	Dir string
}

// Upper is where the container's changes go.
func (r Rootfs) Upper() string { return filepath.Join(r.Dir, "upper") }

// Merged is the mounted root file system.
func (r Rootfs) Merged() string { return filepath.Join(r.Dir, "merged") }

func (r Rootfs) work() string { return filepath.Join(r.Dir, "work") }

// Prepare makes dir's upper, work and merged dirs and mounts the layers
// (topmost first) on merged.
func Prepare(dir string, lowers []string) (Rootfs, error) {
	r := Rootfs{Dir: dir}
	for _, d := range []string{r.Upper(), r.work(), r.Merged()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return r, fmt.Errorf("prepare rootfs %s: %w", dir, err)
		}
	}
	if err := Mount(lowers, r.Upper(), r.work(), r.Merged()); err != nil {
		return r, fmt.Errorf("prepare rootfs %s: %w", dir, err)
	}
	return r, nil
}

// Unmount unmounts the merged dir; the upper dir is kept.
func (r Rootfs) Unmount() error { return Unmount(r.Merged()) }

// Remove unmounts and deletes the rootfs with the container's changes.
func (r Rootfs) Remove() error {
	if err := r.Unmount(); err != nil {
		return err
	}
	if err := os.RemoveAll(r.Dir); err != nil {
		return fmt.Errorf("remove rootfs %s: %w", r.Dir, err)
	}
	return nil
}
