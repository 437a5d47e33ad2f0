package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/snapshot"
)

// Pull policies of create and run (--pull).
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// CreateOptions are what `berth create` and the APIs give to make a
// container.
type CreateOptions struct {
	Name  string // empty: a random name
	Image string // as the user named it
	// Pull is PullMissing (default), PullAlways or PullNever; Transfer
	// the pull's options (platform, progress). Pulling says so on
	// PullNotice first ("Unable to find image ... locally").
	Pull       string
	Transfer   TransferOptions
	PullNotice io.Writer

	// Spec are the spec options; ContainerID, RootfsPath, InitPath and
	// CgroupV2 are the engine's to fill. Spec.Mounts are --mount's.
	Spec spec.Options
	// Binds are -v's: as Spec.Mounts, except that a bind source that does
	// not exist is made as a directory (Docker's -v, not --mount).
	Binds []spec.Mount
	// Modes are --pid, --ipc, --uts, --network, --cgroupns as given:
	// "container:NAME" is resolved here and again at each start.
	Modes       NamespaceModes
	VolumesFrom []string // CONTAINER[:ro|:rw]
	// Network are the network flags; Modes.Network is set from them.
	Network NetworkRequest

	Runtime    string // a [runtime.runtimes] name; empty: the default
	Labels     map[string]string
	LogDriver  string            // empty: the engine's default
	LogOpts    map[string]string // max-size, max-file
	AutoRemove bool              // --rm
	// RestartPolicy is --restart (ParseRestartPolicy); not with --rm.
	RestartPolicy RestartPolicy
	// StopTimeout is --stop-timeout in seconds (nil: 10).
	StopTimeout *int
	// Healthcheck is the user's (--health-*, --no-healthcheck: Test
	// ["NONE"]), merged with the image's; nil: the image's.
	Healthcheck *HealthConfig
	// KeepMounted leaves the rootfs mounted for a start that follows at
	// once (run); otherwise a created container holds no mount until it
	// starts, so that thousands of them cost the host nothing.
	KeepMounted bool
	// The streams run attaches (Config.Attach*), and -i's StdinOnce.
	AttachStdin, AttachStdout, AttachStderr, StdinOnce bool
	// Pod is --pod: the pod (name or id) whose namespaces and cgroup
	// the container joins (pod_create.go: joinPod). podInfra makes the
	// pod's infra container itself.
	Pod      string
	podInfra bool
}

// DefaultStopTimeout is how long stop waits after the stop signal.
const DefaultStopTimeout = 10

// ErrNameInUse is wrapped when a container name is taken.
var ErrNameInUse = errors.New("container name in use")

// CreateContainer makes a container from an image: its writable
// snapshot mounted at the bundle's rootfs, its volumes, its spec in the
// bundle's config.json, and its record. On any failure what was made is
// removed again.
func (e *Engine) CreateContainer(ctx context.Context, o CreateOptions) (c Container, err error) {
	if o.Name != "" {
		if o.Name, err = CheckContainerName(o.Name); err != nil {
			return c, err
		}
		if err := e.nameFree(o.Name); err != nil {
			return c, err
		}
	}
	if err := ValidateHealth(o.Healthcheck); err != nil {
		return c, err
	}
	if err := o.RestartPolicy.Validate(); err != nil {
		return c, err
	}
	if o.AutoRemove && !o.RestartPolicy.IsNone() {
		return c, errRestartAutoRemove
	}
	logCfg, err := e.logConfig(o.LogDriver, o.LogOpts)
	if err != nil {
		return c, err
	}
	rtPath, rtName, err := e.runtimePath(o.Runtime)
	if err != nil {
		return c, err
	}
	for _, m := range []string{o.Modes.PID, o.Modes.IPC, o.Modes.UTS, o.Modes.Network, o.Modes.Cgroup} {
		if ref, ok := strings.CutPrefix(m, "container:"); ok {
			if _, err := e.LookupContainer(ref); err != nil {
				return c, err
			}
		}
	}
	img, err := e.imageFor(ctx, o)
	if err != nil {
		return c, err
	}
	cfg, err := e.config(img)
	if err != nil {
		return c, err
	}
	if o.Pod != "" && !o.podInfra {
		if err := e.joinPod(ctx, &o); err != nil {
			return c, err
		}
	}
	id, err := NewContainerID()
	if err != nil {
		return c, err
	}

	// A create cut short is repaired from this (intents.go); a run's
	// create keeps it until its start is through, since the rootfs stays
	// mounted for that start.
	done, err := e.intend(opCreate, id)
	if err != nil {
		return c, err
	}
	var undo []func()
	defer func() {
		if err != nil {
			for _, u := range slices.Backward(undo) {
				u()
			}
		}
		if err != nil || !o.KeepMounted {
			done()
		}
	}()
	killPoint("create-intent")
	bundle := e.bundleDir(id)
	if err := os.MkdirAll(e.rootfsDir(id), 0o700); err != nil {
		return c, fmt.Errorf("create container: %w", err)
	}
	undo = append(undo, func() { os.RemoveAll(bundle) })
	snapKey := "ctr-" + id
	if err := e.prepareRootfs(id, snapKey, img); err != nil {
		return c, err
	}
	undo = append(undo, func() { e.removeRootfs(id, snapKey) })
	killPoint("create-rootfs")

	so := o.Spec
	so.ContainerID, so.RootfsPath, so.CgroupV2 = id, e.rootfsDir(id), *e.ctrOpts.CgroupV2
	if so.Init {
		if so.InitPath, err = e.initBinary(); err != nil {
			return c, err
		}
	}
	mounts, made, err := e.resolveMounts(o, cfg, so.RootfsPath)
	var notes []string
	for _, name := range made {
		undo = append(undo, func() { e.RemoveVolume(name, true) })
		notes = append(notes, "volume "+name)
	}
	e.noteIntent(opCreate, id, notes...)
	if err != nil {
		return c, err
	}
	if len(o.Network.Networks) == 0 && o.Modes.Network != "" {
		o.Network.Networks = []string{o.Modes.Network}
	}
	netSettings, netMode, err := e.planNetwork(o.Network, cfg.Config.ExposedPorts)
	if err != nil {
		return c, err
	}
	o.Modes.Network = netMode
	if ref, ok := strings.CutPrefix(o.Modes.Network, "container:"); ok {
		other, err := e.LookupContainer(ref)
		if err != nil {
			return c, err
		}
		netSettings.FilesFrom = other.ID
	}
	netMounts, err := e.netMounts(id, netSettings, mounts)
	if err != nil {
		return c, err
	}
	so.Mounts = append(slices.Clip(mounts), netMounts...)
	if err := e.resolveModes(&so, o.Modes); err != nil {
		return c, err
	}
	res, err := spec.Generate(cfg, &so)
	if err != nil {
		return c, err
	}
	if err := writeSpec(bundle, res, rtPath); err != nil {
		return c, err
	}
	killPoint("create-spec")

	now := time.Now().UTC()
	c = Container{
		ID: id, Name: o.Name, Image: img.ID.String(), ImageName: o.Image, State: StateCreated, Created: now,
		Path: res.Spec.Process.Args[0], Args: res.Spec.Process.Args[1:],
		Options: so, Modes: o.Modes, Runtime: rtName, RuntimePath: rtPath, Snapshot: snapKey,
		Log: logCfg, AutoRemove: o.AutoRemove, RestartPolicy: o.RestartPolicy, StopSignal: int(res.StopSignal),
		Mounts: e.mountPoints(mounts), Net: netSettings, Pod: o.Pod, PodInfra: o.podInfra,
	}
	c.Config = containerConfig(cfg, res, o, so)
	imgHealth, err := e.imageHealth(img)
	if err != nil {
		return c, err
	}
	c.Config.Healthcheck = mergeHealth(o.Healthcheck, imgHealth)
	if err := ValidateHealth(c.Config.Healthcheck); err != nil {
		return c, fmt.Errorf("image %s: %w", o.Image, err)
	}
	c.Config.Shell = cfg.Config.Shell
	logPath := e.logPath(id, logCfg.Driver)
	c.Log.Path = logPath
	if err := e.insertContainer(&c); err != nil {
		return c, err
	}
	killPoint("create-recorded")
	if c.Pod != "" && !c.PodInfra {
		e.refreshPodHosts(c.Pod)
	}
	e.emitContainer(&c, "create", nil)
	if !o.KeepMounted {
		unmountRootfs(e.rootfsDir(id))
	}
	return c, nil
}

// imageFor resolves the image of o, pulling it as o.Pull says.
func (e *Engine) imageFor(ctx context.Context, o CreateOptions) (Image, error) {
	if o.Image == "" {
		return Image{}, errors.New("no image given")
	}
	pull := o.Pull
	if pull == "" {
		pull = PullMissing
	}
	switch pull {
	case PullMissing, PullAlways, PullNever:
	default:
		return Image{}, fmt.Errorf("invalid --pull %q: want always, missing or never", pull)
	}
	if pull != PullAlways {
		img, err := e.Images().Resolve(o.Image)
		if err == nil && o.Transfer.Platform != nil {
			// An image of another platform is not the one asked for:
			// Docker pulls then (or, never pulling, fails).
			mismatch, perr := e.checkPlatform(img, o.Image, *o.Transfer.Platform)
			switch {
			case perr != nil:
				return Image{}, perr
			case mismatch != nil && pull == PullNever:
				return Image{}, mismatch
			case mismatch != nil:
				err = ErrImageNotFound
			}
		}
		if err == nil || pull == PullNever || !errors.Is(err, ErrImageNotFound) {
			if err != nil && errors.Is(err, ErrImageNotFound) {
				return img, fmt.Errorf("no such image: %s", o.Image)
			}
			return img, err
		}
		if o.PullNotice != nil {
			n := o.Image
			if c, err := NormalizeName(n); err == nil {
				n = FamiliarName(c)
			}
			fmt.Fprintf(o.PullNotice, "Unable to find image '%s' locally\n", n)
		}
	}
	return e.PullImage(ctx, o.Image, o.Transfer)
}

// checkPlatform tells whether the config of img (named ref) is for
// want: OS and architecture must match, and the variant when both name
// one. A mismatch is Docker's error for it; err is a config not read.
func (e *Engine) checkPlatform(img Image, ref string, want v1.Platform) (mismatch, err error) {
	cf, err := e.config(img)
	if err != nil {
		return nil, err
	}
	if cf.OS == want.OS && cf.Architecture == want.Architecture &&
		(want.Variant == "" || cf.Variant == "" || cf.Variant == want.Variant) {
		return nil, nil
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	return fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
		ref, want.String(), have.String()), nil
}

// nameFree fails with Docker's conflict message when name is taken.
func (e *Engine) nameFree(name string) error {
	return e.meta.View(func(tx *bolt.Tx) error { return nameConflict(tx, name) })
}

func nameConflict(tx *bolt.Tx, name string) error {
	b := tx.Bucket(bucketCNames)
	if b == nil {
		return nil
	}
	if id := b.Get([]byte(name)); id != nil {
		return fmt.Errorf("the container name \"/%s\" is already in use by container %q; remove (or rename) that container to reuse the name: %w",
			name, string(id), ErrNameInUse)
	}
	return nil
}

// insertContainer writes a new record with its name in one transaction:
// the name is checked again there, so that of two creates racing for it
// one wins. A container without a name gets a random free one.
func (e *Engine) insertContainer(c *Container) error {
	return e.meta.Update(func(tx *bolt.Tx) error {
		names, err := tx.CreateBucketIfNotExists(bucketCNames)
		if err != nil {
			return err
		}
		if c.Name == "" {
			for i := 0; ; i++ {
				n := RandomContainerName(i / 3)
				if names.Get([]byte(n)) == nil {
					c.Name = n
					break
				}
			}
		} else if err := nameConflict(tx, c.Name); err != nil {
			return err
		}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := names.Put([]byte(c.Name), []byte(c.ID)); err != nil {
			return err
		}
		return tx.Bucket(bucketContainers).Put([]byte(c.ID), b)
	})
}

// prepareRootfs makes the container's writable snapshot on the image's
// layers and mounts it at the bundle's rootfs.
func (e *Engine) prepareRootfs(id, key string, img Image) error {
	snaps, err := e.Snapshots()
	if err != nil {
		return err
	}
	parent := ""
	if len(img.Layers) > 0 {
		diffIDs := make([]v1.Hash, len(img.Layers))
		for i, l := range img.Layers {
			diffIDs[i] = l.DiffID
		}
		if parent, err = e.images.Snapshots().Chain(diffIDs); err != nil {
			return fmt.Errorf("create container: image layers: %w", err)
		}
	}
	if _, err := snaps.Prepare(key, parent); err != nil {
		return fmt.Errorf("create container: snapshot: %w", err)
	}
	if err := e.mountRootfs(id, key); err != nil {
		snaps.Remove(key)
		return err
	}
	return nil
}

// mountRootfs mounts the container's snapshot at its rootfs unless it is
// mounted there already.
func (e *Engine) mountRootfs(id, key string) error {
	dir := e.rootfsDir(id)
	if mounted(dir) {
		return nil
	}
	snaps, err := e.Snapshots()
	if err != nil {
		return err
	}
	ms, err := snaps.Mounts(key)
	if err != nil {
		return fmt.Errorf("container rootfs: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("container rootfs: %w", err)
	}
	if err := snapshot.MountAll(ms, dir); err != nil {
		return fmt.Errorf("container rootfs: %w", err)
	}
	return nil
}

// removeRootfs unmounts the rootfs and removes the snapshot.
func (e *Engine) removeRootfs(id, key string) error {
	if err := snapshot.Unmount(e.rootfsDir(id)); err != nil {
		return err
	}
	snaps, err := e.Snapshots()
	if err != nil {
		return err
	}
	if err := snaps.Remove(key); err != nil && !errors.Is(err, snapshot.ErrNotFound) {
		return fmt.Errorf("remove container snapshot: %w", err)
	}
	return nil
}

// mounted says whether dir is a mount point: statx says so directly
// (Linux 5.8+), without reading a mountinfo that grows with every
// running container.
func mounted(dir string) bool {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx); err != nil {
		return false
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
	}
	// No STATX_ATTR_MOUNT_ROOT: a mount point (an overlay at least) has
	// another device than its parent.
	var parent unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, filepath.Dir(dir), 0, unix.STATX_BASIC_STATS, &parent); err != nil {
		return false
	}
	return stx.Dev_major != parent.Dev_major || stx.Dev_minor != parent.Dev_minor
}

func (e *Engine) initBinary() (string, error) {
	if e.ctrOpts.InitBinary != "" {
		return e.ctrOpts.InitBinary, nil
	}
	return FindHelper("berth-init")
}

func (e *Engine) monitorBinary() (string, error) {
	if e.ctrOpts.MonitorBinary != "" {
		return e.ctrOpts.MonitorBinary, nil
	}
	return FindHelper("berth-monitor")
}

// logConfig is the log driver and rotation of a container: the engine's
// defaults with --log-driver and --log-opt on top.
func (e *Engine) logConfig(driver string, opts map[string]string) (LogConfig, error) {
	l := LogConfig{Driver: driver, MaxSize: e.ctrOpts.LogMaxSize, MaxFile: e.ctrOpts.LogMaxFile, Opts: maps.Clone(opts)}
	if l.Driver == "" {
		l.Driver = e.ctrOpts.LogDriver
	}
	switch l.Driver {
	case "json-file", "k8s-file", "none":
	default:
		return l, fmt.Errorf("invalid --log-driver %q: want json-file, k8s-file or none", l.Driver)
	}
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		switch k {
		case "max-size":
			n, err := spec.ParseMemory("--log-opt max-size", v)
			if err != nil || n < 0 {
				return l, fmt.Errorf("invalid --log-opt max-size=%s", v)
			}
			l.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return l, fmt.Errorf("invalid --log-opt max-file=%s: want a positive integer", v)
			}
			l.MaxFile = n
		default:
			return l, fmt.Errorf("unknown --log-opt %q for log driver %s", k, l.Driver)
		}
	}
	if l.Driver == "none" {
		l.MaxSize, l.MaxFile = 0, 0
	}
	return l, nil
}

// readSpec reads the bundle's config.json.
func readSpec(bundle string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(bundle, "config.json"), err)
	}
	return &s, nil
}

// writeSpec writes the bundle's config.json for the runtime at rtPath.
func writeSpec(bundle string, res *spec.Result, rtPath string) error {
	if v := specVersionFor(rtPath); v != "" {
		res.Spec.Version = v
	}
	b, err := json.Marshal(res.Spec)
	if err != nil {
		return fmt.Errorf("container spec: %w", err)
	}
	tmp := filepath.Join(bundle, ".config.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("container spec: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(bundle, "config.json")); err != nil {
		return fmt.Errorf("container spec: %w", err)
	}
	return nil
}

// containerConfig is inspect's Config: the image's with the options on
// top, as the container runs.
func containerConfig(img *v1.ConfigFile, res *spec.Result, o CreateOptions, so spec.Options) ContainerConfig {
	var ic v1.Config
	if img != nil {
		ic = img.Config
	}
	p := res.Spec.Process
	cc := ContainerConfig{
		Hostname: res.Spec.Hostname, Domainname: res.Spec.Domainname,
		User: ic.User, AttachStdin: o.AttachStdin, AttachStdout: o.AttachStdout, AttachStderr: o.AttachStderr,
		Tty: so.Tty, OpenStdin: so.OpenStdin, StdinOnce: o.StdinOnce,
		Env: p.Env, Cmd: ic.Cmd, Image: o.Image, WorkingDir: p.Cwd, Entrypoint: ic.Entrypoint,
		Labels: map[string]string{}, StopSignal: ic.StopSignal, StopTimeout: o.StopTimeout,
	}
	if so.User != "" {
		cc.User = so.User
	}
	if so.EntrypointSet {
		cc.Entrypoint, cc.Cmd = so.Entrypoint, so.Cmd
	} else if len(so.Cmd) > 0 {
		cc.Cmd = so.Cmd
	}
	if so.StopSignal != "" {
		cc.StopSignal = so.StopSignal
	}
	maps.Copy(cc.Labels, ic.Labels)
	maps.Copy(cc.Labels, o.Labels)
	if len(ic.Volumes) > 0 {
		cc.Volumes = maps.Clone(ic.Volumes)
	}
	return cc
}

// mountPoints are inspect's Mounts for the resolved mounts.
func (e *Engine) mountPoints(resolved []spec.Mount) []MountPoint {
	var out []MountPoint
	for _, m := range resolved {
		if m.Type == spec.MountTmpfs {
			continue // Docker lists tmpfs mounts under HostConfig only
		}
		mp := MountPoint{Type: "bind", Source: m.Source, Destination: m.Destination, RW: !m.ReadOnly,
			Propagation: m.Propagation}
		if mp.Propagation == "" {
			mp.Propagation = "rprivate"
		}
		if m.ReadOnly {
			mp.Mode = "ro"
		}
		if name, ok := e.volumeOfPath(m.Source); ok {
			mp.Type, mp.Name, mp.Driver, mp.Propagation = "volume", name, "local", ""
			mp.Mode = "z"
			if m.ReadOnly {
				mp.Mode = "ro"
			}
			mp.Anonymous = slices.Contains(m.Options, anonymousOption)
		}
		out = append(out, mp)
	}
	return out
}

// anonymousOption marks, in a resolved mount's Options, a volume made
// for this container (rm -v and --rm remove it).
const anonymousOption = "x-berth-anonymous"

// volumeOfPath says whether a resolved bind source is a volume's data
// dir (…/volumes/NAME/_data), and which.
func (e *Engine) volumeOfPath(src string) (string, bool) {
	dir := filepath.Dir(src)
	if filepath.Base(src) != "_data" || filepath.Dir(dir) != filepath.Join(e.root, "volumes") {
		return "", false
	}
	return filepath.Base(dir), true
}

func unmountRootfs(dir string) error { return snapshot.Unmount(dir) }
