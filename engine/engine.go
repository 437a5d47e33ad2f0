package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/image/registry"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/flock"
)

// Defaults for Options.Root and Options.RunRoot.
const (
	DefaultRoot    = "/var/lib/berth"
	DefaultRunRoot = "/run/berth"
)

// DefaultTimeout bounds the wait for another process's metadata
// transaction: they are all short, so a long wait means something is stuck.
const DefaultTimeout = 30 * time.Second

// Options say where the engine lives.
type Options struct {
	Root    string // engine root; DefaultRoot if empty
	RunRoot string // run root; DefaultRunRoot if empty
	// Registries is the registry config (engine/config's
	// RegistryConfig): the default of pulls and pushes whose options name
	// none, and the qualifier of short names unless ShortNames is set.
	Registries *registry.Config
	// ShortNames qualifies a short image name with the default registry
	// (registry.Config.Qualify); nil: Registries.Qualify, or Docker Hub
	// without Registries.
	ShortNames func(string) string
	// Timeout bounds waits for the metadata file; DefaultTimeout if 0.
	Timeout time.Duration
	// SnapshotDriver is storage.driver of the config ("" chooses: see
	// snapshots.go), SnapshotDriverSetting where it was set ("env
	// BERTH_SNAPSHOTTER"), for messages.
	SnapshotDriver, SnapshotDriverSetting string
	// Containers are the settings containers are made and run with.
	Containers ContainerOptions
	// Warnings gets what the engine says once, such as the copy driver
	// taken on a root without overlayfs; nil: nowhere.
	Warnings io.Writer
}

// Engine is one open engine root.
type Engine struct {
	root, runRoot string
	meta          *metaFile
	// lock is ROOT/lock, held shared for the engine's life so that others
	// know a berth process is in the root; cleanIfAlone takes it
	// exclusive for the instant of cleaning the tmp dirs, never waiting.
	lock   *flock.Lock
	images *store.Store
	lease  *Lease // the default lease of Images()
	// registries is Options.Registries.
	registries *registry.Config
	driver     DriverChoice // the snapshot driver of the root
	ctrOpts    ContainerOptions
	// eventsMax is the event log's rotation size (0: eventsMaxSize);
	// tests make it small.
	eventsMax int64
	// shortNames is Options.ShortNames as the store has it (for the
	// names that image events carry).
	shortNames func(string) string
	// deadLeases counts the leases of dead processes that opening found.
	deadLeases int
	// nets is the network store, opened on first use.
	nets netStore
}

// Open opens the engine root and run root, creating them on first use:
// the metadata file is created, or migrated from the image metadata of
// earlier versions, and checked; then the run root is reconciled with
// what runs. A metadata file that is corrupt or newer than this binary
// is an error before anything else is touched.
func Open(opts Options) (*Engine, error) {
	if opts.Root == "" {
		opts.Root = DefaultRoot
	}
	if opts.RunRoot == "" {
		opts.RunRoot = DefaultRunRoot
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("engine root: %w", err)
	}
	runRoot, err := filepath.Abs(opts.RunRoot)
	if err != nil {
		return nil, fmt.Errorf("run root: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("engine root: %w", err)
	}
	meta, err := openMeta(root, opts.Timeout)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Join(root, "leases"), filepath.Join(root, "intents"), filepath.Join(runRoot, "containers"),
		filepath.Join(root, "containers"), filepath.Join(runRoot, "c")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open engine: %w", err)
		}
	}
	e := &Engine{root: root, runRoot: runRoot, meta: meta, registries: opts.Registries, ctrOpts: opts.Containers}
	e.ctrOpts.defaults(runRoot)
	if opts.ShortNames == nil && opts.Registries != nil {
		opts.ShortNames = opts.Registries.Qualify
	}
	e.images, err = store.OpenWith(root, store.Options{Meta: meta, InUse: imageInUse})
	if err != nil {
		return nil, err
	}
	if opts.ShortNames != nil {
		e.images.SetShortNames(opts.ShortNames)
	}
	e.shortNames = opts.ShortNames
	e.lease = e.NewLease()
	e.lock, err = flock.Acquire(filepath.Join(root, "lock"), false)
	if err != nil {
		return nil, fmt.Errorf("open engine: %w", err)
	}
	if err := e.reconcile(); err != nil {
		e.lock.Release()
		return nil, err
	}
	if err := e.cleanIfAlone(); err != nil {
		e.lock.Release()
		return nil, err
	}
	// After the shared lock: the probe works in the store's tmp dir.
	if err := e.chooseDriver(opts, meta.driver, opts.Warnings); err != nil {
		e.lock.Release()
		return nil, err
	}
	// What killed processes left half done (intents.go); then, if some
	// left leases, the content only they kept.
	if err := e.repairIntents(context.Background()); err != nil {
		e.lock.Release()
		return nil, err
	}
	if e.deadLeases > 0 {
		if _, err := e.GC(); err != nil {
			e.lock.Release()
			return nil, err
		}
	}
	return e, nil
}

// Close ends the default lease and releases the root.
func (e *Engine) Close() error {
	return errors.Join(e.lease.Release(), e.lock.Release())
}

// Root is the engine root, RunRoot the run root (absolute).
func (e *Engine) Root() string    { return e.root }
func (e *Engine) RunRoot() string { return e.runRoot }

// Images is the image store; what it finds or writes is pinned by the
// engine's default lease until Close or ReleaseLease. A long-lived process
// uses one NewLease per operation instead.
func (e *Engine) Images() *store.Store { return e.lease.Images() }

// ReleaseLease ends the default lease early (before a GC that should
// remove what a failed operation left).
func (e *Engine) ReleaseLease() error { return e.lease.Release() }

// View and Update run one metadata transaction (see the package doc).
func (e *Engine) View(fn func(*bolt.Tx) error) error   { return e.meta.View(fn) }
func (e *Engine) Update(fn func(*bolt.Tx) error) error { return e.meta.Update(fn) }

// cleanIfAlone empties the tmp dirs when no other berth process has the
// root open: what is there was left by a killed one. (TryUpgrade drops
// and retakes the shared lock; it never waits for the exclusive one.)
func (e *Engine) cleanIfAlone() error {
	ok, err := e.lock.TryUpgrade()
	if err != nil || !ok {
		return err
	}
	_, cerr := e.images.CleanTmp()
	if err := e.lock.Downgrade(); err != nil {
		return err
	}
	return cerr
}

func (e *Engine) gcLockPath() string { return filepath.Join(e.root, "gc.lock") }

// imageInUse keeps the record of an image that a container uses.
func imageInUse(tx *bolt.Tx, id v1.Hash) error {
	var user string
	err := forEachContainer(tx, func(c *Container) error {
		if c.Image == id.String() {
			user = c.ID
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if user != "" {
		return fmt.Errorf("image is being used by container %s", shortID(user))
	}
	return nil
}

var errStop = errors.New("stop")

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
