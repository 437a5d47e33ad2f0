package engine_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetworkDefault: a container that names no network is on the
// default bridge network, as in Docker; berth.toml's
// network.default_network = "none" makes the default loopback only.
func TestNetworkDefault(t *testing.T) {
	e, _ := newNetEnv(t)
	out := e.must("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0; ip route")
	if !strings.Contains(out, "inet 10.90.") || !strings.Contains(out, "default via 10.90.0.1") {
		t.Errorf("run with no --network: want an address and a route on the default bridge:\n%s", out)
	}
	id := e.must("create", "busybox", "true")
	if got := e.must("inspect", "--format", "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", id); got != "bridge bridge" {
		t.Errorf("create with no --network: NetworkMode and networks %q, want \"bridge bridge\"", got)
	}
	e.must("rm", id)

	if err := os.WriteFile(e.config, []byte(envConfig()+"default_network = \"none\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := e.must("run", "--rm", "busybox", "ls", "/sys/class/net"); out != "lo" {
		t.Errorf("default_network = none: links %q, want lo only", out)
	}
	if got := e.must("inspect", "--format", "{{.HostConfig.NetworkMode}}", e.must("create", "busybox", "true")); got != "none" {
		t.Errorf("default_network = none: NetworkMode %q", got)
	}
}

// TestNetworkMissingTools: a bridge run on a machine without the CNI
// plugins or without iptables is a clear one-line error, 125, and leaves
// no container, namespace or rule behind (checkNetClean).
func TestNetworkMissingTools(t *testing.T) {
	e, _ := newNetEnv(t)
	empty := t.TempDir()
	for _, tc := range []struct {
		name   string
		config string
		env    []string
		want   string
	}{
		{"no plugins", envConfig() + "cni_plugin_dirs = [\"" + empty + "\"]\n", nil, `CNI plugin "bridge" not found in ` + empty},
		// berth's helpers are named by the environment; nothing on PATH.
		{"no iptables", envConfig(), []string{"PATH=" + empty}, "iptables not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "berth.toml")
			if err := os.WriteFile(cfg, []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"run", "--rm", "busybox", "true"}, {"run", "--rm", "--network", "bridge", "busybox", "true"}} {
				cmd := e.cmd(append([]string{"--config", cfg}, args...)...)
				cmd.Env = append(cmd.Environ(), tc.env...)
				out, err := cmd.CombinedOutput()
				msg := strings.TrimSpace(string(out))
				if cmd.ProcessState.ExitCode() != 125 || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
					t.Errorf("%v: %v, output %q; want 125 and one line with %q", args, err, msg, tc.want)
				}
			}
			if ids := e.must("ps", "-aq"); ids != "" {
				t.Errorf("containers left: %q", ids)
			}
		})
	}
}

// TestNetworkRules: a bridge network's masquerade and forward rules are
// the network's own chains (BERTH-NAT-ID, BERTH-FWD-ID), made with its
// first container, none per container; with FORWARD's policy DROP (as
// Docker leaves hosts) a container still reaches a second namespace, seen
// there from the namespace's address (masqueraded); `network rm` takes
// the chains away.
func TestNetworkRules(t *testing.T) {
	e, ns := newNetEnv(t)
	peer := peerNetns(t, ns)
	udp := udpechoBinary(t)
	nsMust(t, ns, "iptables", "-P", "FORWARD", "DROP")
	srv := exec.Command("ip", "netns", "exec", peer, udp, "-t", ":9100")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	e.must("network", "create", "--subnet", "10.231.0.0/24", "rules")
	id := e.must("network", "inspect", "--format", "{{.ID}}", "rules")
	nat, fwd := "BERTH-NAT-"+id[:12], "BERTH-FWD-"+id[:12]
	for _, net := range []string{"bridge", "rules"} {
		out := e.must("run", "--rm", "--network", net, "busybox", "sh", "-c", retry("nc 192.168.77.2 9100 </dev/null | grep from"))
		if out != "from 192.168.77.1" {
			t.Errorf("%s: the peer saw %q, want from 192.168.77.1 (masqueraded)", net, out)
		}
	}
	natRules, _ := nsRun(ns, "iptables-save", "-t", "nat")
	filter, _ := nsRun(ns, "iptables-save", "-t", "filter")
	for _, want := range []string{"-A POSTROUTING -j " + nat, "-A " + nat + " -s 10.231.0.0/24 ! -d 224.0.0.0/4 ! -o br-" + id[:12] + " -j MASQUERADE"} {
		if !strings.Contains(natRules, want) {
			t.Errorf("nat lacks %q:\n%s", want, natRules)
		}
	}
	for _, want := range []string{"-A FORWARD -j " + fwd, "-A " + fwd + " -s 10.231.0.0/24 -i br-" + id[:12] + " -j ACCEPT"} {
		if !strings.Contains(filter, want) {
			t.Errorf("filter lacks %q:\n%s", want, filter)
		}
	}
	e.must("network", "rm", "rules")
	natRules, _ = nsRun(ns, "iptables-save", "-t", "nat")
	filter, _ = nsRun(ns, "iptables-save", "-t", "filter")
	if strings.Contains(natRules+filter, id[:12]) {
		t.Errorf("after network rm, rules of it stay:\n%s%s", natRules, filter)
	}
}

// TestNetworkTeardownShared: a container's teardown removes the
// namespace before the plugins' DEL (the kernel takes the veth with it),
// except when a --network container: one still holds the namespace:
// then the DEL removes the veth, so that no link with the released
// address stays on the bridge.
func TestNetworkTeardownShared(t *testing.T) {
	e, ns := newNetEnv(t)
	veths := func() string {
		out, _ := nsRun(ns, "ip", "-o", "link", "show", "type", "veth")
		return strings.TrimSpace(out)
	}
	e.must("run", "-d", "--name", "owner", "busybox", "sleep", "100")
	e.must("run", "-d", "--name", "sharer", "--network", "container:owner", "busybox", "sleep", "100")
	e.must("rm", "-f", "owner")
	if v := veths(); v != "" {
		t.Errorf("the owner removed, its veth stays while the sharer runs:\n%s", v)
	}
	e.must("rm", "-f", "sharer")
	e.must("run", "--rm", "busybox", "true")
	waitFor(t, "the veths to go", 5*time.Second, func() bool { return veths() == "" })
}
