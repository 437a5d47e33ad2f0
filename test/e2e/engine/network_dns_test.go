package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/network"
)

// Name resolution between containers (issue 12): each container's monitor answers on
// 127.0.0.11:53 in the container's namespace. The upstream is dnstool -serve, run by the test
// inside its own namespace; nothing queries the machine's resolver.

// dnstoolBinary builds testdata/dnstool, static, into a directory the containers mount.
func dnstoolBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "dnstool"), "./testdata/dnstool")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("build dnstool: %v\n%s", err, b)
	}
	return dir
}

// newDNSEnv is newNetEnv whose upstream is a dnstool -serve on 127.0.0.1:5353 in the test's
// namespace (the monitor forwards from the engine's namespace, where that is reachable).
func newDNSEnv(t *testing.T) (*env, string, string) {
	t.Helper()
	e, ns := newNetEnv(t)
	tool := dnstoolBinary(t)
	if err := os.WriteFile(e.config, []byte("[network]\ndns_upstream = [\"127.0.0.1:5353\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := exec.Command("ip", "netns", "exec", ns, filepath.Join(tool, "dnstool"), "-serve", "127.0.0.1:5353")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Process.Kill(); up.Wait() })
	return e, ns, tool
}

func TestNetworkDNSNames(t *testing.T) {
	e, ns, tool := newDNSEnv(t)
	e.must("network", "create", "--subnet", "10.202.0.0/24", "dnsnet")
	id := e.must("run", "-d", "--name", "web", "--network", "dnsnet", "--network-alias", "www", "busybox", "sh", "-c", httpdCmd)
	ip := inspectIP(t, e, "web", "dnsnet")
	run := func(cmd string) string {
		return e.must("run", "--rm", "--network", "dnsnet", "-v", tool+":/t:ro", "busybox", "sh", "-c", cmd)
	}
	if rc := run("cat /etc/resolv.conf"); !strings.Contains(rc, "nameserver 127.0.0.11\n") || !strings.Contains(rc, "options ndots:0") {
		t.Errorf("resolv.conf on a user network:\n%s", rc)
	}
	// A, by name, alias, short id, in any case and with a trailing dot.
	for _, name := range []string{"web", "www", id[:12], "WeB", "web."} {
		if out := run("/t/dnstool -lookup " + name + " -want " + ip); !strings.Contains(out, "failures 0") {
			t.Errorf("lookup %s: %s", name, out)
		}
	}
	// A known name without an IPv6 address: NOERROR, no answer (not forwarded).
	if out := run("/t/dnstool -aaaa -lookup web -want none"); !strings.Contains(out, "failures 0") {
		t.Errorf("AAAA web: %s", out)
	}
	// The latency of a lookup the monitor answers itself.
	lat := run("/t/dnstool -lookup web -want " + ip + " -n 3000")
	t.Logf("3000 lookups of a container's name: %s", lat)
	// busybox's nslookup: A, and PTR of the address.
	if out := run("nslookup web"); !strings.Contains(out, ip) {
		t.Errorf("nslookup web:\n%s", out)
	}
	if out := run("nslookup " + ip); !strings.Contains(out, "name = web") {
		t.Errorf("nslookup %s:\n%s", ip, out)
	}
	// A name nobody on the network has goes to the upstream.
	if out := run("nslookup example.test"); !strings.Contains(out, "192.0.2.77") {
		t.Errorf("nslookup example.test (forwarded):\n%s", out)
	}
	// --dns on a user network: resolv.conf still names the monitor, which forwards there.
	other := exec.Command("ip", "netns", "exec", ns, filepath.Join(tool, "dnstool"), "-serve", "127.0.0.2:53", "-answer", "192.0.2.88")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	// (retry exits 0 once the upstream, just started, answered.)
	out := e.must("run", "--rm", "--network", "dnsnet", "--dns", "127.0.0.2", "-v", tool+":/t:ro", "busybox", "sh", "-c",
		"cat /etc/resolv.conf; "+retry("/t/dnstool -lookup example.test -want 192.0.2.88 -timeout 500ms | grep -q 'failures 0'"))
	if !strings.Contains(out, "nameserver 127.0.0.11\n") || strings.Contains(out, "127.0.0.2") {
		t.Errorf("--dns 127.0.0.2 on a user network:\n%s", out)
	}
	// Over TCP (a client's retry of a truncated answer): known and forwarded names.
	if out := run("/t/dnstool -tcp -lookup www -want " + ip); out != "tcp ok" {
		t.Errorf("TCP lookup www: %s", out)
	}
	if out := run("/t/dnstool -tcp -lookup example.test -want 192.0.2.77"); out != "tcp ok" {
		t.Errorf("TCP lookup example.test (forwarded): %s", out)
	}
	// Reaching the other container by name and alias, with wget.
	for _, name := range []string{"web", "www"} {
		if out := run(retry("wget -qO- http://" + name + "/")); out != "hello-from-"+id[:12] {
			t.Errorf("wget http://%s/: %q", name, out)
		}
	}
	// Malformed datagrams, then a good query: still answered.
	if out, errOut, code := e.berth("run", "--rm", "--network", "dnsnet", "-v", tool+":/t:ro", "busybox", "/t/dnstool", "-garbage", "-lookup", "web", "-want", ip); code != 0 {
		t.Errorf("after garbage: exit %d\n%s%s", code, out, errOut)
	}
	if out := e.must("exec", "web", "/bin/true"); out != "" {
		t.Errorf("web after garbage: %q", out)
	}
	// The default network has no resolver of its own, as in Docker.
	rc := e.must("run", "--rm", "--network", "bridge", "busybox", "cat", "/etc/resolv.conf")
	if strings.Contains(rc, "127.0.0.11") {
		t.Errorf("resolv.conf on the default network:\n%s", rc)
	}
	if out, _, code := e.berth("run", "--rm", "--network", "bridge", "-v", tool+":/t:ro", "busybox", "/t/dnstool", "-lookup", "web", "-want", ip, "-timeout", "300ms"); code != 0 || !strings.Contains(out, "failures 1") {
		t.Errorf("lookup on the default network: exit %d %s", code, out)
	}
	e.must("rm", "-f", "web")
	e.must("network", "rm", "dnsnet")
}

// TestNetworkDNSConnect: a connect makes the container a name on the network and gives it the
// resolver; a disconnect takes the name away.
func TestNetworkDNSConnect(t *testing.T) {
	e, _, tool := newDNSEnv(t)
	e.must("network", "create", "--subnet", "10.203.0.0/24", "cnet")
	e.must("run", "-d", "--name", "late", "--network", "bridge", "-v", tool+":/t:ro", "busybox", "sleep", "60")
	e.must("run", "-d", "--name", "peer", "--network", "cnet", "-v", tool+":/t:ro", "busybox", "sleep", "60")
	e.must("network", "connect", "--alias", "lateal", "cnet", "late")
	ip := inspectIP(t, e, "late", "cnet")
	peerIP := inspectIP(t, e, "peer", "cnet")
	for _, name := range []string{"late", "lateal"} {
		if out := e.must("exec", "peer", "/t/dnstool", "-lookup", name, "-want", ip); !strings.Contains(out, "failures 0") {
			t.Errorf("lookup %s after connect: %s", name, out)
		}
	}
	if rc := e.must("exec", "late", "cat", "/etc/resolv.conf"); !strings.Contains(rc, "nameserver 127.0.0.11\n") {
		t.Errorf("resolv.conf after a connect to a user network:\n%s", rc)
	}
	if out := e.must("exec", "late", "/t/dnstool", "-lookup", "peer", "-want", peerIP); !strings.Contains(out, "failures 0") {
		t.Errorf("lookup from the connected container: %s", out)
	}
	// On two user networks, a container sees the names of both; the others see their own only.
	e.must("network", "create", "--subnet", "10.207.0.0/24", "cnet2")
	e.must("run", "-d", "--name", "far", "--network", "cnet2", "-v", tool+":/t:ro", "busybox", "sleep", "60")
	farIP := inspectIP(t, e, "far", "cnet2")
	e.must("network", "connect", "cnet2", "late")
	if out := e.must("exec", "late", "/t/dnstool", "-lookup", "far", "-want", farIP); !strings.Contains(out, "failures 0") {
		t.Errorf("lookup far from a container on both networks: %s", out)
	}
	if out := e.must("exec", "peer", "/t/dnstool", "-lookup", "far", "-want", farIP, "-timeout", "1s"); !strings.Contains(out, "failures 1") {
		t.Errorf("lookup far from another network: %s", out)
	}
	// --network container: shares the resolver of the container whose namespace it joins.
	if out := e.must("run", "--rm", "--network", "container:far", "-v", tool+":/t:ro", "busybox", "sh", "-c",
		"grep -q 'nameserver 127.0.0.11' /etc/resolv.conf && /t/dnstool -lookup late -want "+inspectIP(t, e, "late", "cnet2")); !strings.Contains(out, "failures 0") {
		t.Errorf("lookup from --network container:far: %s", out)
	}
	e.must("network", "disconnect", "cnet2", "late")
	e.must("rm", "-f", "far")
	e.must("network", "rm", "cnet2")
	// A rename renames it on the network too.
	e.must("rename", "late", "later")
	if out := e.must("exec", "peer", "/t/dnstool", "-lookup", "later", "-want", ip); !strings.Contains(out, "failures 0") {
		t.Errorf("lookup after rename: %s", out)
	}
	if out := e.must("exec", "peer", "/t/dnstool", "-lookup", "late", "-want", ip, "-timeout", "1s"); !strings.Contains(out, "failures 1") {
		t.Errorf("the old name after rename: %s", out)
	}
	e.must("network", "disconnect", "cnet", "later")
	if out := e.must("exec", "peer", "/t/dnstool", "-lookup", "later", "-want", ip, "-timeout", "1s"); !strings.Contains(out, "failures 1") {
		t.Errorf("lookup later after disconnect: %s", out)
	}
	// Back on the default network only: the upstreams in resolv.conf, and no listener.
	if rc := e.must("exec", "later", "cat", "/etc/resolv.conf"); strings.Contains(rc, "127.0.0.11") {
		t.Errorf("resolv.conf after the last user network went:\n%s", rc)
	}
	if out := e.must("exec", "later", "/t/dnstool", "-lookup", "peer", "-want", peerIP, "-timeout", "300ms"); !strings.Contains(out, "failures 1") {
		t.Errorf("lookup from the disconnected container: %s", out)
	}
	e.must("rm", "-f", "later", "peer")
	e.must("network", "rm", "cnet")
}

// TestNetworkDNSLoop is the loop: 10,000 lookups of a stable container's name while 20
// other containers join and leave the network, with zero failures.
func TestNetworkDNSLoop(t *testing.T) {
	e, _, tool := newDNSEnv(t)
	e.must("network", "create", "--subnet", "10.204.0.0/24", "loopnet")
	e.must("run", "-d", "--name", "stable", "--network", "loopnet", "busybox", "sleep", "300")
	ip := inspectIP(t, e, "stable", "loopnet")
	stop := filepath.Join(tool, "stop")
	// The looper runs detached; its output is read from its logs at the end.
	e.must("run", "-d", "--name", "looper", "--network", "loopnet", "-v", tool+":/t", "busybox",
		"/t/dnstool", "-lookup", "stable", "-want", ip, "-n", "10000", "-gap", "500us", "-until", "/t/stop")
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				name := "churn" + strconv.Itoa(w*10+i)
				args := []string{"run", "-d", "--name", name, "--network", "loopnet", "--network-alias", "stable-not", "busybox", "sleep", "60"}
				if i%3 == 2 {
					// A join by connect, a leave by disconnect.
					args = []string{"run", "-d", "--name", name, "--network", "bridge", "busybox", "sleep", "60"}
				}
				if out, errOut, code := e.berth(args...); code != 0 {
					errs <- fmt.Sprintf("run %s: %d %s%s", name, code, out, errOut)
					continue
				}
				if i%3 == 2 {
					if out, errOut, code := e.berth("network", "connect", "loopnet", name); code != 0 {
						errs <- fmt.Sprintf("connect %s: %d %s%s", name, code, out, errOut)
					}
					if out, errOut, code := e.berth("network", "disconnect", "loopnet", name); code != 0 {
						errs <- fmt.Sprintf("disconnect %s: %d %s%s", name, code, out, errOut)
					}
				}
				if out, errOut, code := e.berth("rm", "-f", name); code != 0 {
					errs <- fmt.Sprintf("rm %s: %d %s%s", name, code, out, errOut)
				}
			}
		}()
	}
	wg.Wait()
	churn := time.Since(start)
	close(errs)
	for s := range errs {
		t.Error(s)
	}
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs string
	waitFor(t, "the looper to finish", 3*time.Minute, func() bool {
		logs = e.must("logs", "looper")
		return strings.Contains(logs, "lookups ")
	})
	t.Logf("churn of 20 containers took %v; looper: %s", churn.Round(time.Millisecond), logs)
	var n, fails, med, p99 int
	if _, err := fmt.Sscanf(logs, "lookups %d failures %d median %d p99 %d", &n, &fails, &med, &p99); err != nil {
		t.Fatalf("looper output %q: %v", logs, err)
	}
	if n < 10000 || fails != 0 {
		t.Errorf("%d lookups, %d failures (want >= 10000, 0):\n%s", n, fails, logs)
	}
	// The looper prints its last line just before it exits: wait for the
	// exit rather than race it.
	if code := e.must("wait", "looper"); code != "0" {
		t.Errorf("looper exited %s", code)
	}
	if st := e.must("inspect", "--format", "{{.State.Status}}", "looper"); st != "exited" {
		t.Errorf("looper is %s", st)
	}
	e.must("rm", "-f", "stable", "looper")
	e.must("network", "rm", "loopnet")
}

// TestNetworkDNSRecords: the monitor answers AAAA and ip6.arpa PTR from the network's records
// file, picks up a file replaced under it, and a container whose monitor and init were killed
// loses its name at the next command (the reap path).
func TestNetworkDNSRecords(t *testing.T) {
	e, _, tool := newDNSEnv(t)
	e.must("network", "create", "--subnet", "10.205.0.0/24", "recnet")
	netID := e.must("network", "inspect", "--format", "{{.ID}}", "recnet")
	e.must("run", "-d", "--name", "asker", "--network", "recnet", "-v", tool+":/t:ro", "busybox", "sleep", "60")
	victim := e.must("run", "-d", "--name", "victim", "--network", "recnet", "busybox", "sleep", "60")
	victimIP := inspectIP(t, e, "victim", "recnet")
	lookup := func(args ...string) string {
		return e.must(append([]string{"exec", "asker", "/t/dnstool", "-timeout", "1s"}, args...)...)
	}
	// An IPv6 address for a name, as an --ipv6 network's attach writes it.
	dir := filepath.Join(e.root, "networks", "dns")
	if err := network.SetDNSRecords(dir, netID, "test-owner", []network.DNSRecord{
		{Addr: "10.205.0.200", Names: []string{"dual"}}, {Addr: "fd00:db8::c8", Names: []string{"dual"}}}); err != nil {
		t.Fatal(err)
	}
	if out := lookup("-aaaa", "-lookup", "dual", "-want", "fd00:db8::c8"); !strings.Contains(out, "failures 0") {
		t.Errorf("AAAA dual: %s", out)
	}
	if out := lookup("-lookup", "dual", "-want", "10.205.0.200"); !strings.Contains(out, "failures 0") {
		t.Errorf("A dual: %s", out)
	}
	if out := e.must("exec", "asker", "nslookup", "fd00:db8::c8"); !strings.Contains(out, "name = dual") {
		t.Errorf("PTR of fd00:db8::c8:\n%s", out)
	}
	if err := network.SetDNSRecords(dir, netID, "test-owner", nil); err != nil {
		t.Fatal(err)
	}
	if out := lookup("-lookup", "dual", "-want", "10.205.0.200"); !strings.Contains(out, "failures 1") {
		t.Errorf("dual after its records went: %s", out)
	}
	// A container whose monitor alone was killed has no resolver any more (nothing listens on
	// 127.0.0.11:53); the others' lookups go on, and its name stays while it runs.
	orphan := e.must("run", "-d", "--name", "orphan", "--network", "recnet", "-v", tool+":/t:ro", "busybox", "sleep", "60")
	orphanIP := inspectIP(t, e, "orphan", "recnet")
	syscallKill(t, monitorOf(t, orphan))
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if out := e.must("exec", "orphan", "/t/dnstool", "-lookup", "asker", "-want", "10.205.0.2", "-timeout", "1s"); !strings.Contains(out, "failures 1") {
		t.Errorf("lookup from a container without its monitor: %s", out)
	} else {
		t.Logf("a lookup without the monitor: %s in %v", strings.TrimSpace(out), time.Since(t0).Round(time.Millisecond))
	}
	if out := lookup("-lookup", "orphan", "-want", orphanIP); !strings.Contains(out, "failures 0") {
		t.Errorf("lookup of the container whose monitor died: %s", out)
	}
	// Killed: the next command tears the network down, and the name goes with it.
	if out := lookup("-lookup", "victim", "-want", victimIP); !strings.Contains(out, "failures 0") {
		t.Errorf("victim before: %s", out)
	}
	var pid int
	fmt.Sscan(e.must("inspect", "--format", "{{.State.Pid}}", victim), &pid)
	syscallKill(t, monitorOf(t, victim))
	syscallKill(t, pid)
	time.Sleep(200 * time.Millisecond)
	e.must("ps", "-a")
	if out := lookup("-lookup", "victim", "-want", victimIP); !strings.Contains(out, "failures 1") {
		t.Errorf("victim after its monitor was killed and the next command ran: %s", out)
	}
	if recs, err := network.ReadDNSRecords(dir, netID); err != nil || len(recs) != 2 {
		t.Errorf("records after the reap (asker and orphan): %v %v", recs, err)
	}
	e.must("rm", "-f", "asker", "victim", "orphan")
	if recs, _ := network.ReadDNSRecords(dir, netID); len(recs) != 0 {
		t.Errorf("records after rm: %v", recs)
	}
	e.must("network", "rm", "recnet")
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("dns records dir after network rm: %v", ents)
	}
}
