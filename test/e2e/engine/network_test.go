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

// The network tests run every berth command, and every client, inside the
// network namespace their env makes (netns_test.go; issue 12, "Safety in
// tests"): it holds loopback and the links the test adds, so that even a
// NAT network has no path off the machine, and ip_forward and iptables
// changes stay in it. The upstream resolver is configured to an address
// nothing answers; no test looks a name up through it.

// newNetEnv is the env of a network test (newEnv makes its namespace,
// returned by name), skipped where the plugins or iptables are missing.
func newNetEnv(t *testing.T) (*env, string) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("no CNI plugins in /usr/lib/cni (containernetworking-plugins)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("no iptables (hack/packages.txt)")
	}
	if guest {
		t.Skip("the guest has no CNI plugins and no ip netns")
	}
	e := newEnv(t)
	return e, e.ns
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

// peerNetns makes a second namespace joined to ns by a veth: ns has
// 192.168.77.1/24 on tpeer0, the peer 192.168.77.2/24 on tpeer1.
func peerNetns(t *testing.T, ns string) string {
	t.Helper()
	peer := testNetns(t)
	nsMust(t, ns, "ip", "link", "add", "tpeer0", "type", "veth", "peer", "name", "tpeer1", "netns", peer)
	nsMust(t, ns, "ip", "addr", "add", "192.168.77.1/24", "dev", "tpeer0")
	nsMust(t, ns, "ip", "link", "set", "tpeer0", "up")
	nsMust(t, peer, "ip", "addr", "add", "192.168.77.2/24", "dev", "tpeer1")
	nsMust(t, peer, "ip", "link", "set", "tpeer1", "up")
	return peer
}

// udpechoBinary builds testdata/udpecho, static, once per test.
func udpechoBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "udpecho")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/udpecho")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("build udpecho: %v\n%s", err, b)
	}
	return out
}

// wgetIn fetches url from inside ns (the host's busybox), retrying.
func wgetIn(t *testing.T, ns, url string) string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c", retry("timeout 3 busybox wget -qO- "+url+" 2>/dev/null"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wget %s in %s: %v\n%s", url, ns, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestNetworkPublish(t *testing.T) {
	e, ns := newNetEnv(t)
	peer := peerNetns(t, ns)
	udp := udpechoBinary(t)
	srv := "mkdir -p /www && echo hello > /www/index.html && httpd -p 90 -h /www && httpd -p 91 -h /www && " +
		"(/udpecho -l :9053 &) && (/udpecho -t :92 &) && exec httpd -f -p 80 -h /www"
	e.must("run", "-d", "--name", "pub", "--network", "bridge", "-v", udp+":/udpecho:ro",
		"-p", "8080:80", "-p", "127.0.0.1:8081:80", "-p", "9053:9053/udp", "-p", "8090-8091:90-91", "-p", "8092:92",
		"busybox", "sh", "-c", srv)
	for _, url := range []string{"http://127.0.0.1:8080/", "http://127.0.0.1:8081/", "http://127.0.0.1:8090/", "http://127.0.0.1:8091/"} {
		if got := wgetIn(t, ns, url); got != "hello" {
			t.Errorf("%s from the namespace's loopback: %q", url, got)
		}
	}
	// From the second namespace, through the veth: the container sees
	// the client's own address (no masquerade on the way in).
	if got := wgetIn(t, peer, "http://192.168.77.1:8080/"); got != "hello" {
		t.Errorf("from the peer namespace: %q", got)
	}
	out, err := exec.Command("ip", "netns", "exec", peer, "sh", "-c", retry("timeout 3 busybox nc 192.168.77.1 8092 </dev/null | grep from")).Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != "from 192.168.77.2" {
		t.Errorf("the container saw the peer as %q, want from 192.168.77.2", got)
	}
	// 127.0.0.1:8081 is bound to loopback only: not reachable from the peer.
	if out, err := nsRun(peer, "timeout", "3", "busybox", "wget", "-qO-", "http://192.168.77.1:8081/"); err == nil {
		t.Errorf("a port published on 127.0.0.1 answered on 192.168.77.1: %s", out)
	}
	if out, err := nsRun(peer, udp, "-c", "192.168.77.1:9053", "ping"); err != nil || strings.TrimSpace(out) != "pong 192.168.77.2 ping" {
		t.Errorf("UDP from the peer: %v %q", err, out)
	}
	if out, err := nsRun(ns, udp, "-c", "127.0.0.1:9053", "ping"); err != nil || !strings.HasPrefix(out, "pong ") {
		t.Errorf("UDP from loopback: %v %q", err, out)
	}
	ports := e.must("inspect", "--format", "{{json .NetworkSettings.Ports}}", "pub")
	for _, want := range []string{`"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"127.0.0.1","HostPort":"8081"}]`,
		`"9053/udp":[{"HostIp":"0.0.0.0","HostPort":"9053"}]`, `"90/tcp":[{"HostIp":"0.0.0.0","HostPort":"8090"}]`} {
		if !strings.Contains(ports, want) {
			t.Errorf("inspect Ports lacks %s:\n%s", want, ports)
		}
	}
	if got := e.must("port", "pub", "80/tcp"); got != "0.0.0.0:8080\n127.0.0.1:8081" {
		t.Errorf("port pub 80/tcp: %q", got)
	}
	if got := e.must("port", "pub", "9053/udp"); got != "0.0.0.0:9053" {
		t.Errorf("port pub 9053/udp: %q", got)
	}
	if ps := e.must("ps", "--format", "{{.Ports}}", "--filter", "name=pub"); !strings.Contains(ps, "127.0.0.1:8081->80/tcp") || !strings.Contains(ps, "0.0.0.0:9053->9053/udp") {
		t.Errorf("ps PORTS: %s", ps)
	}
	// A port another container publishes, or a process holds, is refused.
	_, errOut, code := e.berth("run", "--rm", "--network", "bridge", "-p", "8080:80", "busybox", "true")
	if code != 125 || !strings.Contains(errOut, "port is already allocated") {
		t.Errorf("a second -p 8080: exit %d: %s", code, errOut)
	}
	holder := exec.Command("ip", "netns", "exec", ns, "busybox", "nc", "-l", "-p", "8085")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	time.Sleep(200 * time.Millisecond)
	_, errOut, code = e.berth("run", "--rm", "--network", "bridge", "-p", "8085:80", "busybox", "true")
	if code != 125 || !strings.Contains(errOut, "port is already allocated") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("-p of a port a process holds: exit %d: %s", code, errOut)
	}
	e.must("rm", "-f", "pub")
	// The ports are free again (no rule left to steal them).
	if out, err := nsRun(ns, "timeout", "3", "busybox", "wget", "-qO-", "http://127.0.0.1:8080/"); err == nil {
		t.Errorf("after rm, 8080 still answers: %s", out)
	}
}

func TestNetworkPublishAll(t *testing.T) {
	e, ns := newNetEnv(t)
	// An image whose config EXPOSEs 80.
	tarball := filepath.Join(t.TempDir(), "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsDir, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	e.must("import", "-c", "EXPOSE 80", tarball, "exposed:latest")
	e.must("run", "-d", "--name", "pa", "--network", "bridge", "-P", "--expose", "91", "exposed", "sh", "-c",
		"mkdir -p /www && echo all > /www/index.html && httpd -p 91 -h /www && exec httpd -f -p 80 -h /www")
	for _, p := range []string{"80/tcp", "91/tcp"} {
		hp := e.must("inspect", "--format", "{{(index (index .NetworkSettings.Ports \""+p+"\") 0).HostPort}}", "pa")
		if got := wgetIn(t, ns, "http://127.0.0.1:"+hp+"/"); got != "all" {
			t.Errorf("-P %s on host port %s: %q", p, hp, got)
		}
	}
}

func TestNetworkAddHostDNS(t *testing.T) {
	e, ns := newNetEnv(t)
	gw := e.must("network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", "bridge")
	// A server on the host side (the test's namespace), reached by name.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("from-host\n"), 0o644)
	srv := exec.Command("ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", "18080", "-h", dir)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	out := e.must("run", "--rm", "--network", "bridge", "--add-host", "gw.test:host-gateway", "--add-host", "other.test:192.0.2.9",
		// By the address the hosts file gives: the static busybox's
		// resolver cannot read /etc/hosts (glibc's NSS needs dlopen).
		"busybox", "sh", "-c", "cat /etc/hosts; gw=$(grep gw.test /etc/hosts | cut -f1); "+retry("wget -qO- http://$gw:18080/"))
	for _, want := range []string{gw + "\tgw.test", "192.0.2.9\tother.test", "127.0.0.1\tlocalhost", "from-host"} {
		if !strings.Contains(out, want) {
			t.Errorf("--add-host: output lacks %q:\n%s", want, out)
		}
	}
	// --dns*: the resolv.conf is theirs alone.
	out = e.must("run", "--rm", "--network", "bridge", "--dns", "192.0.2.1", "--dns", "192.0.2.2", "--dns-search", "example.test",
		"--dns-option", "ndots:2", "busybox", "cat", "/etc/resolv.conf")
	if want := "nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch example.test\noptions ndots:2"; out != want {
		t.Errorf("--dns resolv.conf:\n%s\nwant:\n%s", out, want)
	}
	// Without: the configured upstream.
	out = e.must("run", "--rm", "--hostname", "named", "busybox", "sh", "-c", "cat /etc/resolv.conf /etc/hostname; hostname")
	if !strings.Contains(out, "nameserver 192.0.2.53") || !strings.Contains(out, "named\nnamed") {
		t.Errorf("default resolv.conf and hostname:\n%s", out)
	}
}

func TestNetworkNoneAndContainer(t *testing.T) {
	e, _ := newNetEnv(t)
	out := e.must("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net; ip route")
	if strings.Fields(out)[0] != "lo" || len(strings.Fields(out)) != 1 {
		t.Errorf("--network none: links and routes %q, want lo only", out)
	}
	e.must("network", "create", "--subnet", "10.202.0.0/24", "--label", "k=v", "net2")
	e.must("run", "-d", "--name", "owner", "--network", "net2", "busybox", "sh", "-c", httpdCmd)
	ip := inspectIP(t, e, "owner", "net2")
	out = e.must("run", "--rm", "--network", "container:owner", "busybox", "sh", "-c", "ip -o -4 addr show eth0; "+retry("wget -qO- http://127.0.0.1/"))
	if !strings.Contains(out, ip+"/24") || !strings.Contains(out, "hello-from-") {
		t.Errorf("container: sharing: %s", out)
	}
	// network inspect lists the running container; ls, filters, -q.
	if got := e.must("network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "net2"); got != "owner "+ip+"/24" {
		t.Errorf("network inspect containers: %q", got)
	}
	if got := e.must("network", "ls", "--filter", "label=k=v", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); got != "net2 bridge local" {
		t.Errorf("network ls --filter label: %q", got)
	}
	ls := e.must("network", "ls")
	if lines := strings.Split(ls, "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "NETWORK ID     NAME      DRIVER    SCOPE") {
		t.Errorf("network ls:\n%s", ls)
	}
	if q := e.must("network", "ls", "-q", "--filter", "name=net2"); len(q) != 12 {
		t.Errorf("network ls -q: %q", q)
	}
	// rm of a network in use: refused, nothing changed.
	_, errOut, code := e.berth("network", "rm", "net2")
	if code != 125 || !strings.Contains(errOut, "active endpoints") {
		t.Errorf("network rm in use: exit %d: %s", code, errOut)
	}
	e.must("rm", "-f", "owner")
	if got := e.must("network", "prune", "-f"); got != "Deleted Networks:\nnet2" {
		t.Errorf("network prune: %q", got)
	}
}

func TestNetworkInternal(t *testing.T) {
	e, _ := newNetEnv(t)
	e.must("network", "create", "--internal", "--subnet", "10.203.0.0/24", "int1")
	out := e.must("run", "--rm", "--network", "int1", "busybox", "ip", "route")
	if strings.Contains(out, "default") || !strings.Contains(out, "10.203.0.0/24") {
		t.Errorf("--internal network routes:\n%s", out)
	}
	if got := e.must("network", "inspect", "--format", "{{.Internal}}", "int1"); got != "true" {
		t.Errorf("Internal: %s", got)
	}
}

func TestNetworkBadInput(t *testing.T) {
	e, _ := newNetEnv(t)
	e.must("network", "create", "--subnet", "10.204.0.0/24", "--ip-range", "10.204.0.128/25", "net4")
	before := e.must("network", "ls", "-q")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"overlapping subnet", []string{"network", "create", "--subnet", "10.204.0.0/16", "x1"}, "overlaps"},
		{"gateway outside", []string{"network", "create", "--subnet", "10.205.0.0/24", "--gateway", "10.206.0.1", "x2"}, "invalid gateway"},
		{"taken name", []string{"network", "create", "--subnet", "10.207.0.0/24", "net4"}, "already exists"},
		{"macvlan without parent", []string{"network", "create", "-d", "macvlan", "--subnet", "10.208.0.0/24", "x3"}, "parent="},
		{"address outside the subnet", []string{"run", "--rm", "--network", "net4", "--ip", "10.99.0.5", "busybox", "true"}, "does not belong"},
		{"--ip on the default network", []string{"run", "--rm", "--ip", "10.90.0.5", "--network", "bridge", "busybox", "true"}, "user defined networks only"},
		{"unknown network", []string{"run", "--rm", "--network", "nosuch", "busybox", "true"}, "network nosuch not found"},
		{"bad -p", []string{"run", "--rm", "-p", "80:90-91", "busybox", "true"}, "invalid -p"},
		{"rm unknown", []string{"network", "rm", "nosuch"}, "not found"},
		{"rm predefined", []string{"network", "rm", "bridge"}, "pre-defined"},
	} {
		out, errOut, code := e.berth(tc.args...)
		if code != 125 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 125 and one line with %q", tc.name, code, out, errOut, tc.want)
		}
	}
	if after := e.must("network", "ls", "-q"); after != before {
		t.Errorf("networks changed:\n%s\n->\n%s", before, after)
	}
	// A configuration list broken by hand: a run on it is refused before
	// anything is made.
	broken := filepath.Join(e.root, "networks", "broken.conflist")
	if err := os.WriteFile(broken, []byte(`{"cniVersion": "1.0.0", "plugins": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := e.berth("run", "--rm", "--network", "broken", "busybox", "true"); code != 125 || !strings.Contains(errOut, "malformed configuration list") {
		t.Errorf("run on a malformed network: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	os.Remove(broken)
	if ps := e.must("ps", "-aq"); ps != "" {
		t.Errorf("containers left: %s", ps)
	}
	// --ip inside the range is given, and the MAC asked for.
	out := e.must("run", "--rm", "--network", "net4", "--ip", "10.204.0.200", "--mac-address", "02:42:0a:cc:00:c8", "busybox", "ip", "-o", "addr", "show", "eth0")
	if !strings.Contains(out, "10.204.0.200/24") {
		t.Errorf("--ip: %s", out)
	}
	out = e.must("run", "--rm", "--network", "net4", "busybox", "ip", "link", "show", "eth0")
	if !strings.Contains(out, "link/ether") {
		t.Errorf("eth0: %s", out)
	}
	mac := e.must("run", "--rm", "--network", "net4", "--mac-address", "02:42:0a:cc:00:c8", "busybox", "cat", "/sys/class/net/eth0/address")
	if mac != "02:42:0a:cc:00:c8" {
		t.Errorf("--mac-address: %s", mac)
	}
	// A plugin's ADD that fails (the address is another's) runs while the
	// runtime creates the container: the start still fails with 125, the
	// container never ran, and nothing of its network stays.
	e.must("run", "-d", "--name", "holder", "--network", "net4", "--ip", "10.204.0.201", "busybox", "sleep", "100")
	out, errOut, code := e.berth("run", "--name", "taker", "--network", "net4", "--ip", "10.204.0.201", "busybox", "touch", "/ran")
	if code != 125 || !strings.Contains(errOut, "10.204.0.201") {
		t.Errorf("taken --ip: exit %d, stdout %q, stderr %q; want 125 naming the address", code, out, errOut)
	}
	if st := e.must("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "taker"); st != "created 0" && !strings.HasPrefix(st, "exited") {
		t.Errorf("taker after a failed start: %s", st)
	}
	if d := e.must("diff", "taker"); strings.Contains(d, "/ran") {
		t.Errorf("taker's process ran: %s", d)
	}
	e.must("rm", "taker")
	e.must("rm", "-f", "holder")
}

// TestNetworkKilledMonitor: a container whose monitor and init were
// killed (no exit command ran) has its network undone by the next
// command: no veth, rule or lease stays.
func TestNetworkKilledMonitor(t *testing.T) {
	e, ns := newNetEnv(t)
	id := e.must("run", "-d", "-p", "8087:80", "--network", "bridge", "busybox", "sleep", "100")
	pid := e.must("inspect", "--format", "{{.State.Pid}}", id)
	syscallKill(t, monitorOf(t, id))
	var p int
	fmt.Sscan(pid, &p)
	syscallKill(t, p)
	time.Sleep(200 * time.Millisecond)
	e.must("ps", "-a")
	links, _ := nsRun(ns, "ip", "-o", "link", "show", "type", "veth")
	if strings.TrimSpace(links) != "" {
		t.Errorf("after the next command, veths stay:\n%s", links)
	}
	if ports := e.must("inspect", "--format", "{{json .NetworkSettings.Ports}}", id); strings.Contains(ports, "8087") {
		t.Errorf("a dead container keeps its port: %s", ports)
	}
	// The port is free for another container.
	e.must("run", "--rm", "-p", "8087:80", "--network", "bridge", "busybox", "true")
}

func syscallKill(t *testing.T, pid int) {
	t.Helper()
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

// TestNetworkMacvlanIPvlan: macvlan and ipvlan networks on a parent link
// the test makes in its namespace (never the host's interface).
func TestNetworkMacvlanIPvlan(t *testing.T) {
	e, ns := newNetEnv(t)
	// The kernel here has no dummy links: one end of a veth pair is the
	// parent instead.
	nsMust(t, ns, "ip", "link", "add", "tpar0", "type", "veth", "peer", "name", "tpar1")
	nsMust(t, ns, "ip", "link", "set", "tpar0", "up")
	nsMust(t, ns, "ip", "link", "set", "tpar1", "up")
	for _, tc := range []struct{ driver, subnet, ip string }{
		{"macvlan", "10.210.0.0/24", "10.210.0.10"},
		{"ipvlan", "10.211.0.0/24", "10.211.0.10"},
	} {
		name := "n" + tc.driver
		e.must("network", "create", "-d", tc.driver, "-o", "parent=tpar0", "--subnet", tc.subnet, name)
		out, errOut, code := e.berth("run", "--rm", "--network", name, "--ip", tc.ip, "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
		if code != 0 && strings.Contains(errOut, "operation not supported") {
			// The kernel lacks the driver (no ipvlan module here): the
			// failed start must still leave nothing (checkNetClean).
			t.Logf("%s: not supported by this kernel: %s", tc.driver, errOut)
			e.must("network", "rm", name)
			continue
		}
		if code != 0 || !strings.Contains(out, tc.ip+"/24") {
			t.Errorf("%s: exit %d: eth0 %s%s", tc.driver, code, out, errOut)
		}
		if d := e.must("network", "inspect", "--format", "{{.Driver}} {{.Options.parent}}", name); d != tc.driver+" tpar0" {
			t.Errorf("%s: inspect %s", tc.driver, d)
		}
		e.must("network", "rm", name)
	}
	_, errOut, code := e.berth("network", "create", "-d", "macvlan", "-o", "parent=nosuch0", "--subnet", "10.212.0.0/24", "x")
	if code != 125 || !strings.Contains(errOut, "invalid parent") {
		t.Errorf("macvlan on a missing parent: exit %d: %s", code, errOut)
	}
}

// TestNetworkConnect: connect and disconnect of a running container.
func TestNetworkConnect(t *testing.T) {
	e, _ := newNetEnv(t)
	start := time.Now()
	e.must("network", "create", "--subnet", "10.220.0.0/24", "front")
	e.must("network", "create", "--subnet", "10.221.0.0/24", "back")
	e.must("run", "-d", "--name", "db", "--hostname", "db", "--network", "back", "busybox", "sh", "-c", httpdCmd)
	dbIP := inspectIP(t, e, "db", "back")
	e.must("run", "-d", "--name", "app", "--network", "front", "busybox", "sleep", "100")
	e.must("network", "connect", "--ip", "10.221.0.50", "--alias", "application", "back", "app")
	out := e.must("exec", "app", "sh", "-c", "ip -o -4 addr show eth1; "+retry("wget -qO- http://"+dbIP+"/"))
	if !strings.Contains(out, "10.221.0.50/24") || !strings.Contains(out, "hello-from-db") {
		t.Errorf("after connect: %s", out)
	}
	if got := e.must("inspect", "--format", "{{(index .NetworkSettings.Networks \"back\").Aliases}}", "app"); got != "[application]" {
		t.Errorf("aliases: %s", got)
	}
	_, errOut, code := e.berth("network", "connect", "back", "app")
	if code != 125 || !strings.Contains(errOut, "already exists") {
		t.Errorf("connect twice: exit %d: %s", code, errOut)
	}
	e.must("network", "disconnect", "back", "app")
	if out, _, _ := e.berth("exec", "app", "ls", "/sys/class/net"); strings.Contains(out, "eth1") {
		t.Errorf("after disconnect, eth1 stays: %s", out)
	}
	_, errOut, code = e.berth("network", "disconnect", "back", "app")
	if code != 125 || !strings.Contains(errOut, "is not connected") {
		t.Errorf("disconnect twice: exit %d: %s", code, errOut)
	}
	// A stopped container connects at its next start.
	e.must("stop", "-t", "0", "app")
	e.must("network", "connect", "back", "app")
	e.must("start", "app")
	if out := e.must("exec", "app", "ls", "/sys/class/net"); !strings.Contains(out, "eth1") {
		t.Errorf("connected while stopped, started: %s", out)
	}
	_, errOut, code = e.berth("network", "connect", "front", "nosuch")
	if code != 125 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("connect of a missing container: exit %d: %s", code, errOut)
	}
	// Docker's network events: create, connect at start and by connect,
	// disconnect at stop and by disconnect.
	ev := e.must("events", "--since", unixArg(start), "--until", unixArg(time.Now()), "--filter", "type=network",
		"--filter", "network=back", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}")
	if want := "create back bridge\nconnect back bridge\nconnect back bridge\ndisconnect back bridge\nconnect back bridge"; !strings.HasPrefix(ev, want) {
		t.Errorf("network events:\n%s\nwant first:\n%s", ev, want)
	}
}

// TestNetworkSimulatedReboot: the container's processes die, its
// namespace goes and the run root is emptied, as a reboot does; the next
// command gives the lease back and removes the NAT and masquerade rules
// (which a real reboot would have dropped; here they stay until then).
func TestNetworkSimulatedReboot(t *testing.T) {
	e, ns := newNetEnv(t)
	id := e.must("run", "-d", "-p", "8088:80", "--network", "bridge", "busybox", "sleep", "100")
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
	if got := e.must("ps", "-a", "--format", "{{.Status}}"); !strings.HasPrefix(got, "Exited") {
		t.Errorf("after the reboot: %s", got)
	}
	nat, _ := nsRun(ns, "iptables-save", "-t", "nat")
	perContainer := false // a masquerade chain of the container's address
	for _, l := range strings.Split(nat, "\n") {
		if strings.Contains(l, "-j CNI-") && strings.Contains(l, "-s 10.90.") {
			perContainer = true
		}
	}
	if strings.Contains(nat, "8088") || perContainer {
		t.Errorf("NAT rules stay after the next command:\n%s", nat)
	}
	leases, _ := filepath.Glob(filepath.Join(e.root, "networks", "ipam", "bridge", "bridge", "10.*"))
	if len(leases) > 0 {
		t.Errorf("leases stay: %v", leases)
	}
	// The container starts again, on the same port.
	e.must("start", id)
	e.must("rm", "-f", id)
}

// TestNetworkRestartPolicy: a container restarted by its policy gets its
// network back at each start (the exit tore it down).
func TestNetworkRestartPolicy(t *testing.T) {
	e, ns := newNetEnv(t)
	e.must("network", "create", "--subnet", "10.230.0.0/24", "rnet")
	id := e.must("run", "-d", "--restart", "on-failure:2", "--network", "rnet", "-p", "8093:80", "busybox", "sh", "-c", "ip -o -4 addr show eth0; exit 3")
	deadline := time.Now().Add(20 * time.Second)
	for e.must("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", id) != "2 exited" {
		if time.Now().After(deadline) {
			t.Fatalf("no second restart: %s", e.must("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", id))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the last exit command
	if logs := e.must("logs", id); strings.Count(logs, "inet 10.230.0.") != 3 {
		t.Errorf("three runs, each with an address on rnet:\n%s", logs)
	}
	if links, _ := nsRun(ns, "ip", "-o", "link", "show", "type", "veth"); strings.TrimSpace(links) != "" {
		t.Errorf("after the last exit, veths stay:\n%s", links)
	}
}
