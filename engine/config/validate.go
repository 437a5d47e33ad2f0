package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/image/registry"
)

// Snapshot driver names as snapshot.Store.NewDriver takes them ("" probes).
var snapshotDrivers = []string{"", "overlay", "overlay2", "overlayfs", "copy", "vfs"}

// LogDrivers are the log drivers the engine knows.
var LogDrivers = []string{"json-file", "k8s-file", "none"}

var (
	// Names of runtimes and networks: what Docker takes for a network name.
	nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	// A group name as shadow-utils takes it, or a numeric gid.
	groupRE = regexp.MustCompile(`^([a-z_][a-z0-9_-]*\$?|[0-9]+)$`)
)

// maxSocketPath is what sun_path holds, with its terminating NUL.
const maxSocketPath = 107

// validate checks every effective value; each error names the key and
// where the value came from.
func (c *Config) validate() error {
	var errs []error
	check := func(key string, err error) {
		if err != nil {
			errs = append(errs, c.errorAt(key, err, c.Source(key)))
		}
	}
	check("storage.root", absPath(c.Storage.Root))
	check("storage.runroot", absPath(c.Storage.RunRoot))
	check("storage.driver", oneOf(c.Storage.Driver, snapshotDrivers))

	for _, name := range sortedKeys(c.Runtime.Runtimes) {
		key := "runtime.runtimes." + name
		switch p := c.Runtime.Runtimes[name]; {
		case !nameRE.MatchString(name):
			check(key, fmt.Errorf("runtime name %q: want letters, digits, '_', '.', '-'", name))
		case p == "":
			check(key, errors.New("empty path"))
		case strings.Contains(p, "/") && !filepath.IsAbs(p):
			check(key, fmt.Errorf("%q: want an absolute path or a bare name to look up in $PATH", p))
		}
	}
	if _, ok := c.Runtime.Runtimes[c.Runtime.Default]; !ok {
		check("runtime.default", fmt.Errorf("%q is not in [runtime.runtimes] (have %s)",
			c.Runtime.Default, strings.Join(sortedKeys(c.Runtime.Runtimes), ", ")))
	}
	check("runtime.root", absPath(c.Runtime.Root))

	check("log.driver", oneOf(c.Log.Driver, LogDrivers))
	if c.Log.MaxSize < 0 {
		check("log.max_size", fmt.Errorf("%d: must not be negative (0 is no limit)", c.Log.MaxSize))
	}
	if c.Log.MaxFile < 1 {
		check("log.max_file", fmt.Errorf("%d: must be at least 1", c.Log.MaxFile))
	}

	if !nameRE.MatchString(c.Network.DefaultNetwork) {
		check("network.default_network", fmt.Errorf("%q: want letters, digits, '_', '.', '-'", c.Network.DefaultNetwork))
	}
	check("network.cni_plugin_dirs", each(c.Network.CNIPluginDirs, absPath))
	check("network.cni_config_dir", absPath(c.Network.CNIConfigDir))
	check("network.default_subnet", subnet(c.Network.DefaultSubnet))
	check("network.ipv6_pool", ipv6Pool(c.Network.IPv6Pool))
	check("network.dns_upstream", each(c.Network.DNSUpstream, ipPort))

	if c.Registry.DefaultRegistry != "" {
		check("registry.default_registry", registry.CheckHost(c.Registry.DefaultRegistry))
	}
	for _, h := range sortedKeys(c.Registry.Mirrors) {
		key := "registry.mirrors." + h
		if err := registry.CheckHost(h); err != nil {
			check(key, fmt.Errorf("registry %w", err))
			continue
		}
		check(key, each(c.Registry.Mirrors[h], registry.CheckMirror))
	}
	check("registry.insecure_registries", each(c.Registry.Insecure, registry.CheckInsecure))
	check("registry.certs_dir", absPath(c.Registry.CertsDir))

	check("server.docker_socket", socketPath(c.Server.DockerSocket))
	check("server.cri_socket", socketPath(c.Server.CRISocket))
	if g := c.Server.SocketGroup; g != "" && !groupRE.MatchString(g) {
		check("server.socket_group", fmt.Errorf("%q: want a group name or a numeric gid", g))
	}
	check("server.streaming_address", ipPort(c.Server.StreamingAddress))
	return errors.Join(errs...)
}

func absPath(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%q: want an absolute path", p)
	}
	return nil
}

func socketPath(p string) error {
	if err := absPath(p); err != nil {
		return err
	}
	if len(p) > maxSocketPath {
		return fmt.Errorf("%q: %d bytes, longer than a unix socket path may be (%d)", p, len(p), maxSocketPath)
	}
	return nil
}

func oneOf(v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	var named []string
	for _, a := range allowed {
		if a == "" {
			a = `"" (the default)`
		}
		named = append(named, a)
	}
	return fmt.Errorf("%q: want one of %s", v, strings.Join(named, ", "))
}

func subnet(s string) error {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return fmt.Errorf("%q: want a CIDR subnet such as 10.90.0.0/16", s)
	}
	if !ip.Equal(n.IP) {
		return fmt.Errorf("%q: host bits are set (the subnet is %s)", s, n)
	}
	return nil
}

// ipv6Pool takes an IPv6 prefix of /64 or larger, which /64 subnets are
// cut from.
func ipv6Pool(s string) error {
	if err := subnet(s); err != nil {
		return err
	}
	ip, n, _ := net.ParseCIDR(s)
	if ones, _ := n.Mask.Size(); ip.To4() != nil || ones > 64 {
		return fmt.Errorf("%q: want an IPv6 prefix of /64 or larger, such as fd9b:3e7c:41d0::/48", s)
	}
	return nil
}

// ipPort takes an IP address with an optional port.
func ipPort(s string) error {
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("%q: bad port %q", s, port)
		}
		host = h
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("%q: want an IP address, optionally with :PORT", s)
	}
	return nil
}

// each checks every element of a list, naming the bad one's index.
func each(l []string, check func(string) error) error {
	for i, v := range l {
		if err := check(v); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
