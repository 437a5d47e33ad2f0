package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResolvConf: the host's resolvers less loopback ones (Docker's
// fallback when none is left), the configured upstreams instead when
// set, and --dns, --dns-search, --dns-option each replacing its part.
func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host-resolv.conf")
	for _, tc := range []struct {
		name, host string
		upstream   []string
		net        ContainerNetwork
		want       string
	}{
		{"host's less loopback", "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch a.test\noptions edns0\n", nil, ContainerNetwork{},
			"nameserver 10.0.0.2\nsearch a.test\noptions edns0\n"},
		{"only loopback", "nameserver 127.0.0.53\n", nil, ContainerNetwork{}, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"configured upstream", "nameserver 10.0.0.2\nsearch a.test\n", []string{"192.0.2.53", "192.0.2.54:5353"}, ContainerNetwork{},
			"nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch a.test\n"},
		{"flags", "nameserver 10.0.0.2\nsearch a.test\noptions edns0\n", nil,
			ContainerNetwork{DNS: []string{"192.0.2.1"}, DNSSearch: []string{"b.test", "c.test"}, DNSOptions: []string{"ndots:2"}},
			"nameserver 192.0.2.1\nsearch b.test c.test\noptions ndots:2\n"},
		{"no search", "nameserver 10.0.0.2\nsearch a.test\n", nil, ContainerNetwork{DNSSearch: []string{"."}}, "nameserver 10.0.0.2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(host, []byte(tc.host), 0o644); err != nil {
				t.Fatal(err)
			}
			e := &Engine{root: dir, ctrOpts: ContainerOptions{Network: NetworkConfigOptions{ResolvConf: host, DNSUpstream: tc.upstream}}}
			c := &Container{ID: "c1", Net: &tc.net}
			os.MkdirAll(e.bundleDir(c.ID), 0o700)
			if err := e.writeResolvConf(c); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(e.netFile(c.ID, "resolv.conf"))
			if string(got) != tc.want {
				t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
