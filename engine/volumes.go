package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Volumes are Docker's local volumes: a record in the volumes bucket (key:
// the name) and a directory ROOT/volumes/NAME/_data that containers mount.
// Every change runs its checks and its directory work inside one Update:
// the metadata file's writer lock serialises berth processes, so two
// creates of one name, or a create racing a remove, cannot interleave.

// AnonymousVolumeLabel marks the volumes made for `-v /path`, as Docker
// 23+ does; prune removes only these unless asked for all.
const AnonymousVolumeLabel = "com.docker.volume.anonymous"

// ErrNoSuchVolume is wrapped by lookups of a volume that does not exist.
var ErrNoSuchVolume = errors.New("no such volume")

// ErrVolumeInUse is wrapped when a volume that containers use would be
// removed.
var ErrVolumeInUse = errors.New("volume is in use")

// Volume is a volume as Docker's `volume inspect` shows it (the JSON
// names and order are Docker's).
type Volume struct {
	CreatedAt  time.Time         `json:"CreatedAt"` // UTC, whole seconds: prints as RFC 3339
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
	// Anonymous volumes were made without a name (for `-v /path`).
	Anonymous bool `json:"-"`
}

// volumeRecord is what the volumes bucket holds; the mountpoint is not
// stored, so that a moved root still finds its data.
type volumeRecord struct {
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	CreatedAt time.Time         `json:"createdAt"`
	Labels    map[string]string `json:"labels,omitempty"`
	Options   map[string]string `json:"options,omitempty"`
	Anonymous bool              `json:"anonymous,omitempty"`
}

// VolumeCreateOptions are `volume create`'s; an empty Name makes an
// anonymous volume with a random name.
type VolumeCreateOptions struct {
	Name      string
	Driver    string // "" or "local"
	Labels    map[string]string
	Options   map[string]string
	Anonymous bool
}

// Docker's rule for local volume names; the length bound is the file
// system's, said before mkdir says it less clearly.
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

const maxVolumeName = 255

// ValidVolumeName says why name cannot name a local volume (nil: it can).
func ValidVolumeName(name string) error {
	if !volumeNameRE.MatchString(name) {
		return fmt.Errorf("%q includes invalid characters for a local volume name, only %q are allowed; if you intended to pass a host directory, use an absolute path", name, "[a-zA-Z0-9][a-zA-Z0-9_.-]")
	}
	if len(name) > maxVolumeName {
		return fmt.Errorf("volume name %.20q... is longer than %d bytes", name, maxVolumeName)
	}
	return nil
}

func (e *Engine) volumesDir() string           { return filepath.Join(e.root, "volumes") }
func (e *Engine) volumeDir(name string) string { return filepath.Join(e.root, "volumes", name) }
func (e *Engine) volumeData(name string) string {
	return filepath.Join(e.root, "volumes", name, "_data")
}

func (e *Engine) volume(r volumeRecord) Volume {
	// Docker's API has both maps always ({} when empty), and its inspect
	// shows them so.
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	if r.Options == nil {
		r.Options = map[string]string{}
	}
	return Volume{
		Name: r.Name, Driver: r.Driver, Mountpoint: e.volumeData(r.Name), CreatedAt: r.CreatedAt,
		Labels: r.Labels, Options: r.Options, Scope: "local", Anonymous: r.Anonymous,
	}
}

func randomVolumeName() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func getVolumeRecord(tx *bolt.Tx, name string) (*volumeRecord, error) {
	b := tx.Bucket(bucketVolumes)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	var r volumeRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("volume record %s: %w", name, err)
	}
	return &r, nil
}

func forEachVolume(tx *bolt.Tx, fn func(*volumeRecord) error) error {
	b := tx.Bucket(bucketVolumes)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var r volumeRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("volume record %s: %w", k, err)
		}
		return fn(&r)
	})
}

// CreateVolume makes a local volume, or returns the one of that name
// (created false) as Docker does, whatever labels the existing one has.
func (e *Engine) CreateVolume(o VolumeCreateOptions) (Volume, bool, error) {
	if o.Driver != "" && o.Driver != "local" {
		return Volume{}, false, fmt.Errorf("create volume: volume driver %q is not supported", o.Driver)
	}
	if len(o.Options) > 0 {
		// The local driver's type, device and o mount something at the
		// mountpoint; recording them without doing it would lie.
		return Volume{}, false, fmt.Errorf("create volume: volume options are not supported yet (got %s)", strings.Join(slices.Sorted(maps.Keys(o.Options)), ", "))
	}
	rec := volumeRecord{
		Name: o.Name, Driver: "local", CreatedAt: time.Now().UTC().Truncate(time.Second),
		Labels: maps.Clone(o.Labels), Anonymous: o.Anonymous,
	}
	if rec.Name == "" {
		n, err := randomVolumeName()
		if err != nil {
			return Volume{}, false, fmt.Errorf("create volume: %w", err)
		}
		rec.Name, rec.Anonymous = n, true
	} else if err := ValidVolumeName(rec.Name); err != nil {
		return Volume{}, false, fmt.Errorf("create volume: %w", err)
	}
	if rec.Anonymous {
		if rec.Labels == nil {
			rec.Labels = map[string]string{}
		}
		rec.Labels[AnonymousVolumeLabel] = ""
	}
	if len(rec.Labels) == 0 {
		rec.Labels = nil
	}
	// The common repeat of a create (compose up) is answered by a reader.
	var existing *volumeRecord
	if err := e.meta.View(func(tx *bolt.Tx) (err error) {
		existing, err = getVolumeRecord(tx, rec.Name)
		return err
	}); err != nil {
		return Volume{}, false, fmt.Errorf("create volume %s: %w", rec.Name, err)
	}
	if existing != nil {
		return e.volume(*existing), false, nil
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return Volume{}, false, err
	}
	dir := e.volumeDir(rec.Name)
	made := false
	err = e.meta.Update(func(tx *bolt.Tx) error {
		existing, err := getVolumeRecord(tx, rec.Name)
		if err != nil || existing != nil {
			if existing != nil {
				rec = *existing // made by another process since the View
			}
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketVolumes)
		if err != nil {
			return err
		}
		// A directory without a record is what a crash left: the data
		// of a removed volume must not come back under a new one.
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := e.makeVolumeDir(rec.Name); err != nil {
			return err
		}
		made = true
		return b.Put([]byte(rec.Name), val)
	})
	if err != nil {
		if made {
			os.RemoveAll(dir)
		}
		return Volume{}, false, fmt.Errorf("create volume %s: %w", rec.Name, err)
	}
	if made {
		e.emitVolume("create", rec.Name)
	}
	return e.volume(rec), made, nil
}

// makeVolumeDir makes ROOT/volumes/NAME/_data with Docker's modes:
// volumes/ lets others through but not list the names (0701).
func (e *Engine) makeVolumeDir(name string) error {
	top := e.volumesDir()
	if err := os.Mkdir(top, 0o701); err == nil {
		if err := os.Chmod(top, 0o701); err != nil { // past the umask
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, d := range []string{e.volumeDir(name), e.volumeData(name)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// GetVolume reads one volume.
func (e *Engine) GetVolume(name string) (Volume, error) {
	var r *volumeRecord
	err := e.meta.View(func(tx *bolt.Tx) (err error) {
		r, err = getVolumeRecord(tx, name)
		return err
	})
	if err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", name, err)
	}
	if r == nil {
		return Volume{}, fmt.Errorf("%w: %s", ErrNoSuchVolume, name)
	}
	return e.volume(*r), nil
}

// VolumeUsers are the IDs of the containers whose mounts name the volume,
// in the containers bucket's order.
func VolumeUsers(tx *bolt.Tx, name string) ([]string, error) {
	users, err := volumeUsers(tx)
	return users[name], err
}

// volumeUsers maps each volume that containers mount to their IDs.
func volumeUsers(tx *bolt.Tx) (map[string][]string, error) {
	users := map[string][]string{}
	err := forEachContainer(tx, func(c *Container) error {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name != "" && !slices.Contains(users[m.Name], c.ID) {
				users[m.Name] = append(users[m.Name], c.ID)
			}
		}
		return nil
	})
	return users, err
}

// VolumeFilter is `volume ls --filter` (and prune's) with Docker's keys
// and rules: values of one key match if any does, except labels, which
// must all match; different keys must all match.
type VolumeFilter struct {
	Dangling *bool    // true: used by no container
	Names    []string // substrings of the name
	Drivers  []string
	Labels   []string // KEY or KEY=VALUE
	// NotLabels (label!=KEY or KEY=VALUE) must all not match; prune's.
	NotLabels []string
}

// ParseVolumeFilters reads KEY=VALUE filters: dangling, name, driver,
// label, label! (label!=KEY[=VALUE]).
func ParseVolumeFilters(args []string) (VolumeFilter, error) {
	var f VolumeFilter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return f, fmt.Errorf("invalid filter %q: want KEY=VALUE", a)
		}
		switch strings.ToLower(k) {
		case "dangling":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("invalid filter %q: dangling takes true or false", a)
			}
			if f.Dangling != nil && *f.Dangling != b {
				return f, fmt.Errorf("invalid filter %q: conflicts with an earlier dangling filter", a)
			}
			f.Dangling = &b
		case "name":
			f.Names = append(f.Names, v)
		case "driver":
			f.Drivers = append(f.Drivers, v)
		case "label", "label!":
			if lk, _, _ := strings.Cut(v, "="); lk == "" {
				return f, fmt.Errorf("invalid filter %q: label needs a key", a)
			}
			if strings.HasSuffix(k, "!") {
				f.NotLabels = append(f.NotLabels, v)
			} else {
				f.Labels = append(f.Labels, v)
			}
		default:
			return f, fmt.Errorf("invalid filter %q: unknown key %q (berth knows dangling, name, driver, label, label!)", a, k)
		}
	}
	return f, nil
}

func volumeLabelMatches(labels map[string]string, kv string) bool {
	k, v, hasValue := strings.Cut(kv, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == v)
}

func (f *VolumeFilter) match(r *volumeRecord, used bool) bool {
	if f.Dangling != nil && *f.Dangling == used {
		return false
	}
	if len(f.Names) > 0 && !slices.ContainsFunc(f.Names, func(n string) bool { return strings.Contains(r.Name, n) }) {
		return false
	}
	if len(f.Drivers) > 0 && !slices.Contains(f.Drivers, r.Driver) {
		return false
	}
	for _, l := range f.Labels {
		if !volumeLabelMatches(r.Labels, l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if volumeLabelMatches(r.Labels, l) {
			return false
		}
	}
	return true
}

// ListVolumes is every volume that passes f, sorted by name.
func (e *Engine) ListVolumes(f VolumeFilter) ([]Volume, error) {
	var out []Volume
	err := e.meta.View(func(tx *bolt.Tx) error {
		var users map[string][]string
		if f.Dangling != nil {
			var err error
			if users, err = volumeUsers(tx); err != nil {
				return err
			}
		}
		return forEachVolume(tx, func(r *volumeRecord) error {
			if f.match(r, len(users[r.Name]) > 0) {
				out = append(out, e.volume(*r))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	// bbolt's key order is byte order, which is Docker's sort too; sort
	// anyway so that the order does not hang on the storage.
	slices.SortFunc(out, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveVolume removes an unused volume and its data; force only makes a
// missing volume not an error, as in Docker.
func (e *Engine) RemoveVolume(name string, force bool) error {
	var trash volumeTrash
	removed := false
	err := e.meta.Update(func(tx *bolt.Tx) error {
		removed = false
		r, err := getVolumeRecord(tx, name)
		if err != nil {
			return err
		}
		if r == nil {
			if force {
				return nil
			}
			return fmt.Errorf("%w: %s", ErrNoSuchVolume, name)
		}
		users, err := VolumeUsers(tx, name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("%w - [%s]", ErrVolumeInUse, strings.Join(users, ", "))
		}
		if trash, err = e.trashVolumeDir(name); err != nil {
			return err
		}
		removed = true
		return tx.Bucket(bucketVolumes).Delete([]byte(name))
	})
	if err != nil {
		e.untrash(name, trash)
		if errors.Is(err, ErrNoSuchVolume) {
			return err
		}
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if removed {
		e.emitVolume("destroy", name)
	}
	if err := trash.remove(); err != nil {
		return fmt.Errorf("remove %s: the record is gone, but not all of its data: %w", name, err)
	}
	return nil
}

// volumeTrash is a removed volume's directory, moved aside to
// ROOT/volumes/.trash-RANDOM inside the Update that deletes its record, so
// that the slow RemoveAll after the commit never races a create of the
// same name. Its remover holds an flock on it from before the rename to
// the end of the RemoveAll: a trash dir that can be locked is what a
// killed remover left (sweepVolumeTrash).
type volumeTrash struct {
	path string
	dir  *os.File // nil: there was no directory
}

func (e *Engine) trashVolumeDir(name string) (volumeTrash, error) {
	suffix, err := randomVolumeName()
	if err != nil {
		return volumeTrash{}, err
	}
	d, err := os.OpenFile(e.volumeDir(name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return volumeTrash{}, nil
	} else if err != nil {
		return volumeTrash{}, err
	}
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		d.Close()
		return volumeTrash{}, fmt.Errorf("lock %s: %w", d.Name(), err)
	}
	trash := filepath.Join(e.volumesDir(), ".trash-"+suffix[:16])
	if err := os.Rename(e.volumeDir(name), trash); err != nil {
		d.Close()
		return volumeTrash{}, err
	}
	return volumeTrash{path: trash, dir: d}, nil
}

func (t volumeTrash) remove() error {
	if t.dir == nil {
		return nil
	}
	defer t.dir.Close()
	return os.RemoveAll(t.path)
}

// untrash puts back the directory of a volume whose removal was not
// committed.
func (e *Engine) untrash(name string, t volumeTrash) {
	if t.dir != nil {
		os.Rename(t.path, e.volumeDir(name))
		t.dir.Close()
	}
}

// PruneVolumes removes the unused volumes that pass f: only anonymous
// ones unless all (Docker 23+). Only label filters apply, as in Docker.
// Reclaimed counts the bytes of the regular files removed.
func (e *Engine) PruneVolumes(all bool, f VolumeFilter) (deleted []string, reclaimed int64, err error) {
	if f.Dangling != nil || len(f.Names) > 0 || len(f.Drivers) > 0 {
		return nil, 0, errors.New("prune volumes: only label and label! filters apply")
	}
	var moved map[string]volumeTrash
	err = e.meta.Update(func(tx *bolt.Tx) error {
		moved, deleted = map[string]volumeTrash{}, nil
		users, err := volumeUsers(tx)
		if err != nil {
			return err
		}
		var gone []string
		err = forEachVolume(tx, func(r *volumeRecord) error {
			anon := r.Anonymous || volumeLabelMatches(r.Labels, AnonymousVolumeLabel)
			if len(users[r.Name]) == 0 && (all || anon) && f.match(r, false) {
				gone = append(gone, r.Name)
			}
			return nil
		})
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketVolumes)
		for _, name := range gone {
			// Deleting while ForEach runs is not allowed in bbolt.
			trash, err := e.trashVolumeDir(name)
			if err != nil {
				return err
			}
			moved[name] = trash
			if err := b.Delete([]byte(name)); err != nil {
				return err
			}
		}
		deleted = gone
		return nil
	})
	if err != nil {
		for name, t := range moved {
			e.untrash(name, t)
		}
		return nil, 0, fmt.Errorf("prune volumes: %w", err)
	}
	var errs []error
	for _, name := range deleted {
		e.emitVolume("destroy", name)
		t := moved[name]
		if t.dir != nil {
			reclaimed += volumeDirSize(t.path)
		}
		if err := t.remove(); err != nil {
			errs = append(errs, fmt.Errorf("prune volumes: %s: the record is gone, but not all of its data: %w", name, err))
		}
	}
	e.sweepVolumeTrash()
	return deleted, reclaimed, errors.Join(errs...)
}

// sweepVolumeTrash removes the trash dirs that killed removers left: the
// ones nobody holds locked.
func (e *Engine) sweepVolumeTrash() {
	entries, _ := os.ReadDir(e.volumesDir())
	for _, ent := range entries {
		if !strings.HasPrefix(ent.Name(), ".trash-") {
			continue
		}
		p := filepath.Join(e.volumesDir(), ent.Name())
		d, err := os.OpenFile(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(p)
		}
		d.Close()
	}
}

// VolumeSize is the bytes of the regular files under the volume's data,
// each inode counted once (what `system df` and prune report).
func (e *Engine) VolumeSize(v Volume) int64 { return volumeDirSize(e.volumeData(v.Name)) }

// volumeDirSize adds up the sizes of the regular files under dir, never
// following symlinks; what cannot be read counts nothing.
func volumeDirSize(dir string) int64 {
	type ino struct{ dev, ino uint64 }
	seen := map[ino]bool{}
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := ino{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		n += fi.Size()
		return nil
	})
	return n
}
