package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NewNetNS makes a network namespace and binds it at path (a file that
// must not exist), with its loopback up. The namespace lives until
// RemoveNetNS, whatever happens to the process that made it.
func NewNetNS(path string) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			unix.Unmount(path, unix.MNT_DETACH)
			os.Remove(path)
		}
	}()
	errc := make(chan error, 1)
	go func() {
		// The thread enters the new namespace and is never unlocked:
		// when this goroutine ends, the Go runtime ends the thread with
		// it instead of handing it, in the wrong namespace, to others.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns: unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("netns: bind %s: %w", path, err)
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			errc <- fmt.Errorf("netns: loopback up: %w", err)
			return
		}
		// No IPv6 duplicate address detection on the links the plugins
		// make or move here: it would hold a fresh address tentative
		// (unusable) for 1-2 s, and macvlan and ipvlan (plugins 1.1.1)
		// wait that out in every ADD. The addresses come from one IPAM,
		// which gives none twice. This thread is in the new namespace,
		// so /proc/sys/net is its own. No IPv6 in the kernel: nothing
		// to turn off.
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/default/accept_dad", []byte("0"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			errc <- fmt.Errorf("netns: turn off IPv6 duplicate address detection: %w", err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// RemoveNetNS unbinds and removes a namespace NewNetNS made; the kernel
// frees it, and the links in it, when nothing else holds it. A path that
// is gone is no error.
func RemoveNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns: unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns: %w", err)
	}
	return nil
}

// IsNetNS says whether path is a bound network namespace.
func IsNetNS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}
