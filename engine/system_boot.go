package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/cgroups"
)

// BootResult is what Boot did.
type BootResult struct {
	Started []Container // brought back by their restart policy
	Errors  []error     // containers that could not be cleaned or started
}

// Boot is `berth system boot`, run once by a boot unit after the host
// came up: what the last boot left is cleaned (mounts under the roots,
// cgroups and runtime state of containers that no longer run, the run
// root's records, which Open's reconcile has squared already), then the
// containers whose policy says so are started again: always ones that had
// been started before, unless-stopped ones unless the user had stopped
// them. The others stay exited. Containers still running (Boot run a
// second time, or on a host that did not reboot) are left alone.
func (e *Engine) Boot(ctx context.Context) (BootResult, error) {
	var res BootResult
	var all []Container
	err := e.meta.View(func(tx *bolt.Tx) error {
		return forEachContainer(tx, func(c *Container) error {
			all = append(all, *c)
			return nil
		})
	})
	if err != nil {
		return res, fmt.Errorf("boot: %w", err)
	}
	var settled []Container
	for i := range all {
		if e.settle(&all[i]) {
			settled = append(settled, all[i])
		}
	}
	if len(settled) > 0 {
		if err := e.persistSettled(settled); err != nil {
			return res, fmt.Errorf("boot: %w", err)
		}
	}
	live := map[string]bool{}
	for _, c := range all {
		if c.State == StateRunning || c.State == StateRestarting {
			live[c.ID] = true
			continue
		}
		if err := e.cleanDead(ctx, c); err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("clean container %s: %w", shortID(c.ID), err))
		}
	}
	if err := e.unmountStale(live); err != nil {
		res.Errors = append(res.Errors, err)
	}
	// Containers that join another's namespaces come after the others.
	slices.SortStableFunc(all, func(a, b Container) int {
		ja, jb := joinsContainer(a.Modes), joinsContainer(b.Modes)
		switch {
		case ja == jb:
			return a.Created.Compare(b.Created)
		case ja:
			return 1
		}
		return -1
	})
	for _, c := range all {
		if live[c.ID] || c.Started.IsZero() || !c.bootRestart() {
			continue
		}
		sc, err := e.StartContainer(ctx, c.ID, StartOptions{})
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("start container %s: %w", c.Name, err))
			continue
		}
		res.Started = append(res.Started, sc)
	}
	return res, nil
}

// bootRestart is Docker's choice at daemon start, as the issue narrows
// it: always and unless-stopped (not stopped by the user) come back;
// on-failure ones stay exited, since a reboot is no failure of theirs.
func (c *Container) bootRestart() bool {
	switch c.RestartPolicy.Name {
	case RestartAlways:
		return true
	case RestartUnlessStopped:
		return !c.Restart.ManuallyStopped
	}
	return false
}

// cleanDead releases what a container that no longer runs may still hold
// from before the reboot: network, runtime state, mounts, cgroups.
func (e *Engine) cleanDead(ctx context.Context, c Container) error {
	lock, err := e.lockContainer(c.ID)
	if err != nil {
		return err
	}
	defer lock.Release()
	if cur, err := e.GetContainer(c.ID); err != nil || (cur.State != StateCreated && cur.State != StateStopped) {
		return nil // removed or started meanwhile
	}
	var errs []error
	// Its veths, rules and leases, if its exit command never ran.
	if err := e.releaseNetwork(ctx, c.ID); err != nil {
		errs = append(errs, err)
	}
	if rt, err := e.ociRuntime(&c); err == nil {
		// The runtime's state may be gone with the run root: then its
		// cgroups are removed below.
		rt.Delete(ctx, c.ID, true)
	}
	e.unmountShm(&c)
	if err := unmountRootfs(e.rootfsDir(c.ID)); err != nil {
		errs = append(errs, err)
	}
	if err := destroyCgroup(e.bundleDir(c.ID), c.ID); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []string{"exit", "attach", "console.sock", "pid"} {
		os.Remove(filepath.Join(e.ctrRunDir(c.ID), f))
	}
	removeRunFile(e, c.ID)
	return errors.Join(errs...)
}

// destroyCgroup removes the cgroup the container's spec names (runtime
// delete does it when it still knows the container).
func destroyCgroup(bundle, id string) error {
	s, err := readSpec(bundle)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no spec: the create never got so far
	}
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	path := ""
	if s.Linux != nil {
		path = s.Linux.CgroupsPath
	}
	m, err := cgroups.Open(path, id)
	if err != nil {
		return err
	}
	if err := m.Destroy(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// unmountStale unmounts what is mounted under the container dirs of the
// roots for containers that do not run (live), deepest first.
func (e *Engine) unmountStale(live map[string]bool) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	ctrs := filepath.Join(e.root, "containers") + "/"
	runs := filepath.Join(e.runRoot, "c") + "/"
	var stale []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		var key string
		switch {
		case strings.HasPrefix(mp, ctrs):
			key, _, _ = strings.Cut(strings.TrimPrefix(mp, ctrs), "/")
		case strings.HasPrefix(mp, runs):
			key, _, _ = strings.Cut(strings.TrimPrefix(mp, runs), "/")
		default:
			continue
		}
		running := false
		for id := range live {
			if id == key || shortID(id) == key {
				running = true
			}
		}
		if !running {
			stale = append(stale, mp)
		}
	}
	// Deepest first; a path mounted twice is unmounted as often.
	slices.SortFunc(stale, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var errs []error
	for _, mp := range stale {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, d := range s[i+1 : i+4] {
				if d < '0' || d > '7' {
					ok = false
					break
				}
				v = v*8 + byte(d-'0')
			}
			if ok {
				out = append(out, v)
				i += 3
				continue
			}
		}
		out = append(out, s[i])
	}
	return string(out)
}
