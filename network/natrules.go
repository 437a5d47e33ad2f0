package network

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A bridge network's masquerade and forward rules are the network's, not
// each container's (Config.NATRules): the bridge plugin's ipMasq and the
// firewall plugin would add and remove per container address a NAT chain
// and two FORWARD rules, some 30 iptables processes and one plugin more
// per container start and stop, ~110 of the ~190 ms the network cost
// (bench/network.sh). Docker keeps such rules per bridge too. The rules,
// in two chains of the network's own:
//
//	nat:    POSTROUTING -> BERTH-NAT-<id>:    -s SUBNET ! -d 224.0.0.0/4 ! -o BRIDGE -j MASQUERADE
//	filter: FORWARD     -> BERTH-FWD-<id>:    -d SUBNET -o BRIDGE ctstate RELATED,ESTABLISHED -j ACCEPT
//	                                          -s SUBNET -i BRIDGE -j ACCEPT
//
// are what the two plugins add per address, for the whole subnet: the
// same packets are masqueraded and accepted. They are put in place when an
// attachment finds the bridge missing (the network's first container, or
// the first after a reboot, which dropped rules and bridge alike), in one
// iptables-restore, and removed with the network. An --internal network
// gets the forward rules only, as it got the firewall plugin only.

// natChains are the network's chain names (iptables allows 28 characters).
func natChains(c Config) (nat, fwd string) {
	return "BERTH-NAT-" + c.ID[:12], "BERTH-FWD-" + c.ID[:12]
}

// ensureNATRules puts c's rules in place unless its bridge exists (then
// they are there). The caller holds the store's lock.
func (s *Store) ensureNATRules(c Config) error {
	if !c.NATRules || c.Driver != DriverBridge {
		return nil
	}
	if _, err := netlink.LinkByName(c.Bridge); err == nil {
		return nil
	}
	// Two first attachments at once must not both add the jumps.
	f, err := os.OpenFile(filepath.Join(s.dir, "rules.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("network %s: rules lock: %w", c.Name, err)
	}
	defer f.Close()
	if err := flockRetry(f); err != nil {
		return fmt.Errorf("network %s: rules lock: %w", c.Name, err)
	}
	nat, fwd := natChains(c)
	var b strings.Builder
	// Declared chains are emptied by iptables-restore --noflush, then
	// filled: the batch is the same whether they existed or not.
	if !c.Internal {
		fmt.Fprintf(&b, "*nat\n:%s - [0:0]\n-A %s -s %s ! -d 224.0.0.0/4 ! -o %s -j MASQUERADE\nCOMMIT\n", nat, nat, c.Subnet, c.Bridge)
	}
	fmt.Fprintf(&b, "*filter\n:%s - [0:0]\n-A %s -d %s -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A %s -s %s -i %s -j ACCEPT\nCOMMIT\n",
		fwd, fwd, c.Subnet, c.Bridge, fwd, c.Subnet, c.Bridge)
	cmd := exec.Command("iptables-restore", "--noflush", "--wait")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("network %s: iptables-restore: %v: %s", c.Name, err, strings.TrimSpace(string(out)))
	}
	jumps := [][]string{{"-t", "filter", "FORWARD", "-j", fwd}}
	if !c.Internal {
		jumps = append(jumps, []string{"-t", "nat", "POSTROUTING", "-j", nat})
	}
	for _, j := range jumps {
		rule := append([]string{j[0], j[1], "--wait"}, j[2:]...)
		if exec.Command("iptables", insertArg(rule, "-C")...).Run() == nil {
			continue
		}
		if out, err := exec.Command("iptables", insertArg(rule, "-I")...).CombinedOutput(); err != nil {
			return fmt.Errorf("network %s: iptables: %v: %s", c.Name, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// insertArg is rule (-t TABLE --wait CHAIN ARGS...) with op before CHAIN.
func insertArg(rule []string, op string) []string {
	out := append([]string{}, rule[:3]...)
	return append(append(out, op), rule[3:]...)
}

// removeNATRules removes c's jumps and chains; what is not there is no
// error (a network that never had a container, a reboot).
func removeNATRules(c Config) error {
	if !c.NATRules || c.Driver != DriverBridge {
		return nil
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil // then no container of it ever started
	}
	nat, fwd := natChains(c)
	var errs []error
	run := func(args ...string) {
		out, err := exec.Command("iptables", append([]string{"--wait"}, args...)...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "does not exist") && !strings.Contains(string(out), "No chain") &&
			!strings.Contains(string(out), "Bad rule") && !strings.Contains(string(out), "No such file") {
			errs = append(errs, fmt.Errorf("iptables %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out))))
		}
	}
	for _, t := range []struct{ table, from, chain string }{{"nat", "POSTROUTING", nat}, {"filter", "FORWARD", fwd}} {
		run("-t", t.table, "-D", t.from, "-j", t.chain)
		run("-t", t.table, "-F", t.chain)
		run("-t", t.table, "-X", t.chain)
	}
	if len(errs) > 0 {
		return fmt.Errorf("network %s: remove its rules: %w", c.Name, errors.Join(errs...))
	}
	return nil
}

func flockRetry(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
