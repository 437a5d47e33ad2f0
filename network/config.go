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

	// EnableIPv6 (--ipv6) gives the network an IPv6 subnet besides its
	// IPv4 one, with its gateway and range as above.
	EnableIPv6 bool   `json:"enableIPv6,omitempty"`
	Subnet6    string `json:"subnet6,omitempty"`
	Gateway6   string `json:"gateway6,omitempty"`
	IPRange6   string `json:"ipRange6,omitempty"`
	// NATRules: the masquerade and forward rules are the network's
	// (natrules.go), not the bridge and firewall plugins' per container.
	// Set on the IPv4 bridge networks made since; older ones and --ipv6
	// ones keep the plugins.
	NATRules bool `json:"natRules,omitempty"`
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
	if err := c.normalizeFamily(0); err != nil {
		return err
	}
	switch {
	case c.EnableIPv6 && c.Subnet6 == "":
		return fmt.Errorf("invalid config: --ipv6 needs an IPv6 subnet")
	case !c.EnableIPv6 && (c.Subnet6 != "" || c.Gateway6 != "" || c.IPRange6 != ""):
		return fmt.Errorf("invalid subnet %s: an IPv6 subnet needs --ipv6", c.Subnet6)
	case c.EnableIPv6:
		if err := c.normalizeFamily(1); err != nil {
			return err
		}
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

// Overlaps says whether two CIDRs share an address.
func Overlaps(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pa.Overlaps(pb)
}

// Contains says whether ip is a host address of c's IPv4 subnet (neither
// the network's, the broadcast nor the gateway's address): --ip.
func (c *Config) Contains(ip string) error {
	return c.containsHost(0, ip)
}

// confList is the CNI configuration list of c; ipamDir is where
// host-local keeps its leases.
func (c *Config) confList(ipamDir string) ([]byte, error) {
	// One range set per family: host-local gives an address from each.
	ranges := [][]any{{c.hostLocalRange(0)}}
	routes := []any{map[string]any{"dst": "0.0.0.0/0"}}
	if c.EnableIPv6 {
		ranges = append(ranges, []any{c.hostLocalRange(1)})
		routes = append(routes, map[string]any{"dst": "::/0"})
	}
	ipam := map[string]any{"type": "host-local", "ranges": ranges, "dataDir": ipamDir}
	if !c.Internal {
		ipam["routes"] = routes
	}
	var plugins []any
	switch c.Driver {
	case DriverBridge:
		br := map[string]any{
			"type": "bridge", "bridge": c.Bridge, "isGateway": true, "ipMasq": !c.Internal && !c.NATRules,
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
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}, "snat": true})
		if !c.NATRules {
			plugins = append(plugins, map[string]any{"type": "firewall", "backend": "iptables"})
		}
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
