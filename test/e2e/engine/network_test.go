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

// The network tests run every berth command, and every client, inside a
// network namespace the test makes (issue 12, "Safety in tests"): it
// holds loopback and the links the test adds, so that even a NAT network
// has no path off the machine, and ip_forward and iptables changes stay
// in it. The upstream resolver is configured to an address nothing
// answers; no test looks a name up through it.

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

// newNetEnv is an engine whose commands run in a namespace of the test's
// own (returned by name), with the upstream resolver set to a TEST-NET
// address.
func newNetEnv(t *testing.T) (*env, string) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("no CNI plugins in /usr/lib/cni (containernetworking-plugins)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("no iptables (hack/packages.txt)")
	}
	ns := testNetns(t)
	e := newEnv(t)
	e.netns = "/run/netns/" + ns
	e.config = filepath.Join(t.TempDir(), "berth.toml")
	if err := os.WriteFile(e.config, []byte("[network]\ndns_upstream = [\"192.0.2.53\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNetClean(t, e, ns) })
	return e, ns
}

// checkNetClean says what a test's containers left in its namespace and
// root once they are all gone: veths, namespaces, per-container iptables
// rules and chains, IPAM leases.
func checkNetClean(t *testing.T, e *env, ns string) {
	t.Helper()
	e.cleanup() // the env's own, which would come after this one
	var left []string
	links, _ := nsRun(ns, "ip", "-o", "link", "show", "type", "veth")
	for _, l := range strings.Split(strings.TrimSpace(links), "\n") {
		if l != "" {
			left = append(left, "veth: "+l)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.runRoot, "netns")); len(ents) > 0 {
		left = append(left, fmt.Sprintf("netns files: %d", len(ents)))
	}
	if ents, _ := os.ReadDir(filepath.Join(e.runRoot, "net")); len(ents) > 0 {
		left = append(left, fmt.Sprintf("network state files: %d", len(ents)))
	}
	for _, table := range []string{"nat", "filter"} {
		rules, _ := nsRun(ns, "iptables-save", "-t", table)
		for _, l := range strings.Split(rules, "\n") {
			// Per-container chains are CNI-<hash>, CNI-DN-<hash>; the
			// plugins' top-level chains (CNI-HOSTPORT-*, CNI-FORWARD,
			// CNI-ADMIN) stay, as with Podman.
			if strings.HasPrefix(l, "-A") && (strings.Contains(l, "CNI-DN-") || strings.Contains(l, "-j CNI-") && !strings.Contains(l, "CNI-HOSTPORT") && !strings.Contains(l, "CNI-FORWARD") && !strings.Contains(l, "CNI-ADMIN") || strings.Contains(l, "dport") && strings.Contains(l, "DNAT")) {
				left = append(left, table+": "+l)
			}
		}
	}
	leases, _ := filepath.Glob(filepath.Join(e.root, "networks", "ipam", "*", "*"))
	for _, l := range leases {
		if b := filepath.Base(l); b != "lock" && !strings.HasPrefix(b, "last_reserved_ip") {
			left = append(left, "lease: "+l)
		}
	}
	if len(left) > 0 {
		t.Errorf("network left behind:\n%s", strings.Join(left, "\n"))
	}
}

// retry is a shell loop that runs cmd until it succeeds (5 s at most):
// a server in another container may not listen yet.
func retry(cmd string) string {
	return "for i in $(seq 50); do " + cmd + " && exit 0; sleep 0.1; done; exit 1"
}

const httpdCmd = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"

func inspectIP(t *testing.T, e *env, ctr, net string) string {
	t.Helper()
	ip := e.must("inspect", "--format", "{{(index .NetworkSettings.Networks \""+net+"\").IPAddress}}", ctr)
	if ip == "" || ip == "<no value>" {
		t.Fatalf("%s has no address on %s", ctr, net)
	}
	return ip
}

func TestNetworkUserNetworkReach(t *testing.T) {
	e, _ := newNetEnv(t)
	e.must("network", "create", "--subnet", "10.201.0.0/24", "net1")
	e.must("run", "-d", "--name", "web", "--hostname", "web", "--network", "net1", "busybox", "sh", "-c", httpdCmd)
	ip := inspectIP(t, e, "web", "net1")
	if !strings.HasPrefix(ip, "10.201.0.") {
		t.Fatalf("web's address %s is not in 10.201.0.0/24", ip)
	}
	out := e.must("run", "--rm", "--network", "net1", "busybox", "sh", "-c", retry("wget -qO- http://"+ip+"/"))
	if out != "hello-from-web" {
		t.Fatalf("wget from a second container: %q", out)
	}
	// The hosts file names the container on its address.
	if hosts := e.must("exec", "web", "cat", "/etc/hosts"); !strings.Contains(hosts, ip+"\tweb") {
		t.Errorf("/etc/hosts lacks %s web:\n%s", ip, hosts)
	}
	e.must("rm", "-f", "web")
	e.must("network", "rm", "net1")
}
