package network

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Drivers a network can have.
const (
	DriverBridge  = "bridge"
	DriverMacvlan = "macvlan"
	DriverIPvlan  = "ipvlan"
)

// Config is one network as berth keeps it, in Docker's terms; the CNI
// configuration list is made from it (ConfList) and stored with it.
type Config struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Driver   string            `json:"driver"`
	Subnet   string            `json:"subnet"`            // CIDR
	Gateway  string            `json:"gateway,omitempty"` // an address in Subnet
	IPRange  string            `json:"ipRange,omitempty"` // CIDR in Subnet: where addresses are given from
	Internal bool              `json:"internal,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Options  map[string]string `json:"options,omitempty"` // --opt as given
	Created  time.Time         `json:"created"`
	// Bridge is the bridge's interface name (bridge driver).
	Bridge string `json:"bridge,omitempty"`
	// Default marks the network that `bridge` names.
	Default bool `json:"default,omitempty"`
}

// ErrNotFound is wrapped when a network does not exist.
var ErrNotFound = errors.New("network not found")

// ErrExists is wrapped when a network name is taken.
var ErrExists = errors.New("network already exists")

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// newID is a random 64-hex id, as Docker's network ids.
func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// normalize checks c and fills what is derived: the gateway (the
// subnet's first address), the bridge name, the driver.
func (c *Config) normalize() error {
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("invalid network name %q: want letters, digits, '_', '.', '-'", c.Name)
	}
	if c.Driver == "" {
		c.Driver = DriverBridge
	}
	subnet, err := netip.ParsePrefix(c.Subnet)
	if err != nil {
		return fmt.Errorf("invalid subnet %q: %w", c.Subnet, err)
	}
	if !subnet.Addr().Is4() {
		return fmt.Errorf("invalid subnet %s: only IPv4 subnets are supported yet", c.Subnet)
	}
	if subnet.Bits() > 30 {
		return fmt.Errorf("invalid subnet %s: too small for a gateway and containers (want /30 or larger)", c.Subnet)
	}
	if subnet != subnet.Masked() {
		return fmt.Errorf("invalid subnet %s: it has host bits set (want %s)", c.Subnet, subnet.Masked())
	}
	c.Subnet = subnet.String()
	if c.Gateway == "" {
		c.Gateway = subnet.Addr().Next().String()
	}
	gw, err := netip.ParseAddr(c.Gateway)
	if err != nil {
		return fmt.Errorf("invalid gateway %q: %w", c.Gateway, err)
	}
	if !subnet.Contains(gw) || gw == subnet.Addr() || gw == lastAddr(subnet) {
		return fmt.Errorf("invalid gateway %s: not a host address of subnet %s", gw, subnet)
	}
	if c.IPRange != "" {
		r, err := netip.ParsePrefix(c.IPRange)
		if err != nil {
			return fmt.Errorf("invalid ip-range %q: %w", c.IPRange, err)
		}
		if r != r.Masked() || r.Bits() < subnet.Bits() || !subnet.Contains(r.Addr()) {
			return fmt.Errorf("invalid ip-range %s: not within subnet %s", c.IPRange, subnet)
		}
		c.IPRange = r.String()
	}
	switch c.Driver {
	case DriverBridge:
		if c.Bridge == "" {
			c.Bridge = "br-" + c.ID[:12]
		}
		for k := range c.Options {
			switch k {
			case "com.docker.network.bridge.name":
				c.Bridge = c.Options[k]
			case "com.docker.network.driver.mtu":
			default:
				return fmt.Errorf("invalid --opt %s for driver bridge: want com.docker.network.bridge.name or com.docker.network.driver.mtu", k)
			}
		}
		if len(c.Bridge) > 15 || strings.ContainsAny(c.Bridge, "/ ") {
			return fmt.Errorf("invalid bridge name %q: at most 15 characters, no '/' or space", c.Bridge)
		}
	case DriverMacvlan, DriverIPvlan:
		// Never the host's interface by default: a macvlan on the link
		// with the default route would put containers on that LAN.
		if c.Options["parent"] == "" {
			return fmt.Errorf("network driver %s needs -o parent=INTERFACE (no default parent is taken)", c.Driver)
		}
		for k := range c.Options {
			if k != "parent" && k != c.Driver+"_mode" {
				return fmt.Errorf("invalid --opt %s for driver %s: want parent or %s_mode", k, c.Driver, c.Driver)
			}
		}
	default:
		return fmt.Errorf("plugin %q not found: want bridge, macvlan or ipvlan", c.Driver)
	}
	return nil
}

// lastAddr is the subnet's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Overlaps says whether two CIDRs share an address.
func Overlaps(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pa.Overlaps(pb)
}

// Contains says whether ip is a host address of c's subnet (neither the
// network's, the broadcast nor the gateway's address).
func (c *Config) Contains(ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return fmt.Errorf("invalid IP address %q", ip)
	}
	p, err := netip.ParsePrefix(c.Subnet)
	if err != nil {
		return err
	}
	if !p.Contains(a) || a == p.Addr() || a == lastAddr(p) {
		return fmt.Errorf("invalid address %s: it does not belong to any of this network's subnets (%s)", ip, c.Subnet)
	}
	if a.String() == c.Gateway {
		return fmt.Errorf("invalid address %s: it is the gateway of network %s", ip, c.Name)
	}
	return nil
}

// confList is the CNI configuration list of c; ipamDir is where
// host-local keeps its leases.
func (c *Config) confList(ipamDir string) ([]byte, error) {
	rng := map[string]any{"subnet": c.Subnet, "gateway": c.Gateway}
	if c.IPRange != "" {
		r := netip.MustParsePrefix(c.IPRange)
		start, end := r.Addr(), lastAddr(r)
		if start == r.Addr() && r.Bits() < 31 {
			start = start.Next()
		}
		if end == lastAddr(netip.MustParsePrefix(c.Subnet)) {
			end = end.Prev()
		}
		rng["rangeStart"], rng["rangeEnd"] = start.String(), end.String()
	}
	ipam := map[string]any{"type": "host-local", "ranges": [][]any{{rng}}, "dataDir": ipamDir}
	if !c.Internal {
		ipam["routes"] = []any{map[string]any{"dst": "0.0.0.0/0"}}
	}
	var plugins []any
	switch c.Driver {
	case DriverBridge:
		br := map[string]any{
			"type": "bridge", "bridge": c.Bridge, "isGateway": true, "ipMasq": !c.Internal,
			"hairpinMode": true, "ipam": ipam, "capabilities": map[string]any{"ips": true},
		}
		if mtu := c.Options["com.docker.network.driver.mtu"]; mtu != "" {
			var n int
			if _, err := fmt.Sscan(mtu, &n); err != nil || n < 68 {
				return nil, fmt.Errorf("invalid mtu %q", mtu)
			}
			br["mtu"] = n
		}
		plugins = append(plugins, br,
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}, "snat": true},
			map[string]any{"type": "firewall", "backend": "iptables"},
		)
	case DriverMacvlan:
		mode := c.Options["macvlan_mode"]
		if mode == "" {
			mode = "bridge"
		}
		plugins = append(plugins, map[string]any{"type": "macvlan", "master": c.Options["parent"], "mode": mode, "ipam": ipam,
			"capabilities": map[string]any{"ips": true}})
	case DriverIPvlan:
		mode := c.Options["ipvlan_mode"]
		if mode == "" {
			mode = "l2"
		}
		plugins = append(plugins, map[string]any{"type": "ipvlan", "master": c.Options["parent"], "mode": mode, "ipam": ipam,
			"capabilities": map[string]any{"ips": true}})
	}
	plugins = append(plugins, map[string]any{"type": "tuning", "capabilities": map[string]any{"mac": true}})
	return json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0", "name": c.Name, "plugins": plugins,
		// berth's own record of the network, which plugins never see
		// (libcni hands each plugin only its own entry).
		"x-berth": c,
	}, "", "  ")
}

func cloneConfig(c Config) Config {
	c.Labels, c.Options = maps.Clone(c.Labels), maps.Clone(c.Options)
	return c
}

func sortConfigs(cs []Config) {
	slices.SortFunc(cs, func(a, b Config) int { return strings.Compare(a.Name, b.Name) })
}
