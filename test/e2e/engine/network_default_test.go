package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
