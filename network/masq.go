package network

import (
	"crypto/sha512"
	"fmt"
	"os/exec"
	"strings"
)

// The bridge plugin's DEL undoes its masquerade rules only from the
// addresses it finds on the link in the namespace: with the namespace
// gone (a reboot, a killed process, a namespace unmounted under it) they
// would stay, and a later ADD for the same container reuses the chain
// name and then cannot delete it. removeMasq does the plugin's teardown
// from the address the ADD gave, with the plugin's names for the chain
// and comment (plugins/pkg/utils: "CNI-" + sha512(name+id), 28 chars);
// tool is iptables or, for an IPv6 address, ip6tables.
func removeMasq(tool, network, containerID, addr string) error {
	if addr == "" {
		return nil
	}
	sum := sha512.Sum512([]byte(network + containerID))
	chain := fmt.Sprintf("CNI-%x", sum)[:28]
	comment := fmt.Sprintf("name: %q id: %q", network, containerID)
	var errs []string
	run := func(args ...string) {
		out, err := exec.Command(tool, append([]string{"-t", "nat", "--wait"}, args...)...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "does not exist") && !strings.Contains(string(out), "No chain") &&
			!strings.Contains(string(out), "Bad rule") {
			errs = append(errs, strings.TrimSpace(string(out)))
		}
	}
	run("-D", "POSTROUTING", "-s", addr, "-m", "comment", "--comment", comment, "-j", chain)
	run("-F", chain)
	run("-X", chain)
	if len(errs) > 0 {
		return fmt.Errorf("remove masquerade rules of %s: %s", containerID, strings.Join(errs, "; "))
	}
	return nil
}
