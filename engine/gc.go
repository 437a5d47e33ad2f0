package engine

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/flock"
)

// GC removes the blobs and unpacked layers that no image record and no
// live lease uses; records that containers use are kept by rmi, so what
// a container needs stays. It never waits for other berth processes to
// finish: it holds ROOT/gc.lock exclusive only while it marks and sweeps
// (a lease being written waits that long). The tmp dirs are emptied when
// no other berth process has the root open (ROOT/lock).
func (e *Engine) GC() (store.GCResult, error) {
	lk, err := flock.Acquire(e.gcLockPath(), true)
	if err != nil {
		return store.GCResult{}, fmt.Errorf("gc: %w", err)
	}
	defer lk.Release()
	blobs, layers := map[string]bool{}, map[string]bool{}
	if err := e.liveLeases(func(lf leaseFile) {
		for _, h := range lf.Blobs {
			blobs[h] = true
		}
		for _, h := range lf.Layers {
			layers[h] = true
		}
	}); err != nil {
		return store.GCResult{}, fmt.Errorf("gc: %w", err)
	}
	if err := e.meta.View(func(tx *bolt.Tx) error { return store.Referenced(tx, blobs, layers) }); err != nil {
		return store.GCResult{}, fmt.Errorf("gc: %w", err)
	}
	res, err := e.images.Sweep(blobs, layers)
	if err != nil {
		return res, err
	}
	if err := e.cleanIfAlone(); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	return res, nil
}
