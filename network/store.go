package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultPluginDir is where Debian's containernetworking-plugins are.
const DefaultPluginDir = "/usr/lib/cni"

// Options say where a Store keeps its networks and finds its plugins.
type Options struct {
	// Dir holds the configuration lists (NAME.conflist), the IPAM
	// leases (ipam/NAME) and libcni's cache (cache).
	Dir string
	// PluginDirs are searched for plugin binaries; empty: DefaultPluginDir.
	PluginDirs []string
}

// Store is the networks of one engine root.
type Store struct {
	dir string
	cni *libcni.CNIConfig
}

// Open opens (making it on first use) the store at o.Dir.
func Open(o Options) (*Store, error) {
	if len(o.PluginDirs) == 0 {
		o.PluginDirs = []string{DefaultPluginDir}
	}
	for _, d := range []string{o.Dir, filepath.Join(o.Dir, "ipam"), filepath.Join(o.Dir, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("network store: %w", err)
		}
	}
	return &Store{dir: o.Dir, cni: libcni.NewCNIConfigWithCacheDir(o.PluginDirs, filepath.Join(o.Dir, "cache"), nil)}, nil
}

func (s *Store) confPath(name string) string { return filepath.Join(s.dir, name+".conflist") }
func (s *Store) ipamDir(name string) string  { return filepath.Join(s.dir, "ipam", name) }

// Lock holds the store's lock (exclusive: create and remove; shared:
// attach, so that a network is not removed under an attachment) until
// the returned function is called.
func (s *Store) Lock(exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network store lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("network store lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// List returns every network, by name. A configuration list that cannot
// be read is an error naming its file.
func (s *Store) List() ([]Config, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []Config
	for _, ent := range ents {
		name, ok := strings.CutSuffix(ent.Name(), ".conflist")
		if !ok || ent.IsDir() {
			continue
		}
		c, err := s.load(name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sortConfigs(out)
	return out, nil
}

func (s *Store) load(name string) (Config, error) {
	b, err := os.ReadFile(s.confPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("network %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Config{}, fmt.Errorf("network %s: %w", name, err)
	}
	var doc struct {
		Berth *Config `json:"x-berth"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Berth == nil || doc.Berth.Name != name {
		return Config{}, fmt.Errorf("network %s: malformed configuration list %s", name, s.confPath(name))
	}
	if _, err := libcni.ConfListFromBytes(b); err != nil {
		return Config{}, fmt.Errorf("network %s: malformed configuration list %s: %w", name, s.confPath(name), err)
	}
	return *doc.Berth, nil
}

// Get finds a network by name, full id or unique id prefix, as Docker does.
func (s *Store) Get(ref string) (Config, error) {
	if nameRE.MatchString(ref) {
		if c, err := s.load(ref); err == nil || !errors.Is(err, ErrNotFound) {
			return c, err
		}
	}
	all, err := s.List()
	if err != nil {
		return Config{}, err
	}
	var found []Config
	for _, c := range all {
		if c.ID == ref {
			return c, nil
		}
		if len(ref) > 0 && strings.HasPrefix(c.ID, ref) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Config{}, fmt.Errorf("network %s not found: %w", ref, ErrNotFound)
	}
	return Config{}, fmt.Errorf("network %s is ambiguous (%d matches found on name prefix)", ref, len(found))
}

// Create checks c and writes its configuration list: a name that is
// taken, a subnet that overlaps another network's, a gateway or range
// outside the subnet are refused with nothing written.
func (s *Store) Create(c Config) (Config, error) {
	unlock, err := s.Lock(true)
	if err != nil {
		return c, err
	}
	defer unlock()
	return s.create(c)
}

func (s *Store) create(c Config) (Config, error) {
	c = cloneConfig(c)
	if c.ID == "" {
		id, err := newID()
		if err != nil {
			return c, err
		}
		c.ID = id
	}
	if err := c.normalize(); err != nil {
		return c, err
	}
	all, err := s.List()
	if err != nil {
		return c, err
	}
	for _, o := range all {
		switch {
		case o.Name == c.Name:
			return c, fmt.Errorf("network with name %s already exists: %w", c.Name, ErrExists)
		case Overlaps(o.Subnet, c.Subnet):
			return c, fmt.Errorf("invalid pool request: Pool overlaps with other one on this address space (%s overlaps %s of network %s)", c.Subnet, o.Subnet, o.Name)
		case c.Subnet6 != "" && Overlaps(o.Subnet6, c.Subnet6):
			return c, fmt.Errorf("invalid pool request: Pool overlaps with other one on this address space (%s overlaps %s of network %s)", c.Subnet6, o.Subnet6, o.Name)
		case c.Driver == DriverBridge && o.Bridge == c.Bridge:
			return c, fmt.Errorf("bridge %s is taken by network %s", c.Bridge, o.Name)
		}
	}
	if c.Driver != DriverBridge {
		if _, err := netlink.LinkByName(c.Options["parent"]); err != nil {
			return c, fmt.Errorf("invalid parent %q for driver %s: %w", c.Options["parent"], c.Driver, err)
		}
	}
	if c.Created.IsZero() {
		c.Created = time.Now().UTC()
	}
	// IPv4 only for now: an --ipv6 network keeps the plugins' rules,
	// for both families.
	if c.Driver == DriverBridge && !c.EnableIPv6 {
		c.NATRules = true
	}
	b, err := c.confList(s.ipamDir(c.Name))
	if err != nil {
		return c, err
	}
	tmp := s.confPath(c.Name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return c, fmt.Errorf("create network: %w", err)
	}
	if err := os.Rename(tmp, s.confPath(c.Name)); err != nil {
		os.Remove(tmp)
		return c, fmt.Errorf("create network: %w", err)
	}
	return c, nil
}

// Ensure returns the network named c.Name, creating it from c if it does
// not exist (the default network, on first use).
func (s *Store) Ensure(c Config) (Config, error) {
	unlock, err := s.Lock(true)
	if err != nil {
		return c, err
	}
	defer unlock()
	if have, err := s.load(c.Name); err == nil || !errors.Is(err, ErrNotFound) {
		return have, err
	}
	return s.create(c)
}

// Remove removes a network: its bridge, its leases and its config. The
// caller checks that no container uses it.
func (s *Store) Remove(ref string) (Config, error) {
	unlock, err := s.Lock(true)
	if err != nil {
		return Config{}, err
	}
	defer unlock()
	c, err := s.Get(ref)
	if err != nil {
		return c, err
	}
	if err := removeNATRules(c); err != nil {
		return c, err
	}
	if c.Driver == DriverBridge && c.Bridge != "" {
		if l, err := netlink.LinkByName(c.Bridge); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				return c, fmt.Errorf("remove network %s: bridge %s: %w", c.Name, c.Bridge, err)
			}
		}
	}
	if err := os.Remove(s.confPath(c.Name)); err != nil {
		return c, fmt.Errorf("remove network %s: %w", c.Name, err)
	}
	os.RemoveAll(s.ipamDir(c.Name))
	return c, nil
}
