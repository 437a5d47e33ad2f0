// Package overlay stacks read-only layer directories (from package
// snapshot) under a writable upper dir with overlayfs, and reads what a
// container changed from that upper dir.
package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxOptions: mount(2) passes options in one page.
const maxOptions = 4095

// Method is how Mount hands the layers to the kernel.
type Method int

const (
	// Auto picks Legacy when the options fit in a page, else LowerdirPlus
	// where the kernel has it, else Relative.
	Auto Method = iota
	// Legacy: mount(2) with absolute paths in one option string (about 39
	// layers with full-length paths under a typical root).
	Legacy
	// LowerdirPlus: the new mount API, one fsconfig "lowerdir+" call per
	// layer (Linux 6.8+): no length limit but the kernel's 500 layers.
	LowerdirPlus
	// Relative: mount(2) with lowerdirs relative to their common parent
	// directory, made the working directory of the mounting thread only
	// (the thread unshares its fs_struct first, so the rest of the process
	// keeps its own). Works on every kernel; short layer names make it fit.
	Relative
)

func (m Method) String() string {
	return [...]string{"auto", "legacy", "lowerdir+", "relative"}[m]
}

// Mount mounts an overlay at target: lowers (topmost first) under upper,
// with work as overlayfs's work dir (same filesystem as upper). With upper
// and work empty the overlay is read-only (at least two lowers).
func Mount(lowers []string, upper, work, target string) error {
	return MountWith(Auto, lowers, upper, work, target, false)
}

// MountWith is Mount by the given method; readonly adds MS_RDONLY.
func MountWith(m Method, lowers []string, upper, work, target string, readonly bool) error {
	if len(lowers) == 0 {
		return errors.New("overlay mount: no lower layers")
	}
	if (upper == "") != (work == "") {
		return errors.New("overlay mount: upper and work dirs go together")
	}
	if upper == "" && len(lowers) < 2 {
		return errors.New("overlay mount: a read-only overlay needs two lower layers")
	}
	for _, p := range append(append([]string{}, lowers...), upper, work, target) {
		// ':' and ',' separate overlayfs options; such paths would change
		// what is mounted.
		if strings.ContainsAny(p, ":,") {
			return fmt.Errorf("overlay mount: path %q contains ':' or ','", p)
		}
	}
	abs := make([]string, len(lowers))
	for i, l := range lowers {
		a, err := filepath.Abs(l)
		if err != nil {
			return fmt.Errorf("overlay mount: %w", err)
		}
		abs[i] = a
	}
	var err error
	for _, p := range []*string{&upper, &work, &target} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return fmt.Errorf("overlay mount: %w", err)
			}
		}
	}
	if m == Auto {
		switch {
		case len(options(abs, upper, work)) <= maxOptions:
			m = Legacy
		case LowerdirPlusSupported():
			m = LowerdirPlus
		default:
			m = Relative
		}
	}
	var flags uintptr
	if readonly {
		flags = unix.MS_RDONLY
	}
	switch m {
	case Legacy:
		err = mountLegacy("", abs, upper, work, target, flags)
	case LowerdirPlus:
		err = mountLowerdirPlus(abs, upper, work, target, readonly)
	case Relative:
		dir := filepath.Dir(abs[0])
		rel := make([]string, len(abs))
		for i, a := range abs {
			if filepath.Dir(a) != dir {
				return fmt.Errorf("overlay mount: %d layers need a common parent directory (%s and %s differ)", len(abs), dir, filepath.Dir(a))
			}
			rel[i] = filepath.Base(a)
		}
		err = mountLegacy(dir, rel, upper, work, target, flags)
	default:
		return fmt.Errorf("overlay mount: unknown method %d", m)
	}
	if err != nil {
		return fmt.Errorf("overlay mount on %s (%d layers, %s): %w", target, len(lowers), m, err)
	}
	return nil
}

func options(lowers []string, upper, work string) string {
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	return opts
}

// mountLegacy is mount(2); with dir set it runs on a thread of its own
// whose working directory is dir, so that relative lowers resolve there.
func mountLegacy(dir string, lowers []string, upper, work, target string, flags uintptr) error {
	opts := options(lowers, upper, work)
	if len(opts) > maxOptions {
		return fmt.Errorf("%d bytes of mount options (max %d)", len(opts), maxOptions)
	}
	if dir == "" {
		return unix.Mount("overlay", target, "overlay", flags, opts)
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: this thread's cwd is its own from here on, so
		// the runtime must end the thread with the goroutine rather than
		// reuse it. (New threads are cloned from a template thread while
		// a locked one has changed state, so nothing inherits it.)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare fs: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", dir, err)
			return
		}
		errc <- unix.Mount("overlay", target, "overlay", flags, opts)
	}()
	return <-errc
}

func mountLowerdirPlus(lowers []string, upper, work, target string, readonly bool) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fd)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return fmt.Errorf("fsconfig %s=%s: %w", k, v, err)
		}
		return nil
	}
	for _, l := range lowers {
		if err := set("lowerdir+", l); err != nil {
			return err
		}
	}
	if upper != "" {
		if err := set("upperdir", upper); err != nil {
			return err
		}
		if err := set("workdir", work); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	attrs := 0
	if readonly {
		attrs = unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move mount: %w", err)
	}
	return nil
}

var lowerdirPlus struct {
	once sync.Once
	ok   bool
}

// LowerdirPlusSupported tells whether overlayfs here takes layers one by
// one through fsconfig (Linux 6.8+). Kernels before 6.5 pass fsconfig
// strings through unchecked, so an unknown key must be refused too.
func LowerdirPlusSupported() bool {
	lowerdirPlus.once.Do(func() {
		fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
		if err != nil {
			return
		}
		defer unix.Close(fd)
		if unix.FsconfigSetString(fd, "berth-probe", "x") == nil {
			return // a legacy option buffer: nothing is checked
		}
		lowerdirPlus.ok = unix.FsconfigSetString(fd, "lowerdir+", "/") == nil
	})
	return lowerdirPlus.ok
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
