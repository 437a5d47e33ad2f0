// Package config is the engine's configuration: one TOML file in the style
// of Podman's containers.conf, /etc/berth/berth.toml unless --config or
// $BERTH_CONFIG names another, with sections for every part of the engine:
//
//	[storage]
//	root = "/var/lib/berth"          # engine root (images, metadata, snapshots)
//	runroot = "/run/berth"           # run root (state of running things; a tmpfs on real hosts)
//	driver = ""                      # snapshot driver: "overlay", "copy", or "" for the root's (probed on first use)
//
//	[runtime]
//	default = "berth-runtime"        # a name in [runtime.runtimes]
//	root = ""                        # state dir handed to OCI runtime binaries (--root); "" is RUNROOT/runtime
//	[runtime.runtimes]               # name = path; a bare name is looked up in $PATH when used
//	berth-runtime = "berth-runtime"
//	runc = "runc"
//	crun = "crun"
//
//	[log]
//	driver = "json-file"             # "json-file", "k8s-file" or "none"
//	max_size = "20MiB"               # per container log file: "10MiB", "10m", "512k", bytes; 0 is no limit
//	max_file = 5                     # log files kept per container (the live one and rotated ones)
//
//	[network]
//	default_network = "bridge"       # --network of a container that names none: "bridge", "none", "host" or a network's name
//	cni_plugin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
//	cni_config_dir = "/etc/berth/cni.d"
//	default_subnet = "10.90.0.0/16"
//	ipv6_pool = "fd9b:3e7c:41d0::/48" # a /64 from here for each --ipv6 network created without an IPv6 --subnet
//	dns_upstream = []                # resolvers for containers ("IP" or "IP:PORT"); [] uses the host's
//
//	[registry]
//	default_registry = "docker.io"   # short names ("busybox") resolve here
//	insecure_registries = []         # HOST[:PORT] or CIDR: plain HTTP, no certificate checks
//	certs_dir = "/etc/docker/certs.d"
//	[registry.mirrors]               # registry host = mirrors tried first, in order
//	"docker.io" = ["mirror.example:5000"]
//
//	[server]
//	docker_socket = ""               # Docker Engine API; "" is RUNROOT/docker.sock
//	cri_socket = ""                  # Kubernetes CRI; "" is RUNROOT/cri.sock
//	socket_group = ""                # group (name or gid) given rw on both sockets; "" is root only
//	streaming_address = "127.0.0.1"  # CRI exec/attach/port-forward server: IP or IP:PORT (no port: any free one)
//
// Every key is optional. Each effective value comes from, in order of
// precedence: a command-line flag, an environment variable, the file, or
// the built-in default; [Config.Source] tells which. Decoding is strict: an
// unknown key, a value of the wrong type or a bad value is an error naming
// the file, the line and the key ("/etc/berth/berth.toml:3:1:
// storage.rot: unknown key").
//
// Environment variables:
//
//	BERTH_CONFIG         the config file (must exist when named)
//	BERTH_ROOT           storage.root
//	BERTH_RUNROOT        storage.runroot
//	BERTH_SNAPSHOTTER    storage.driver
//	BERTH_RUNTIME        runtime.default
//	BERTH_CERTS_DIR      registry.certs_dir
//	BERTH_DOCKER_SOCKET  server.docker_socket
//	BERTH_CRI_SOCKET     server.cri_socket
//
// An empty variable counts as unset. The paths under the run root
// (runtime.root and the two sockets) follow storage.runroot while they are
// not set themselves, so that a test's --runroot moves them too.
//
// ROOT/registries.json, the registry file of earlier releases (format:
// image/registry), is still read from the effective storage.root. It sits
// between the defaults and berth.toml: default_registry and certs_dir from
// berth.toml win over it; insecure_registries of both files are joined;
// registry.mirrors are taken per registry host, berth.toml's list winning
// for a host that both name.
package config

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/berth-dev/berth/image/registry"
)

// DefaultFile is the config file read when neither --config nor
// $BERTH_CONFIG names one; it may be missing.
const DefaultFile = "/etc/berth/berth.toml"

// EnvFile names the config file.
const EnvFile = "BERTH_CONFIG"

// Config is the engine's effective configuration. Field names are what
// `berth info --format` templates and its JSON use; the toml tags are the
// file's keys.
type Config struct {
	Storage  Storage  `toml:"storage"`
	Runtime  Runtime  `toml:"runtime"`
	Log      Log      `toml:"log"`
	Network  Network  `toml:"network"`
	Registry Registry `toml:"registry"`
	Server   Server   `toml:"server"`

	file      string // the file read, "" when none
	sources   map[string]Source
	positions map[string]position // of the keys the file sets
}

// Storage is where the engine keeps its state.
type Storage struct {
	Root    string `toml:"root"`
	RunRoot string `toml:"runroot"`
	// Driver is the snapshot driver's name; empty lets the engine choose
	// (the root's recorded driver, else a probe for overlay: engine/snapshots.go).
	Driver string `toml:"driver"`
}

// Runtime picks the OCI runtime containers run with.
type Runtime struct {
	Default string `toml:"default"`
	// Runtimes maps a runtime name to its binary: an absolute path, or a
	// bare name to look up in $PATH when it is used.
	Runtimes map[string]string `toml:"runtimes"`
	// Root is the state directory given to runtime binaries (--root).
	Root string `toml:"root"`
}

// Log is the default log driver of containers.
type Log struct {
	Driver string `toml:"driver"`
	// MaxSize bounds one container's log file; 0 is no limit. A chatty
	// container must not fill the disk, so it is on by default.
	MaxSize Size `toml:"max_size"`
	// MaxFile is how many files rotation keeps, the live one included.
	MaxFile int `toml:"max_file"`
}

// Network holds the defaults for container networks.
type Network struct {
	// DefaultNetwork is the --network of a container that names none
	// (`run`, `create`): "bridge" (Docker's default network, with NAT),
	// "none" (loopback only: dockerd's "bridge": "none", containers.conf's
	// netns = "none"), "host", or the name of a user network.
	DefaultNetwork string   `toml:"default_network"`
	CNIPluginDirs  []string `toml:"cni_plugin_dirs"`
	CNIConfigDir   string   `toml:"cni_config_dir"`
	DefaultSubnet  string   `toml:"default_subnet"`
	// IPv6Pool is where --ipv6 networks without an IPv6 --subnet get a
	// /64 (one no route of the host's overlaps).
	IPv6Pool string `toml:"ipv6_pool"`
	// DNSUpstream lists the resolvers containers use ("IP" or
	// "IP:PORT"); empty means the host's resolv.conf.
	DNSUpstream []string `toml:"dns_upstream"`
}

// Registry is how images are pulled and pushed; see
// [Config.RegistryConfig] for the form the image packages take.
type Registry struct {
	DefaultRegistry string              `toml:"default_registry"`
	Mirrors         map[string][]string `toml:"mirrors"`
	Insecure        []string            `toml:"insecure_registries"`
	CertsDir        string              `toml:"certs_dir"`
}

// Server is what `berth serve` listens on.
type Server struct {
	DockerSocket     string `toml:"docker_socket"`
	CRISocket        string `toml:"cri_socket"`
	SocketGroup      string `toml:"socket_group"`
	StreamingAddress string `toml:"streaming_address"`
}

// Default returns the built-in configuration.
func Default() *Config {
	c := &Config{
		Storage: Storage{Root: "/var/lib/berth", RunRoot: "/run/berth"},
		Runtime: Runtime{
			Default: "berth-runtime",
			Runtimes: map[string]string{
				"berth-runtime": "berth-runtime",
				"runc":          "runc",
				"crun":          "crun",
			},
		},
		Log: Log{Driver: "json-file", MaxSize: 20 << 20, MaxFile: 5},
		Network: Network{
			// Docker's name for the default network.
			DefaultNetwork: "bridge",
			// Debian's containernetworking-plugins, then the upstream place.
			CNIPluginDirs: []string{"/usr/lib/cni", "/opt/cni/bin"},
			// Not /etc/cni/net.d: that one is Podman's (and on hosts here
			// holds its NAT bridge).
			CNIConfigDir: "/etc/berth/cni.d",
			// Clear of Podman's 10.88.0.0/16 and Docker's 172.17.0.0/16.
			DefaultSubnet: "10.90.0.0/16",
			DNSUpstream:   []string{},
			// A ULA /48 (RFC 4193) with a random global id.
			IPv6Pool: "fd9b:3e7c:41d0::/48",
		},
		Registry: Registry{
			DefaultRegistry: registry.DockerHub,
			Mirrors:         map[string][]string{},
			Insecure:        []string{},
			CertsDir:        registry.DefaultCertsDir,
		},
		Server:  Server{StreamingAddress: "127.0.0.1"},
		sources: map[string]Source{},
	}
	c.derive()
	return c
}

// underRunRoot notes a default made from storage.runroot.
const underRunRoot = "under storage.runroot"

// derive fills the paths under the run root that nothing has set.
func (c *Config) derive() {
	for _, d := range []struct {
		key  string
		ptr  *string
		name string
	}{
		{"runtime.root", &c.Runtime.Root, "runtime"},
		{"server.docker_socket", &c.Server.DockerSocket, "docker.sock"},
		{"server.cri_socket", &c.Server.CRISocket, "cri.sock"},
	} {
		if c.Source(d.key).Kind == FromDefault {
			*d.ptr = filepath.Join(c.Storage.RunRoot, d.name)
			c.sources[d.key] = Source{Kind: FromDefault, Name: underRunRoot}
		}
	}
}

// File is the config file that was read, or "" when there was none.
func (c *Config) File() string { return c.file }

// Kind says what kind of place a value came from.
type Kind int

// The places a value comes from, lowest precedence first.
const (
	FromDefault Kind = iota
	FromFile
	FromEnv
	FromFlag
)

// Source is where one effective value came from.
type Source struct {
	Kind Kind
	// Name is the file path, the environment variable or the flag
	// ("--root"); for a default, an optional note.
	Name string
}

func (s Source) String() string {
	switch s.Kind {
	case FromFile:
		return "file " + s.Name
	case FromEnv:
		return "env " + s.Name
	case FromFlag:
		return "flag " + s.Name
	}
	if s.Name != "" {
		return "default (" + s.Name + ")"
	}
	return "default"
}

// MarshalText makes a Source print as its String in JSON.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Source tells where the value of key ("storage.root", or a map entry such
// as "runtime.runtimes.runc") came from.
func (c *Config) Source(key string) Source { return c.sources[key] }

// Value is one effective setting.
type Value struct {
	Key    string // "storage.root", "runtime.runtimes.runc"
	Value  any
	Source Source
}

// Values lists every setting in the order of the file's sections, map
// entries one by one in name order.
func (c *Config) Values() []Value {
	var out []Value
	v := reflect.ValueOf(c).Elem()
	for _, f := range fields() {
		fv := v.FieldByIndex(f.index)
		if fv.Kind() != reflect.Map {
			out = append(out, Value{Key: f.key, Value: fv.Interface(), Source: c.Source(f.key)})
			continue
		}
		keys := make([]string, 0, fv.Len())
		for _, k := range fv.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			e := f.key + "." + k
			out = append(out, Value{Key: e, Value: fv.MapIndex(reflect.ValueOf(k)).Interface(), Source: c.Source(e)})
		}
	}
	return out
}

// RuntimePath resolves a runtime name ("" for runtime.default) through
// [runtime.runtimes] to its binary: an absolute path as written, a bare
// name looked up in $PATH now.
func (c *Config) RuntimePath(name string) (string, error) {
	if name == "" {
		name = c.Runtime.Default
	}
	p, ok := c.Runtime.Runtimes[name]
	if !ok {
		return "", fmt.Errorf("runtime %q is not in [runtime.runtimes] (have %s)", name, strings.Join(sortedKeys(c.Runtime.Runtimes), ", "))
	}
	if filepath.IsAbs(p) {
		return p, nil
	}
	abs, err := exec.LookPath(p)
	if err != nil {
		return "", fmt.Errorf("runtime %s: %w", name, err)
	}
	return abs, nil
}

// RegistryConfig is the registry section in the form that image/registry
// and image/distribution take.
func (c *Config) RegistryConfig() *registry.Config {
	r := &registry.Config{
		DefaultRegistry: c.Registry.DefaultRegistry,
		Insecure:        slices.Clone(c.Registry.Insecure),
		CertsDir:        c.Registry.CertsDir,
	}
	if len(c.Registry.Mirrors) > 0 {
		r.Mirrors = make(map[string][]string, len(c.Registry.Mirrors))
		for h, ms := range c.Registry.Mirrors {
			r.Mirrors[h] = slices.Clone(ms)
		}
	}
	return r
}

// field is one key of the file.
type field struct {
	key   string // "storage.root"
	index []int  // into Config
	typ   reflect.Type
}

// fields lists the file's keys, in struct order, from the toml tags.
func fields() []field {
	var out []field
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		sec := t.Field(i)
		name, ok := tomlName(sec)
		if !ok {
			continue
		}
		for j := range sec.Type.NumField() {
			f := sec.Type.Field(j)
			k, ok := tomlName(f)
			if !ok {
				continue
			}
			out = append(out, field{key: name + "." + k, index: []int{i, j}, typ: f.Type})
		}
	}
	return out
}

func tomlName(f reflect.StructField) (string, bool) {
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return tag, f.IsExported() && tag != "" && tag != "-"
}
