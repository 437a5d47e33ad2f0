package engine

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/network"
)

// allocSubnet6 picks the first /64 of the IPv6 pool that no network has
// and no IPv6 route of the namespace overlaps (a ULA prefix the host
// already routes somewhere would hide it), as allocSubnet does for IPv4.
func (e *Engine) allocSubnet6() (string, error) {
	poolStr := e.ctrOpts.Network.IPv6Pool
	if poolStr == "" {
		poolStr = DefaultIPv6Pool
	}
	pool, err := netip.ParsePrefix(poolStr)
	if err != nil || !pool.Addr().Is6() || pool.Addr().Is4In6() || pool.Bits() > 64 {
		return "", fmt.Errorf("invalid IPv6 pool %q: want an IPv6 prefix of /64 or larger", poolStr)
	}
	pool = pool.Masked()
	nets, err := e.ListNetworks()
	if err != nil {
		return "", err
	}
	var taken []string
	for _, n := range nets {
		if n.Subnet6 != "" {
			taken = append(taken, n.Subnet6)
		}
	}
	routes, _ := netlink.RouteList(nil, netlink.FAMILY_V6)
	for _, r := range routes {
		if r.Dst != nil && r.Dst.IP.To4() == nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 {
				taken = append(taken, r.Dst.String())
			}
		}
	}
	// At most 4096 candidates: a pool larger than /52 is searched in
	// its first 4096 /64s, which is more networks than a host runs.
	n := 1 << min(64-pool.Bits(), 12)
	b := pool.Addr().As16()
	for i := range n {
		c := b
		hi := uint16(c[6])<<8 | uint16(c[7])
		hi += uint16(i)
		c[6], c[7] = byte(hi>>8), byte(hi)
		p := netip.PrefixFrom(netip.AddrFrom16(c), 64).String()
		free := true
		for _, t := range taken {
			if network.Overlaps(t, p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return "", errors.New("could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network")
}
