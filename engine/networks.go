package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/network"
)

// Networks: the engine keeps them in a network.Store under ROOT/networks
// (CNI configuration lists, IPAM leases, libcni's cache) and knows which
// containers use which; the network package knows no containers.

// DefaultNetworkName is Docker's name of the default network; its bridge
// is DefaultBridge.
const (
	DefaultNetworkName = "bridge"
	DefaultBridge      = "berth0"
	DefaultSubnet      = "10.90.0.0/16"
	// DefaultIPv6Pool is where --ipv6 networks created without an IPv6
	// --subnet get theirs, a /64 each: a ULA prefix (RFC 4193) with a
	// random global id, not routed beyond the host.
	DefaultIPv6Pool = "fd9b:3e7c:41d0::/48"
)

// ErrNoSuchNetwork is wrapped when a network does not exist.
var ErrNoSuchNetwork = network.ErrNotFound

// NetworkConfigOptions are the engine config's [network] settings.
type NetworkConfigOptions struct {
	// PluginDirs are where the CNI plugins are; empty: /usr/lib/cni.
	PluginDirs []string
	// DefaultSubnet is the default network's subnet; empty: DefaultSubnet,
	// moved to the next free /16 when the host has a route into it.
	DefaultSubnet string
	// IPv6Pool is where --ipv6 networks without an IPv6 --subnet get a
	// /64; empty: DefaultIPv6Pool.
	IPv6Pool string
	// DNSUpstream are the resolvers containers get; empty: the host's
	// (ResolvConf), without loopback ones.
	DNSUpstream []string
	// ResolvConf is the host's resolv.conf; empty: /etc/resolv.conf.
	ResolvConf string
	// DefaultMode is the --network of a container that names none
	// (berth.toml's network.default_network); empty: "bridge", Docker's.
	DefaultMode string
}

type netStore struct {
	once  sync.Once
	store *network.Store
	err   error
}

// Networks is the network store (opened on first use).
func (e *Engine) Networks() (*network.Store, error) {
	e.nets.once.Do(func() {
		e.nets.store, e.nets.err = network.Open(network.Options{Dir: filepath.Join(e.root, "networks"),
			PluginDirs: e.ctrOpts.Network.PluginDirs})
	})
	return e.nets.store, e.nets.err
}

// predefined are the networks every engine has that are no CNI networks.
var predefined = []string{"host", "none"}

// PredefinedNetworkID is the stable id of host or none.
func PredefinedNetworkID(name string) string {
	h := sha256.Sum256([]byte("berth-network-" + name))
	return hex.EncodeToString(h[:])
}

// defaultNetwork is the bridge network, made on first use with a subnet
// that no host route covers.
func (e *Engine) defaultNetwork() (network.Config, error) {
	s, err := e.Networks()
	if err != nil {
		return network.Config{}, err
	}
	if c, err := s.Get(DefaultNetworkName); err == nil || !errors.Is(err, network.ErrNotFound) {
		return c, err
	}
	subnet := e.ctrOpts.Network.DefaultSubnet
	if subnet == "" {
		subnet = freeSubnet(DefaultSubnet)
	}
	return s.Ensure(network.Config{Name: DefaultNetworkName, Driver: network.DriverBridge, Subnet: subnet,
		Bridge: DefaultBridge, Default: true,
		Options: map[string]string{"com.docker.network.bridge.name": DefaultBridge}})
}

// freeSubnet is want, or the first /16 after it in 10.0.0.0/8 that no
// route of the host's overlaps.
func freeSubnet(want string) string {
	routes, _ := netlink.RouteList(nil, netlink.FAMILY_V4)
	p := netip.MustParsePrefix(want)
	for range 100 {
		clash := false
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			if network.Overlaps(r.Dst.String(), p.String()) {
				clash = true
				break
			}
		}
		if !clash {
			return p.String()
		}
		a := p.Addr().As4()
		if a[1] == 255 {
			break
		}
		a[1]++
		p = netip.PrefixFrom(netip.AddrFrom4(a), p.Bits())
	}
	return want
}

// NetworkInfo is one network with the containers on it, for inspect and ls.
type NetworkInfo struct {
	network.Config
	Predefined bool // host, none
	Containers []Container
}

// CreateNetwork makes a user network (network create).
func (e *Engine) CreateNetwork(c network.Config) (network.Config, error) {
	if slices.Contains(predefined, c.Name) || c.Name == DefaultNetworkName {
		return c, fmt.Errorf("network with name %s already exists", c.Name)
	}
	if c.Subnet == "" {
		sub, err := e.allocSubnet()
		if err != nil {
			return c, err
		}
		c.Subnet = sub
		if c.Gateway != "" || c.IPRange != "" {
			return c, errors.New("invalid config: --gateway and --ip-range need --subnet")
		}
	}
	if c.EnableIPv6 {
		if err := network.IPv6Usable(); err != nil {
			return c, fmt.Errorf("--ipv6: %w", err)
		}
	}
	if c.EnableIPv6 && c.Subnet6 == "" {
		if c.Gateway6 != "" || c.IPRange6 != "" {
			return c, errors.New("invalid config: an IPv6 --gateway or --ip-range needs an IPv6 --subnet")
		}
		sub, err := e.allocSubnet6()
		if err != nil {
			return c, err
		}
		c.Subnet6 = sub
	}
	if _, err := e.defaultNetwork(); err != nil {
		return c, err
	}
	s, err := e.Networks()
	if err != nil {
		return c, err
	}
	made, err := s.Create(c)
	if err == nil {
		e.emitNetwork(made, "create", nil)
	}
	return made, err
}

// emitNetwork emits a network event with Docker's attributes (name,
// type: the driver), plus extra (container: the id, for connect and
// disconnect).
func (e *Engine) emitNetwork(n network.Config, action string, extra map[string]string) {
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	for k, v := range extra {
		attrs[k] = v
	}
	e.Emit(Event{Type: "network", Action: action, Actor: Actor{ID: n.ID, Attributes: attrs}})
}

// allocSubnet picks a free /24 in 10.91.0.0/16.. for a network created
// without --subnet, as Docker takes the next of its pools.
func (e *Engine) allocSubnet() (string, error) {
	nets, err := e.ListNetworks()
	if err != nil {
		return "", err
	}
	routes, _ := netlink.RouteList(nil, netlink.FAMILY_V4)
	for b := 91; b < 128; b++ {
		for c := 0; c < 256; c++ {
			p := fmt.Sprintf("10.%d.%d.0/24", b, c)
			taken := false
			for _, n := range nets {
				if n.Subnet != "" && network.Overlaps(n.Subnet, p) {
					taken = true
				}
			}
			for _, r := range routes {
				if r.Dst != nil && network.Overlaps(r.Dst.String(), p) {
					taken = true
				}
			}
			if !taken {
				return p, nil
			}
		}
	}
	return "", errors.New("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

// ListNetworks returns every network (the default bridge made if need
// be, host and none) with its containers.
func (e *Engine) ListNetworks() ([]NetworkInfo, error) {
	if _, err := e.defaultNetwork(); err != nil {
		return nil, err
	}
	s, err := e.Networks()
	if err != nil {
		return nil, err
	}
	cfgs, err := s.List()
	if err != nil {
		return nil, err
	}
	cs, err := e.ListContainers()
	if err != nil {
		return nil, err
	}
	var out []NetworkInfo
	for _, c := range cfgs {
		ni := NetworkInfo{Config: c}
		for _, ctr := range cs {
			if ctr.Net != nil && ctr.Net.endpoint(c.ID) != nil {
				ni.Containers = append(ni.Containers, ctr)
			}
		}
		out = append(out, ni)
	}
	for _, name := range predefined {
		ni := NetworkInfo{Config: network.Config{Name: name, ID: PredefinedNetworkID(name), Driver: name}, Predefined: true}
		for _, ctr := range cs {
			if ctr.Modes.Network == name {
				ni.Containers = append(ni.Containers, ctr)
			}
		}
		out = append(out, ni)
	}
	slices.SortFunc(out, func(a, b NetworkInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// LookupNetwork finds a network by name, id or unique id prefix.
func (e *Engine) LookupNetwork(ref string) (NetworkInfo, error) {
	all, err := e.ListNetworks()
	if err != nil {
		return NetworkInfo{}, err
	}
	var prefix []NetworkInfo
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
		if len(ref) > 0 && len(ref) < len(n.ID) && n.ID[:len(ref)] == ref {
			prefix = append(prefix, n)
		}
	}
	if len(prefix) == 1 {
		return prefix[0], nil
	}
	if len(prefix) > 1 {
		return NetworkInfo{}, fmt.Errorf("network %s is ambiguous (%d matches found based on ID prefix)", ref, len(prefix))
	}
	return NetworkInfo{}, fmt.Errorf("network %s not found: %w", ref, ErrNoSuchNetwork)
}

// RemoveNetwork removes a user network no container is on.
func (e *Engine) RemoveNetwork(ref string) (NetworkInfo, error) {
	n, err := e.LookupNetwork(ref)
	if err != nil {
		return n, err
	}
	if n.Predefined || n.Default {
		return n, fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	if len(n.Containers) > 0 {
		return n, fmt.Errorf("error while removing network: network %s id %s has active endpoints (container %s)", n.Name, n.ID, n.Containers[0].Name)
	}
	s, err := e.Networks()
	if err != nil {
		return n, err
	}
	if _, err = s.Remove(n.ID); err == nil {
		network.RemoveDNSRecords(e.dnsRecordsDir(), n.ID)
		e.emitNetwork(n.Config, "destroy", nil)
	}
	return n, err
}

// PruneNetworks removes the user networks that no container is on and
// whose labels match keep (nil: all); it returns their names.
func (e *Engine) PruneNetworks(keep func(network.Config) bool) ([]string, error) {
	all, err := e.ListNetworks()
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, n := range all {
		if n.Predefined || n.Default || len(n.Containers) > 0 || (keep != nil && !keep(n.Config)) {
			continue
		}
		if _, err := e.RemoveNetwork(n.ID); err != nil {
			return gone, err
		}
		gone = append(gone, n.Name)
	}
	return gone, nil
}
