package engine_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every env's commands run in a network namespace of the test's own
// (makeEnv): what the default bridge network makes, the bridge, its NAT
// and firewall rules and ip_forward, stays in it, and checkNetClean says
// what the test's containers left there.

// testNetns makes a named network namespace (ip netns, /run/netns/NAME)
// with only loopback, up; it goes at the end of the test.
func testNetns(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "berth-t-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	nsMust(t, name, "ip", "link", "set", "lo", "up")
	return name
}

// nsRun runs a command in the named namespace.
func nsRun(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

func nsMust(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := nsRun(ns, args...)
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// checkNetClean says what a test's containers left in its namespace and
// root once they are all gone: veths, namespaces, per-container iptables
// rules and chains, IPAM leases.
func checkNetClean(t *testing.T, e *env, ns string) {
	t.Helper()
	var left []string
	// The kernel frees a container's namespace, and the veth in it with
	// its peer here, asynchronously once the last reference has gone (a
	// killed init, an unmounted namespace file): a moment's wait.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var veths []string
		// Stdout only: a test's veth whose peer namespace is going away
		// makes ip say "Peer netns reference is invalid" on stderr.
		links, _ := exec.Command("ip", "netns", "exec", ns, "ip", "-o", "link", "show", "type", "veth").Output()
		for _, l := range strings.Split(strings.TrimSpace(string(links)), "\n") {
			// The test's own links are named t*.
			if f := strings.Fields(l); len(f) > 1 && !strings.HasPrefix(f[1], "t") {
				veths = append(veths, "veth: "+l)
			}
		}
		if len(veths) == 0 || time.Now().After(deadline) {
			left = append(left, veths...)
			break
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.runRoot, "netns")); len(ents) > 0 {
		left = append(left, fmt.Sprintf("netns files: %d", len(ents)))
	}
	if ents, _ := os.ReadDir(filepath.Join(e.root, "networks", "attached")); len(ents) > 0 {
		left = append(left, fmt.Sprintf("network state files: %d", len(ents)))
	}
	// ip6tables too: on --ipv6 networks the plugins add the same rules
	// for the IPv6 address.
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		for _, table := range []string{"nat", "filter"} {
			rules, _ := nsRun(ns, save, "-t", table)
			for _, l := range strings.Split(rules, "\n") {
				// Per-container chains are CNI-<hash>, CNI-DN-<hash>; the
				// plugins' top-level chains (CNI-HOSTPORT-*, CNI-FORWARD,
				// CNI-ADMIN) stay, as with Podman, but not the firewall
				// plugin's per-address rules in CNI-FORWARD.
				if strings.HasPrefix(l, "-A") && (strings.Contains(l, "CNI-DN-") || strings.Contains(l, "-j CNI-") && !strings.Contains(l, "CNI-HOSTPORT") && !strings.Contains(l, "CNI-FORWARD") && !strings.Contains(l, "CNI-ADMIN") || strings.Contains(l, "dport") && strings.Contains(l, "DNAT") ||
					strings.HasPrefix(l, "-A CNI-FORWARD -s ") || strings.HasPrefix(l, "-A CNI-FORWARD -d ")) {
					left = append(left, save+" "+table+": "+l)
				}
			}
		}
	}
	leases, _ := filepath.Glob(filepath.Join(e.root, "networks", "ipam", "*", "*", "*"))
	for _, l := range leases {
		if b := filepath.Base(l); b != "lock" && !strings.HasPrefix(b, "last_reserved_ip") {
			left = append(left, "lease: "+l)
		}
	}
	if len(left) > 0 {
		t.Errorf("network left behind:\n%s", strings.Join(left, "\n"))
	}
}
