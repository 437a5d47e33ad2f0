package engine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDNSUpstreams: where a container's monitor forwards: --dns, else the configured upstreams
// (ports kept, loopback kept: the monitor forwards from the engine's namespace), else the host's
// resolvers, loopback ones too (systemd-resolved answers there); none is none (SERVFAIL), not
// Docker's public fallback.
func TestDNSUpstreams(t *testing.T) {
	host := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(host, []byte("nameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	only := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(only, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, resolv string
		upstream     []string
		dns          []string
		want         []string
	}{
		{"host's", host, nil, nil, []string{"127.0.0.53", "10.0.0.2", "::1"}},
		{"only loopback", only, nil, nil, []string{"127.0.0.53"}},
		{"none", filepath.Join(t.TempDir(), "missing"), nil, nil, nil},
		{"configured", host, []string{"127.0.0.1:5353", "192.0.2.53"}, nil, []string{"127.0.0.1:5353", "192.0.2.53"}},
		{"--dns", host, []string{"192.0.2.53"}, []string{"192.0.2.1"}, []string{"192.0.2.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{ctrOpts: ContainerOptions{Network: NetworkConfigOptions{ResolvConf: tc.resolv, DNSUpstream: tc.upstream}}}
			got := e.dnsUpstreams(&Container{Net: &ContainerNetwork{DNS: tc.dns}})
			if !slices.Equal(got, tc.want) {
				t.Errorf("upstreams %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDNSNames(t *testing.T) {
	c := &Container{ID: "0123456789abcdef0123", Name: "web"}
	got := dnsNames(c, &Endpoint{Aliases: []string{"www", "bad alias", "", "x#y", "db"}})
	if want := []string{"web", "www", "db", "0123456789ab"}; !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
}
