package network

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
)

// Check says, before anything is made for it, whether the machine has
// what an attachment to c needs: every plugin of its list (and
// host-local, the IPAM plugin the others run) in the plugin directories,
// and iptables for a bridge, whose NAT, firewall and published ports are
// iptables rules. Without it a plugin would fail half way, and its DEL
// would fail in the same way on the container's removal.
func (s *Store) Check(c Config, a Attachment) error {
	l, err := s.confListOf(c, a)
	if err != nil {
		return err
	}
	var types []string
	for _, p := range l.Plugins {
		types = append(types, p.Network.Type)
	}
	types = append(types, "host-local")
	for _, t := range types {
		if _, err := invoke.FindInPath(t, s.cni.Path); err != nil {
			return fmt.Errorf("network %s: CNI plugin %q not found in %s: install containernetworking-plugins or set network.cni_plugin_dirs in berth.toml (--network none needs no plugins)",
				c.Name, t, strings.Join(s.cni.Path, ", "))
		}
	}
	if c.Driver == DriverBridge {
		if _, err := exec.LookPath("iptables"); err != nil {
			return fmt.Errorf("network %s: iptables not found in $PATH: a bridge network's NAT and published ports need it (install iptables, or use --network none)", c.Name)
		}
	}
	return nil
}
