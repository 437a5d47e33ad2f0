package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/flock"
)

// A Lease keeps content that an operation in progress has found or
// written, and that no record names yet, from garbage collection: the
// blobs and layers of a pull until its image is recorded, the image of a
// run until its container is. It lives in ROOT/leases/PID-START-N.json
// (no fsync: a lease only matters while its process lives, and GC drops
// the leases of processes that are gone, found by pid and start time).
//
// Lock scope: a lease file changes under ROOT/gc.lock held shared, for
// the instant of the write; GC holds it exclusive while it marks and
// sweeps. So content pinned before it is looked for is either still
// there and kept, or was swept before the pin and is fetched again.
// Never pin inside a metadata transaction: GC takes gc.lock, then the
// metadata file's lock; a pin waiting for GC while holding the file's
// lock would wait forever.
type Lease struct {
	e    *Engine
	path string

	mu     sync.Mutex
	blobs  map[string]bool // hex digests
	layers map[string]bool // hex diffIDs
	on     bool            // the file exists
}

type leaseFile struct {
	Boot    string    `json:"boot"`
	PID     int       `json:"pid"`
	Start   uint64    `json:"start"`
	Created time.Time `json:"created"`
	Blobs   []string  `json:"blobs,omitempty"`
	Layers  []string  `json:"layers,omitempty"`
}

var leaseSeq atomic.Uint64

// NewLease starts a lease; nothing is written until the first pin.
func (e *Engine) NewLease() *Lease {
	pid, start, _ := self()
	name := fmt.Sprintf("%d-%d-%d.json", pid, start, leaseSeq.Add(1))
	return &Lease{e: e, path: filepath.Join(e.root, "leases", name),
		blobs: map[string]bool{}, layers: map[string]bool{}}
}

// Images is the image store with its pins going to this lease.
func (l *Lease) Images() *store.Store { return l.e.images.WithPin(l.Pin) }

// Pin adds content to the lease (a no-op when it is in already).
func (l *Lease) Pin(k store.Kind, h v1.Hash) error {
	set := l.blobs
	if k == store.KindLayer {
		set = l.layers
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if set[h.Hex] {
		return nil
	}
	set[h.Hex] = true
	killPoint("pin")
	if err := l.write(); err != nil {
		delete(set, h.Hex)
		return err
	}
	return nil
}

// PinImage keeps an image's blobs and layers even if its record goes
// meanwhile (a run between resolving the image and recording its
// container).
func (l *Lease) PinImage(img store.Image) error {
	blobs, layers := map[string]bool{}, map[string]bool{}
	store.MarkImage(img, blobs, layers)
	l.mu.Lock()
	defer l.mu.Unlock()
	var added []func()
	for h := range blobs {
		if !l.blobs[h] {
			l.blobs[h] = true
			added = append(added, func() { delete(l.blobs, h) })
		}
	}
	for h := range layers {
		if !l.layers[h] {
			l.layers[h] = true
			added = append(added, func() { delete(l.layers, h) })
		}
	}
	if len(added) == 0 {
		return nil
	}
	if err := l.write(); err != nil {
		for _, undo := range added {
			undo()
		}
		return err
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (l *Lease) write() error {
	pid, start, err := self()
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	b, err := json.Marshal(leaseFile{Boot: currentBoot(), PID: pid, Start: start, Created: time.Now().UTC(),
		Blobs: keys(l.blobs), Layers: keys(l.layers)})
	if err != nil {
		return err
	}
	lk, err := flock.Acquire(l.e.gcLockPath(), false)
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	defer lk.Release()
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lease: %w", err)
	}
	l.on = true
	return nil
}

// Release ends the lease: what it pinned is kept only by records now.
// The lease may be used again afterwards.
func (l *Lease) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.blobs)
	clear(l.layers)
	if !l.on {
		return nil
	}
	l.on = false
	if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// leaseOwner parses PID-START-N.json.
func leaseOwner(name string) (pid int, start uint64, ok bool) {
	f := strings.Split(strings.TrimSuffix(name, ".json"), "-")
	if len(f) != 3 || !strings.HasSuffix(name, ".json") {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	return pid, start, err1 == nil && err2 == nil
}

// liveLeases reads the leases of live processes and removes those of
// dead ones (and any file that is no lease). Called with gc.lock held
// exclusive, or at open for the removal only (mark nil).
func (e *Engine) liveLeases(mark func(leaseFile)) error {
	dir := filepath.Join(e.root, "leases")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read leases: %w", err)
	}
	boot := currentBoot()
	for _, ent := range entries {
		p := filepath.Join(dir, ent.Name())
		// A PID-START-N.json.tmp is a lease being written; it belongs
		// to the same process.
		name := strings.TrimSuffix(ent.Name(), ".tmp")
		pid, start, ok := leaseOwner(name)
		if !ok || !alive(pid, start) {
			os.Remove(p)
			e.deadLeases++
			continue
		}
		if name != ent.Name() {
			continue
		}
		if mark == nil {
			continue
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return fmt.Errorf("read lease %s: %w", p, err)
		}
		var lf leaseFile
		if err := json.Unmarshal(b, &lf); err != nil {
			return fmt.Errorf("read lease %s: %w", p, err)
		}
		if lf.Boot != boot {
			os.Remove(p)
			continue
		}
		mark(lf)
	}
	return nil
}
