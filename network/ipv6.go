package network

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// IPv6Usable says why IPv6 cannot work in this namespace, or nil: a
// kernel without it, or a host that disabled it for new links (the
// bridge would get no address, and the plugin's ADD would fail).
func IPv6Usable() error {
	for _, k := range []string{"all", "default"} {
		b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + k + "/disable_ipv6")
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("IPv6 is not available: the kernel has no IPv6 (ipv6.disable=1?)")
		}
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			return fmt.Errorf("IPv6 is disabled on this host (net.ipv6.conf.%s.disable_ipv6 = 1)", k)
		}
	}
	return nil
}
