package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/snapshot/flock"
)

// Intents make a SIGKILL at any point of create, start and rm
// repairable. Before its first side effect such an operation writes
// ROOT/intents/OP-ID holding "PID START BOOT" of the process, and removes
// it after its last. A file whose process is gone (SIGKILL, reboot) marks
// an operation cut short: the next berth process to open the engine
// repairs the container under its lock (repairIntents) and removes the
// file. The directory is empty but for operations in flight, so looking
// costs one readdir per command. (Leases, lease.go, do the same for the
// content a pull or run has found or written; tmp dirs are emptied when
// a process is alone in the root.)
//
// How each operation is repaired:
//   - create: without a record, what the create made goes (its rootfs
//     mount, snapshot ctr-ID, bundle and the volumes it made); with one, a rootfs left mounted
//     for a run's start that never came is unmounted.
//   - start: an init that the runtime created but never started is
//     deleted (it would wait for ever), the record settled and the rootfs
//     of a container that does not run unmounted.
//   - remove: rolled forward: the removal is finished (with its
//     anonymous volumes if it was to remove them), since what it removed
//     first (runtime state, rootfs) cannot be put back.
const (
	opCreate = "create"
	opStart  = "start"
	opRemove = "remove"
	// A commit writes a layer and blobs that only its lease names until
	// the image is recorded; one cut before its lease was written leaves
	// them unnamed: its repair is a collection.
	opCommit = "commit"
	// intentPaused, in a commit's intent: it froze the container.
	intentPaused = "paused"
)

func (e *Engine) intentDir() string { return filepath.Join(e.root, "intents") }

func (e *Engine) intentPath(op, id string) string {
	return filepath.Join(e.intentDir(), op+"-"+id)
}

// intend records that this process is doing op to container id; done
// removes the record.
func (e *Engine) intend(op, id string) (done func(), err error) {
	pid, start, err := self()
	if err != nil {
		return nil, fmt.Errorf("%s container: %w", op, err)
	}
	p := e.intentPath(op, id)
	if err := writeIntent(p, fmt.Sprintf("%d %d %s\n", pid, start, currentBoot())); err != nil {
		return nil, fmt.Errorf("%s container: %w", op, err)
	}
	return func() { os.Remove(p) }, nil
}

// writeIntent replaces an intent file whole (temporary file and rename):
// a reader must never see it empty or cut, which would read as the
// intent of a dead process and have a live operation "repaired".
func writeIntent(p, content string) error {
	tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(p))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// noteIntent adds to an intent what its repair must undo ("volume
// NAME": a volume the create made).
func (e *Engine) noteIntent(op, id string, lines ...string) {
	if len(lines) == 0 {
		return
	}
	p := e.intentPath(op, id)
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	writeIntent(p, string(b)+strings.Join(lines, "\n")+"\n")
}

// unnoteIntent drops what noteIntent added, keeping the owner's line.
func (e *Engine) unnoteIntent(op, id string) {
	p := e.intentPath(op, id)
	if b, err := os.ReadFile(p); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		writeIntent(p, first+"\n")
	}
}

// intentOwnerAlive reads an intent file: is the process that wrote it
// still at work?
func intentOwnerAlive(b []byte) bool {
	first, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(first)
	if len(f) != 3 || f[2] != currentBoot() {
		return false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	return err1 == nil && err2 == nil && alive(pid, start)
}

// repairIntents repairs the operations whose process died. A container
// whose lock stays held is left for later: someone is at work on it.
func (e *Engine) repairIntents(ctx context.Context) error {
	entries, err := os.ReadDir(e.intentDir())
	if err != nil || len(entries) == 0 {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return err
	}
	var errs []error
	for _, ent := range entries {
		op, id, ok := strings.Cut(ent.Name(), "-")
		if !ok || (op != opCreate && op != opStart && op != opRemove && op != opCommit) || !isHexPrefix(id) {
			// .tmp-OP-ID: an intent being written; left by a killed
			// process, it goes after a minute.
			if fi, err := ent.Info(); err == nil && strings.HasPrefix(ent.Name(), ".tmp-") && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(filepath.Join(e.intentDir(), ent.Name()))
			}
			continue
		}
		p := filepath.Join(e.intentDir(), ent.Name())
		b, err := os.ReadFile(p)
		if err != nil || intentOwnerAlive(b) {
			continue
		}
		lock, err := tryLockFor(filepath.Join(e.runRoot, "c", shortID(id)+".lock"), 2*time.Second)
		if err != nil || lock == nil {
			continue
		}
		// Again under the lock: a process may have redone the operation.
		if b, err := os.ReadFile(p); err == nil && !intentOwnerAlive(b) {
			if err := e.repair(ctx, op, id, b); err != nil {
				errs = append(errs, fmt.Errorf("repair interrupted %s of container %s: %w", op, shortID(id), err))
			} else {
				os.Remove(p)
			}
		}
		lock.Release()
	}
	return errors.Join(errs...)
}

// notedVolumes are the volumes an intent names: made by its create, or
// anonymous ones its removal is to remove.
func notedVolumes(intent []byte) []string {
	var out []string
	for _, l := range strings.Split(string(intent), "\n") {
		if name, ok := strings.CutPrefix(l, "volume "); ok && name != "" {
			out = append(out, name)
		}
	}
	return out
}

// tryLockFor takes an exclusive lock, waiting at most d (nil: still
// held by someone else): its holder may be the exit command of the very
// container being repaired, which is quick; one that holds it longer is
// at work on the container and the repair waits for a later command.
func tryLockFor(path string, d time.Duration) (*flock.Lock, error) {
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		l, ok, err := flock.TryAcquire(path, true)
		if err != nil || ok {
			return l, err
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
	}
}

func (e *Engine) repair(ctx context.Context, op, id string, intent []byte) error {
	if op == opCommit {
		e.deadLeases++ // Open collects after the repairs
		if !slices.Contains(strings.Split(string(intent), "\n"), intentPaused) {
			return nil
		}
		// Killed while it had the container frozen.
		if c, err := e.GetContainer(id); err == nil && c.State == StateRunning {
			if rt, err := e.ociRuntime(&c); err == nil {
				rt.Resume(ctx, c.ID)
			}
		}
		return nil
	}
	c, err := e.GetContainer(id)
	if err != nil {
		// No record: a create that never recorded its container, or a
		// removal that got as far as the record.
		if op == opCreate {
			if err := e.removeRootfs(id, "ctr-"+id); err != nil {
				return err
			}
			if err := os.RemoveAll(e.bundleDir(id)); err != nil {
				return err
			}
		}
		for _, name := range notedVolumes(intent) {
			if err := e.RemoveVolume(name, true); err != nil && !errors.Is(err, ErrNoSuchVolume) {
				return err
			}
		}
		os.RemoveAll(e.ctrRunDir(id))
		removeRunFile(e, id)
		return nil
	}
	switch op {
	case opRemove:
		e.settle(&c)
		return e.remove(ctx, c, RemoveOptions{Force: true, Volumes: len(notedVolumes(intent)) > 0})
	case opStart:
		e.settle(&c)
		if c.State == StateRunning {
			rt, err := e.ociRuntime(&c)
			if err != nil {
				return err
			}
			st, err := rt.State(ctx, c.ID)
			if err != nil || st.Status != specs.StateCreated {
				return nil // it runs: the start got through
			}
			// Created, never started: its init waits for a start that
			// will not come.
			if err := rt.Delete(ctx, c.ID, true); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = e.waitExit(wctx, &c)
			cancel()
			if err != nil {
				return err
			}
			c.Error = "start interrupted"
			if err := e.PutContainer(c); err != nil {
				return err
			}
		} else if c.State != StateRestarting {
			// An init the monitor created before the record said so.
			if rt, err := e.ociRuntime(&c); err == nil {
				rt.Delete(ctx, c.ID, true)
			}
		}
	}
	if c.State == StateCreated || c.State == StateStopped {
		// A start cut short after its network was set up.
		if err := e.releaseNetwork(ctx, c.ID); err != nil {
			return err
		}
		e.unmountShm(&c)
		return unmountRootfs(e.rootfsDir(c.ID))
	}
	return nil
}
