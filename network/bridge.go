package network

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"
)

// ensureBridge makes the bridge of a network with IPv6 before the bridge
// plugin's first ADD does, with duplicate address detection off on it.
// The plugin puts the IPv6 gateway on the bridge, and DAD would keep that
// address tentative for a second or two after the first container
// starts: no route to it from the host, no answer to the containers'
// neighbour solicitations, so their default route and every published
// port reached through it fail at first. The plugin (1.1.1) turns DAD
// off on the container's side itself (accept_dad=0 unless enabledad) and
// takes a bridge that exists as its own.
func ensureBridge(c Config) error {
	if _, err := netlink.LinkByName(c.Bridge); err == nil {
		return nil
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: c.Bridge, TxQLen: -1}}
	if mtu := c.Options["com.docker.network.driver.mtu"]; mtu != "" {
		n, err := strconv.Atoi(mtu)
		if err != nil || n < 68 {
			return fmt.Errorf("network %s: invalid mtu %q", c.Name, mtu)
		}
		br.MTU = n
	}
	if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("network %s: create bridge %s: %w", c.Name, c.Bridge, err)
	}
	// Before any address is on it; the kernel reads it when one is added.
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+c.Bridge+"/accept_dad", []byte("0"), 0o644); err != nil {
		return fmt.Errorf("network %s: bridge %s: turn off IPv6 duplicate address detection: %w", c.Name, c.Bridge, err)
	}
	return nil
}
