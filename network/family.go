package network

import (
	"fmt"
	"net/netip"
)

// A network has an IPv4 subnet and, with EnableIPv6, an IPv6 one: each
// with its gateway and an optional range, given as Docker's repeatable
// --subnet, --gateway and --ip-range.

// SetIPAM sorts --subnet, --gateway and --ip-range values into c's IPv4
// and IPv6 fields: a gateway and a range go with the subnet that holds
// them, as Docker pairs them. One subnet per family.
func (c *Config) SetIPAM(subnets, gateways, ranges []string) error {
	if len(subnets) < len(gateways) || len(subnets) < len(ranges) {
		return fmt.Errorf("invalid config: every ip-range or gateway must have a corresponding subnet")
	}
	var have [2]netip.Prefix // by family: 0 IPv4, 1 IPv6
	for _, s := range subnets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("invalid subnet %q: %w", s, err)
		}
		f := familyOf(p.Addr())
		if have[f].IsValid() {
			return fmt.Errorf("invalid config: more than one %s subnet (%s and %s): one per family is supported", familyName[f], have[f], s)
		}
		have[f] = p
		*c.subnetOf(f) = s
	}
	pair := func(what, v string, a netip.Addr, field func(int) *string) error {
		f := familyOf(a)
		if !have[f].IsValid() || !have[f].Masked().Contains(a) {
			return fmt.Errorf("invalid %s %s: no matching subnet", what, v)
		}
		if *field(f) != "" {
			return fmt.Errorf("invalid config: cannot configure multiple %s values (%s, %s) for the same subnet (%s)", what, *field(f), v, have[f])
		}
		*field(f) = v
		return nil
	}
	for _, g := range gateways {
		a, err := netip.ParseAddr(g)
		if err != nil {
			return fmt.Errorf("invalid gateway %q: %w", g, err)
		}
		if err := pair("gateway", g, a, c.gatewayOf); err != nil {
			return err
		}
	}
	for _, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return fmt.Errorf("invalid ip-range %q: %w", r, err)
		}
		if err := pair("ip-range", r, p.Addr(), c.rangeOf); err != nil {
			return err
		}
	}
	return nil
}

var familyName = [2]string{"IPv4", "IPv6"}

func familyOf(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return 0
	}
	return 1
}

func (c *Config) subnetOf(f int) *string {
	if f == 1 {
		return &c.Subnet6
	}
	return &c.Subnet
}

func (c *Config) gatewayOf(f int) *string {
	if f == 1 {
		return &c.Gateway6
	}
	return &c.Gateway
}

func (c *Config) rangeOf(f int) *string {
	if f == 1 {
		return &c.IPRange6
	}
	return &c.IPRange
}

// normalizeFamily checks one family's subnet, gateway and range and
// fills the gateway (the subnet's first host address) if none is given.
func (c *Config) normalizeFamily(f int) error {
	sub, gwp, rngp := c.subnetOf(f), c.gatewayOf(f), c.rangeOf(f)
	subnet, err := netip.ParsePrefix(*sub)
	if err != nil {
		return fmt.Errorf("invalid subnet %q: %w", *sub, err)
	}
	if subnet.Addr().Is4In6() || subnet.Addr().Zone() != "" {
		return fmt.Errorf("invalid subnet %s: want a plain IPv4 or IPv6 subnet", *sub)
	}
	if f == 1 && (subnet.Addr().IsMulticast() || subnet.Masked().Addr().IsLinkLocalUnicast() || subnet.Bits() < 8) {
		// fe80::/10 is every link's own; ff00::/8 is no host's.
		return fmt.Errorf("invalid subnet %s: want a unicast IPv6 subnet outside fe80::/10 (a ULA such as fd00:1::/64, or a global one)", *sub)
	}
	if familyOf(subnet.Addr()) != f {
		if f == 0 {
			return fmt.Errorf("invalid subnet %s: want an IPv4 subnet", *sub)
		}
		return fmt.Errorf("invalid subnet %s: want an IPv6 subnet", *sub)
	}
	// Room for a gateway and containers: /30 (v4), /126 (v6).
	if subnet.Bits() > subnet.Addr().BitLen()-2 {
		return fmt.Errorf("invalid subnet %s: too small for a gateway and containers (want /%d or larger)", *sub, subnet.Addr().BitLen()-2)
	}
	if subnet != subnet.Masked() {
		return fmt.Errorf("invalid subnet %s: it has host bits set (want %s)", *sub, subnet.Masked())
	}
	*sub = subnet.String()
	if *gwp == "" {
		*gwp = subnet.Addr().Next().String()
	}
	gw, err := netip.ParseAddr(*gwp)
	if err != nil {
		return fmt.Errorf("invalid gateway %q: %w", *gwp, err)
	}
	if !subnet.Contains(gw) || gw == subnet.Addr() || (f == 0 && gw == lastAddr(subnet)) {
		return fmt.Errorf("invalid gateway %s: not a host address of subnet %s", gw, subnet)
	}
	*gwp = gw.String()
	if *rngp != "" {
		r, err := netip.ParsePrefix(*rngp)
		if err != nil {
			return fmt.Errorf("invalid ip-range %q: %w", *rngp, err)
		}
		if r != r.Masked() || r.Bits() < subnet.Bits() || !subnet.Contains(r.Addr()) {
			return fmt.Errorf("invalid ip-range %s: not within subnet %s", *rngp, subnet)
		}
		*rngp = r.String()
	}
	return nil
}

// lastAddr is the subnet's last address (IPv4: the broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// hostLocalRange is the host-local range of one family: the subnet, its
// gateway and, with an ip-range, where addresses are given from.
func (c *Config) hostLocalRange(f int) map[string]any {
	subnet := netip.MustParsePrefix(*c.subnetOf(f))
	rng := map[string]any{"subnet": subnet.String(), "gateway": *c.gatewayOf(f)}
	if s := *c.rangeOf(f); s != "" {
		r := netip.MustParsePrefix(s)
		start, end := r.Addr(), lastAddr(r)
		// IPv4 keeps the range's own first address free, as it always
		// has; IPv6 only the subnet's (the subnet-router anycast).
		if (f == 0 && r.Bits() < 31) || start == subnet.Addr() {
			start = start.Next()
		}
		if f == 0 && end == lastAddr(subnet) {
			end = end.Prev()
		}
		rng["rangeStart"], rng["rangeEnd"] = start.String(), end.String()
	}
	return rng
}

// containsHost says whether ip is a host address of the family's subnet
// that may be asked for (neither the subnet's own address, the IPv4
// broadcast nor the gateway).
func (c *Config) containsHost(f int, ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil || familyOf(a) != f {
		return fmt.Errorf("invalid %s address %q", familyName[f], ip)
	}
	p, err := netip.ParsePrefix(*c.subnetOf(f))
	if err != nil {
		return fmt.Errorf("invalid address %s: network %s has no %s subnet", ip, c.Name, familyName[f])
	}
	if !p.Contains(a) || a == p.Addr() || (f == 0 && a == lastAddr(p)) {
		return fmt.Errorf("invalid address %s: it does not belong to any of this network's subnets (%s)", ip, p)
	}
	if a.String() == *c.gatewayOf(f) {
		return fmt.Errorf("invalid address %s: it is the gateway of network %s", ip, c.Name)
	}
	return nil
}

// ContainsIPv6 is Contains for --ip6: ip must be a host address of the
// network's IPv6 subnet, which a network without --ipv6 has not.
func (c *Config) ContainsIPv6(ip string) error {
	if !c.EnableIPv6 {
		return fmt.Errorf("invalid --ip6 %s: network %s has no IPv6 (it was created without --ipv6)", ip, c.Name)
	}
	return c.containsHost(1, ip)
}
