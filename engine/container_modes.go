package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/spec"
)

// resolveModes sets the namespaces of so from the flags as given:
// container:NAME becomes that running container's namespace file.
func (e *Engine) resolveModes(so *spec.Options, m NamespaceModes) error {
	for _, f := range []struct {
		flag, mode, kind string
		ns               *spec.Namespace
	}{
		{"--pid", m.PID, "pid", &so.PID},
		{"--ipc", m.IPC, "ipc", &so.IPC},
		{"--uts", m.UTS, "uts", &so.UTS},
		{"--network", m.Network, "net", &so.Network},
	} {
		ns, err := e.resolveMode(f.flag, f.mode, f.kind, so)
		if err != nil {
			return err
		}
		*f.ns = ns
	}
	if m.Cgroup != "" {
		if m.Cgroup != "host" && m.Cgroup != "private" {
			return fmt.Errorf("invalid --cgroupns %q: want host or private", m.Cgroup)
		}
		ns, err := spec.ParseNamespace("--cgroupns", m.Cgroup)
		if err != nil {
			return err
		}
		so.CgroupNS = &ns
	}
	return nil
}

func (e *Engine) resolveMode(flag, mode, kind string, so *spec.Options) (spec.Namespace, error) {
	if flag == "--network" {
		switch mode {
		case "", "none", "host":
		default:
			if cniNetwork(mode) {
				// A CNI network: the container's own namespace, made at
				// each start (setupNetwork).
				return spec.Namespace{Mode: spec.NSPath, Path: e.netnsPath(so.ContainerID), Owned: true}, nil
			}
		}
	}
	if flag == "--ipc" && mode == "shareable" {
		// Others may join: its /dev/shm lives on the host, where they can
		// bind it too (a mount inside its own namespace cannot be).
		so.ShmPath = e.shmDir(so.ContainerID)
	}
	ref, ok := strings.CutPrefix(mode, "container:")
	if !ok {
		if strings.HasPrefix(mode, "ns:") {
			return spec.Namespace{}, fmt.Errorf("invalid %s %q: want host, private or container:NAME", flag, mode)
		}
		return spec.ParseNamespace(flag, mode)
	}
	c, err := e.LookupContainer(ref)
	if err != nil {
		return spec.Namespace{}, fmt.Errorf("%s: %w", flag, err)
	}
	if c.State != StateRunning || c.PID <= 0 {
		return spec.Namespace{}, fmt.Errorf("%s: cannot join the namespace of container %s: it is not running", flag, ref)
	}
	proc := "/proc/" + strconv.Itoa(c.PID)
	if kind == "net" && ownsNetNS(&c) {
		// It holds c's namespace past c's run: c's teardown must then
		// remove c's links itself (teardownNetworkState).
		if err := os.WriteFile(e.netnsPath(c.ID)+sharedSuffix, nil, 0o600); err != nil {
			return spec.Namespace{}, fmt.Errorf("%s: %w", flag, err)
		}
	}
	if kind == "ipc" {
		// Docker binds the other container's /dev/shm too, which is why
		// only a shareable one can be joined.
		switch c.Modes.IPC {
		case "shareable":
			so.ShmPath = e.shmDir(c.ID)
		case "host":
			so.ShmPath = "/dev/shm"
		default:
			return spec.Namespace{}, fmt.Errorf("--ipc: cannot join the IPC namespace of container %s: it is not shareable (create it with --ipc shareable)", ref)
		}
	}
	return spec.Namespace{Mode: spec.NSPath, Path: proc + "/ns/" + kind}, nil
}

// shmDir is the host side of a shareable container's /dev/shm.
func (e *Engine) shmDir(id string) string { return filepath.Join(e.ctrRunDir(id), "shm") }

// mountShm mounts a shareable container's /dev/shm on the host (once).
func (e *Engine) mountShm(c *Container) error {
	if c.Modes.IPC != "shareable" {
		return nil
	}
	dir := e.shmDir(c.ID)
	if mounted(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("shm: %w", err)
	}
	size := c.Options.ShmSize
	if size <= 0 {
		size = 64 << 20
	}
	opts := fmt.Sprintf("mode=1777,size=%d", size)
	if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("shm: mount %s: %w", dir, err)
	}
	return nil
}

// unmountShm undoes mountShm.
func (e *Engine) unmountShm(c *Container) {
	if c.Modes.IPC == "shareable" {
		unix.Unmount(e.shmDir(c.ID), unix.MNT_DETACH)
		os.Remove(e.shmDir(c.ID))
	}
}
