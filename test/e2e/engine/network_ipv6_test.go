package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// IPv6 on --ipv6 networks (issue 12): dual-stack bridge networks, in the
// test's own namespace like every network test (network_test.go).

// TestNetworkIPv6 drives a dual-stack network: addresses, reach between
// containers over IPv6, the gateway usable from the first packet,
// published ports, --ip6, connect --ip6, and what inspect and ls show.
func TestNetworkIPv6(t *testing.T) {
	e, ns := newNetEnv(t)
	if out, _ := nsRun(ns, "sysctl", "-n", "net.ipv6.conf.all.disable_ipv6"); strings.TrimSpace(out) != "0" {
		t.Skipf("IPv6 is disabled in a new namespace here (disable_ipv6=%s)", out)
	}
	peer := peerNetns(t, ns)
	// nodad: the test's own addresses are usable at once.
	nsMust(t, ns, "ip", "addr", "add", "fdaa::1/64", "dev", "tpeer0", "nodad")
	nsMust(t, peer, "ip", "addr", "add", "fdaa::2/64", "dev", "tpeer1", "nodad")
	// A server on the host side (the test's namespace), on every address.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("from-host\n"), 0o644)
	srv := exec.Command("ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", "18081", "-h", dir)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	wgetIn(t, ns, "http://127.0.0.1:18081/")

	e.must("network", "create", "--ipv6", "--subnet", "10.240.0.0/24", "--subnet", "fd12:3456::/64",
		"--gateway", "fd12:3456::fe", "--ip-range", "fd12:3456::100/120", "v6net")
	// The first container on the network, whose start makes the bridge:
	// its address and the bridge's gateway are usable at once (no
	// duplicate address detection holding them tentative), so a first
	// connection through the gateway, with no retry, works.
	out := e.must("run", "--rm", "--network", "v6net", "busybox", "sh", "-c",
		"ip -6 -o addr show dev eth0; wget -qO- http://[fd12:3456::fe]:18081/")
	if strings.Contains(out, "tentative") || !strings.Contains(out, "from-host") || !strings.Contains(out, "inet6 fd12:3456::1") {
		t.Errorf("first container, first connection to the gateway:\n%s", out)
	}
	if br, _ := nsRun(ns, "ip", "-6", "-o", "addr", "show", "to", "fd12:3456::fe"); !strings.Contains(br, "fd12:3456::fe/64") || strings.Contains(br, "tentative") {
		t.Errorf("the bridge's IPv6 gateway: %q", br)
	}

	e.must("run", "-d", "--name", "web", "--hostname", "web", "--network", "v6net", "-p", "8086:80", "-p", "[::]:8095:80", "busybox", "sh", "-c", httpdCmd)
	f := "{{.NetworkSettings.GlobalIPv6Address}} {{.NetworkSettings.GlobalIPv6PrefixLen}} {{.NetworkSettings.IPv6Gateway}} " +
		"{{with index .NetworkSettings.Networks \"v6net\"}}{{.GlobalIPv6Address}} {{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}} {{.IPAddress}}{{end}}"
	got := strings.Fields(e.must("inspect", "--format", f, "web"))
	if len(got) != 7 || !strings.HasPrefix(got[0], "fd12:3456::1") || got[1] != "64" || got[2] != "fd12:3456::fe" ||
		got[3] != got[0] || got[4] != "64" || got[5] != "fd12:3456::fe" || !strings.HasPrefix(got[6], "10.240.0.") {
		t.Fatalf("inspect web: %q", got)
	}
	ip6 := got[0]
	out = e.must("run", "--rm", "--network", "v6net", "busybox", "sh", "-c", retry("wget -qO- http://["+ip6+"]/"))
	if out != "hello-from-web" {
		t.Errorf("wget over IPv6 from a second container: %q", out)
	}
	// The network's resolver answers AAAA and the IPv6 PTR from the
	// address the attach gave.
	out = e.must("run", "--rm", "--network", "v6net", "busybox", "sh", "-c", "nslookup -type=AAAA web; nslookup "+ip6)
	if !strings.Contains(out, "Address: "+ip6) || !strings.Contains(out, "ip6.arpa\tname = web") {
		t.Errorf("AAAA and PTR of web:\n%s", out)
	}
	if hosts := e.must("exec", "web", "cat", "/etc/hosts"); !strings.Contains(hosts, got[6]+"\tweb\n"+ip6+"\tweb") {
		t.Errorf("/etc/hosts lacks web's IPv4 or IPv6 line:\n%s", hosts)
	}
	// -p: IPv4 as on any network, and IPv6 too (portmap adds the
	// ip6tables DNAT for the container's IPv6 address), from the peer;
	// [::] is every IPv6 address and no IPv4 one, as in Docker.
	for _, tc := range []struct{ ns, url string }{
		{ns, "http://127.0.0.1:8086/"},
		{peer, "http://192.168.77.1:8086/"},
		{peer, "http://[fdaa::1]:8086/"},
		{peer, "http://[fdaa::1]:8095/"},
	} {
		if got := wgetIn(t, tc.ns, tc.url); got != "hello-from-web" {
			t.Errorf("published port %s: %q", tc.url, got)
		}
	}
	if out, err := nsRun(peer, "timeout", "3", "busybox", "wget", "-qO-", "http://192.168.77.1:8095/"); err == nil {
		t.Errorf("a port published on [::] answered on IPv4: %s", out)
	}

	// inspect, port and ps show the IPv6 binding beside the IPv4 one.
	if got := e.must("inspect", "--format", "{{json .NetworkSettings.Ports}}", "web"); got != `{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8086"},{"HostIp":"::","HostPort":"8086"},{"HostIp":"::","HostPort":"8095"}]}` {
		t.Errorf("inspect Ports: %s", got)
	}
	if got := e.must("port", "web", "80"); got != "0.0.0.0:8086\n[::]:8086\n[::]:8095" {
		t.Errorf("port web 80: %q", got)
	}
	if got := e.must("ps", "--format", "{{.Ports}}", "--filter", "name=web"); got != "0.0.0.0:8086->80/tcp, [::]:8086->80/tcp, [::]:8095->80/tcp" {
		t.Errorf("ps PORTS: %q", got)
	}

	// --ip6 (in the range: host-local gives only from it), with --ip.
	e.must("run", "-d", "--name", "st", "--network", "v6net", "--ip", "10.240.0.150", "--ip6", "fd12:3456::150", "busybox", "sleep", "100")
	if out := e.must("exec", "st", "ip", "-o", "addr", "show", "dev", "eth0", "scope", "global"); !strings.Contains(out, "fd12:3456::150/64") || !strings.Contains(out, "10.240.0.150/24") {
		t.Errorf("--ip6 and --ip: eth0 %s", out)
	}
	if got := e.must("inspect", "--format", "{{with index .NetworkSettings.Networks \"v6net\"}}{{.IPAMConfig.IPv4Address}} {{.IPAMConfig.IPv6Address}} {{.GlobalIPv6Address}}{{end}}", "st"); got != "10.240.0.150 fd12:3456::150 fd12:3456::150" {
		t.Errorf("--ip6: inspect %q", got)
	}

	// Without an IPv6 --subnet: a /64 of the pool that no route of the
	// namespace overlaps (the first is routed here, so the second).
	nsMust(t, ns, "ip", "-6", "route", "add", "fd9b:3e7c:41d0::/64", "dev", "tpeer0")
	e.must("network", "create", "--ipv6", "v6auto")
	if got := e.must("network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}", "v6auto"); !strings.HasSuffix(got, " fd9b:3e7c:41d0:1::/64 fd9b:3e7c:41d0:1::1") {
		t.Errorf("v6auto's subnets: %q", got)
	}
	e.must("network", "connect", "--ip6", "fd9b:3e7c:41d0:1::50", "v6auto", "st")
	if out := e.must("exec", "st", "ip", "-6", "-o", "addr", "show", "dev", "eth1", "scope", "global"); !strings.Contains(out, "fd9b:3e7c:41d0:1::50/64") {
		t.Errorf("connect --ip6: eth1 %s", out)
	}

	// A stopped container connected with --ip6 gets it at its next start.
	e.must("create", "--name", "later", "--network", "v6net", "busybox", "sleep", "100")
	e.must("network", "connect", "--ip6", "fd9b:3e7c:41d0:1::60", "v6auto", "later")
	e.must("start", "later")
	if out := e.must("exec", "later", "ip", "-6", "-o", "addr", "show", "dev", "eth1", "scope", "global"); !strings.Contains(out, "fd9b:3e7c:41d0:1::60/64") {
		t.Errorf("connect --ip6 while stopped, then start: eth1 %s", out)
	}

	// network inspect and ls.
	f = "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{.Gateway}},{{.IPRange}} {{end}}{{range .Containers}}{{if eq .Name \"web\"}}{{.IPv6Address}}{{end}}{{end}}"
	if got, want := e.must("network", "inspect", "--format", f, "v6net"),
		"true 10.240.0.0/24,10.240.0.1, fd12:3456::/64,fd12:3456::fe,fd12:3456::100/120 "+ip6+"/64"; got != want {
		t.Errorf("network inspect:\n%s\nwant:\n%s", got, want)
	}
	if got := e.must("network", "ls", "--filter", "driver=bridge", "--format", "{{.Name}} {{.IPv6}}"); got != "bridge false\nv6auto true\nv6net true" {
		t.Errorf("network ls IPV6: %q", got)
	}
	if got := e.must("network", "ls", "--filter", "name=v6net", "--format", "table {{.Name}}\t{{.IPv6}}"); got != "NAME      IPV6\nv6net     true" {
		t.Errorf("network ls table: %q", got)
	}
	e.must("rm", "-f", "web", "st", "later")
	e.must("network", "rm", "v6net", "v6auto")
}

// TestNetworkIPv6BadInput: each is refused with exit 125 and one line,
// and nothing is made.
func TestNetworkIPv6BadInput(t *testing.T) {
	e, ns := newNetEnv(t)
	e.must("network", "create", "--ipv6", "--subnet", "fd12:3456::/64", "v6net")
	e.must("network", "create", "--subnet", "10.241.0.0/24", "v4only")
	e.must("network", "create", "--ipv6", "--subnet", "fd20::/64", "v6b")
	e.must("create", "--name", "c1", "--network", "v6net", "busybox", "true")
	beforeNets, beforeCtrs := e.must("network", "ls", "-q"), e.must("ps", "-aq")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"IPv6 subnet without --ipv6", []string{"network", "create", "--subnet", "fd13::/64", "x1"}, "needs --ipv6"},
		{"overlapping IPv6 subnet", []string{"network", "create", "--ipv6", "--subnet", "fd12:3456::/48", "x2"}, "overlaps fd12:3456::/64 of network v6net"},
		{"link-local IPv6 subnet", []string{"network", "create", "--ipv6", "--subnet", "fe80::/64", "x8"}, "unicast IPv6 subnet"},
		{"two IPv6 subnets", []string{"network", "create", "--ipv6", "--subnet", "fd14::/64", "--subnet", "fd15::/64", "x3"}, "one per family"},
		{"IPv6 gateway outside", []string{"network", "create", "--ipv6", "--subnet", "fd16::/64", "--gateway", "fd17::1", "x4"}, "invalid gateway fd17::1: no matching subnet"},
		{"IPv6 range outside", []string{"network", "create", "--ipv6", "--subnet", "fd16::/64", "--ip-range", "fd17::/120", "x5"}, "invalid ip-range fd17::/120: no matching subnet"},
		{"IPv6 gateway without a subnet", []string{"network", "create", "--ipv6", "--gateway", "fd16::1", "x6"}, "corresponding subnet"},
		{"--ip6 outside the subnet", []string{"run", "--rm", "--network", "v6net", "--ip6", "fd99::5", "busybox", "true"}, "does not belong"},
		{"--ip6 on a network without IPv6", []string{"run", "--rm", "--network", "v4only", "--ip6", "fd12:3456::5", "busybox", "true"}, "has no IPv6"},
		{"--ip6 not IPv6", []string{"run", "--rm", "--network", "v6net", "--ip6", "10.0.0.5", "busybox", "true"}, "invalid IPv6 address"},
		{"--ip6 the gateway", []string{"create", "--network", "v6net", "--ip6", "fd12:3456::1", "busybox", "true"}, "is the gateway"},
		{"--ip6 on the default network", []string{"run", "--rm", "--network", "bridge", "--ip6", "fd12:3456::5", "busybox", "true"}, "user defined networks only"},
		{"-p on IPv6 without IPv6", []string{"run", "--rm", "--network", "v4only", "-p", "[fd12:3456::1]:8080:80", "busybox", "true"}, "has no IPv6"},
		{"-p on the IPv6 loopback", []string{"run", "--rm", "--network", "v6net", "-p", "[::1]:8080:80", "busybox", "true"}, "use 127.0.0.1"},
		{"--ip6 with --network none", []string{"run", "--rm", "--network", "none", "--ip6", "fd12:3456::5", "busybox", "true"}, "user defined networks only"},
		{"connect --ip6 to a network without IPv6", []string{"network", "connect", "--ip6", "fd12:3456::9", "v4only", "c1"}, "has no IPv6"},
		{"connect --ip6 outside the subnet", []string{"network", "connect", "--ip6", "fd99::9", "v6b", "c1"}, "does not belong"},
	} {
		out, errOut, code := e.berth(tc.args...)
		if code != 125 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 125 and one line with %q", tc.name, code, out, errOut, tc.want)
		}
	}
	// A host with IPv6 disabled for new links: refused at create.
	nsMust(t, ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	_, errOut, code := e.berth("network", "create", "--ipv6", "x7")
	nsMust(t, ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=0")
	if code != 125 || !strings.Contains(errOut, "IPv6 is disabled on this host") {
		t.Errorf("--ipv6 with IPv6 disabled: exit %d: %s", code, errOut)
	}
	if after := e.must("network", "ls", "-q"); after != beforeNets {
		t.Errorf("networks changed:\n%s\n->\n%s", beforeNets, after)
	}
	if after := e.must("ps", "-aq"); after != beforeCtrs {
		t.Errorf("containers changed:\n%s\n->\n%s", beforeCtrs, after)
	}
	if got := e.must("inspect", "--format", "{{len .NetworkSettings.Networks}}", "c1"); got != "1" {
		t.Errorf("c1's networks after the refused connects: %s", got)
	}
}

// TestNetworkIPv6SimulatedReboot: as TestNetworkSimulatedReboot, on a
// dual-stack network: with the namespace gone, the next command still
// removes the IPv6 masquerade and DNAT rules (ip6tables) and gives both
// leases back (checkNetClean).
func TestNetworkIPv6SimulatedReboot(t *testing.T) {
	e, ns := newNetEnv(t)
	e.must("network", "create", "--ipv6", "--subnet", "10.242.0.0/24", "--subnet", "fd12:3457::/64", "v6r")
	id := e.must("run", "-d", "-p", "8089:80", "--network", "v6r", "busybox", "sleep", "100")
	if nat, _ := nsRun(ns, "ip6tables-save", "-t", "nat"); !strings.Contains(nat, "-s fd12:3457::2/128") || !strings.Contains(nat, "[fd12:3457::2]:80") {
		t.Fatalf("no IPv6 masquerade or DNAT rule for the container:\n%s", nat)
	}
	var pid int
	fmt.Sscan(e.must("inspect", "--format", "{{.State.Pid}}", id), &pid)
	syscallKill(t, monitorOf(t, id))
	syscallKill(t, pid)
	time.Sleep(200 * time.Millisecond)
	nsfiles, _ := filepath.Glob(filepath.Join(e.runRoot, "netns", "*"))
	for _, f := range nsfiles {
		exec.Command("umount", "-l", f).Run()
	}
	ents, _ := os.ReadDir(e.runRoot)
	for _, ent := range ents {
		os.RemoveAll(filepath.Join(e.runRoot, ent.Name()))
	}
	e.must("ps", "-a")
	if nat, _ := nsRun(ns, "ip6tables-save", "-t", "nat"); strings.Contains(nat, "fd12:3457::2") {
		t.Errorf("IPv6 NAT rules stay after the next command:\n%s", nat)
	}
	// It starts again with both addresses.
	e.must("start", id)
	if out := e.must("exec", id, "ip", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "10.242.0.") || !strings.Contains(out, "fd12:3457::") {
		t.Errorf("after the restart: %s", out)
	}
	e.must("rm", "-f", id)
}

// TestNetworkIPv6Macvlan: a dual-stack macvlan network on a parent the
// test makes. The macvlan plugin (1.1.1) waits in its ADD until the
// container's IPv6 address leaves DAD's tentative state (1-2 s); the
// engine turns DAD off in every container namespace it makes, so the
// start does not wait.
func TestNetworkIPv6Macvlan(t *testing.T) {
	e, ns := newNetEnv(t)
	nsMust(t, ns, "ip", "link", "add", "tpar0", "type", "veth", "peer", "name", "tpar1")
	nsMust(t, ns, "ip", "link", "set", "tpar0", "up")
	nsMust(t, ns, "ip", "link", "set", "tpar1", "up")
	e.must("network", "create", "-d", "macvlan", "-o", "parent=tpar0", "--ipv6", "--subnet", "10.243.0.0/24", "--subnet", "fd12:3458::/64", "mv6")
	start := time.Now()
	out := e.must("run", "--rm", "--network", "mv6", "--ip6", "fd12:3458::10", "busybox", "sh", "-c",
		"cat /proc/sys/net/ipv6/conf/eth0/accept_dad; ip -6 -o addr show dev eth0 scope global")
	t.Logf("run on a dual-stack macvlan network: %v", time.Since(start))
	if f := strings.Fields(out); len(f) < 1 || f[0] != "0" || !strings.Contains(out, "fd12:3458::10/64") || strings.Contains(out, "tentative") {
		t.Errorf("macvlan eth0 (accept_dad, addresses):\n%s", out)
	}
	e.must("network", "rm", "mv6")
}
