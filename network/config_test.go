package network

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

func TestNormalize(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		c    Config
		want string // error substring; "" is valid
		gw   string
	}{
		{"defaults", Config{Name: "n", Subnet: "10.1.0.0/24"}, "", "10.1.0.1"},
		{"gateway given", Config{Name: "n", Subnet: "10.1.0.0/24", Gateway: "10.1.0.254"}, "", "10.1.0.254"},
		{"gateway outside", Config{Name: "n", Subnet: "10.1.0.0/24", Gateway: "10.2.0.1"}, "invalid gateway", ""},
		{"gateway is broadcast", Config{Name: "n", Subnet: "10.1.0.0/24", Gateway: "10.1.0.255"}, "invalid gateway", ""},
		{"host bits", Config{Name: "n", Subnet: "10.1.0.5/24"}, "host bits", ""},
		{"range outside", Config{Name: "n", Subnet: "10.1.0.0/24", IPRange: "10.1.1.0/25"}, "not within", ""},
		{"range wider", Config{Name: "n", Subnet: "10.1.0.0/24", IPRange: "10.1.0.0/23"}, "not within", ""},
		{"ipv6 as the IPv4 subnet", Config{Name: "n", Subnet: "fd00::/64"}, "want an IPv4 subnet", ""},
		{"ipv6", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fd00:1::/64"}, "", "10.1.0.1"},
		{"ipv6 without --ipv6", Config{Name: "n", Subnet: "10.1.0.0/24", Subnet6: "fd00:1::/64"}, "needs --ipv6", ""},
		{"--ipv6 without a subnet", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true}, "needs an IPv6 subnet", ""},
		{"ipv6 too small", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fd00:1::/127"}, "too small", ""},
		{"ipv6 host bits", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fd00:1::5/64"}, "host bits", ""},
		{"ipv6 gateway is the subnet", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fd00:1::/64", Gateway6: "fd00:1::"}, "invalid gateway", ""},
		{"ipv6 range outside", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fd00:1::/64", IPRange6: "fd00:2::/120"}, "not within", ""},
		{"ipv6 link-local", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fe80::/64"}, "unicast", ""},
		{"ipv6 multicast", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "ff05::/64"}, "unicast", ""},
		{"v4-mapped", Config{Name: "n", Subnet: "::ffff:10.1.0.0/120"}, "plain", ""},
		{"ipv4 as the IPv6 subnet", Config{Name: "n", Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "10.2.0.0/24"}, "want an IPv6 subnet", ""},
		{"bad name", Config{Name: "a b", Subnet: "10.1.0.0/24"}, "invalid network name", ""},
		{"macvlan without parent", Config{Name: "n", Driver: DriverMacvlan, Subnet: "10.1.0.0/24"}, "parent=", ""},
		{"ipvlan without parent", Config{Name: "n", Driver: DriverIPvlan, Subnet: "10.1.0.0/24"}, "parent=", ""},
		{"unknown driver", Config{Name: "n", Driver: "overlay", Subnet: "10.1.0.0/24"}, "not found", ""},
		{"unknown bridge opt", Config{Name: "n", Subnet: "10.1.0.0/24", Options: map[string]string{"x": "y"}}, "invalid --opt", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.ID = id
			err := c.normalize()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			case tc.want == "" && c.Gateway != tc.gw:
				t.Fatalf("gateway %s, want %s", c.Gateway, tc.gw)
			case tc.want == "" && c.EnableIPv6 && c.Gateway6 != "fd00:1::1":
				t.Fatalf("IPv6 gateway %s, want fd00:1::1", c.Gateway6)
			}
		})
	}
}

// TestConfList: the list libcni reads back, with the range and routes
// the flags ask for, and berth's record beside the plugins.
func TestConfList(t *testing.T) {
	c := Config{Name: "n", ID: strings.Repeat("cd", 32), Subnet: "10.1.0.0/24", IPRange: "10.1.0.128/25", Internal: true}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	b, err := c.confList("/ipam")
	if err != nil {
		t.Fatal(err)
	}
	l, err := libcni.ConfListFromBytes(b)
	if err != nil {
		t.Fatalf("libcni: %v", err)
	}
	var types []string
	for _, p := range l.Plugins {
		types = append(types, p.Network.Type)
	}
	if got := strings.Join(types, ","); l.CNIVersion != "1.0.0" || got != "bridge,portmap,firewall,tuning" {
		t.Fatalf("version %s plugins %s", l.CNIVersion, got)
	}
	var br struct {
		Bridge string `json:"bridge"`
		IPMasq bool   `json:"ipMasq"`
		IPAM   struct {
			Ranges  [][]map[string]string `json:"ranges"`
			Routes  []any                 `json:"routes"`
			DataDir string                `json:"dataDir"`
		} `json:"ipam"`
	}
	if err := json.Unmarshal(l.Plugins[0].Bytes, &br); err != nil {
		t.Fatal(err)
	}
	r := br.IPAM.Ranges[0][0]
	if br.Bridge != "br-cdcdcdcdcdcd" || br.IPMasq || len(br.IPAM.Routes) != 0 || br.IPAM.DataDir != "/ipam" ||
		r["rangeStart"] != "10.1.0.129" || r["rangeEnd"] != "10.1.0.254" || r["gateway"] != "10.1.0.1" {
		t.Fatalf("bridge plugin config: %+v", br)
	}
}

func TestOverlaps(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"10.0.0.0/16", "10.0.5.0/24", true},
		{"10.0.0.0/24", "10.0.1.0/24", false},
		{"10.0.0.0/8", "192.168.0.0/16", false},
	} {
		if got := Overlaps(tc.a, tc.b); got != tc.want {
			t.Errorf("Overlaps(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

// TestSetIPAM: --subnet, --gateway and --ip-range sorted by family, each
// gateway and range with the subnet that holds it.
func TestSetIPAM(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		subnets, gateways, ranges []string
		want                      Config
		err                       string
	}{
		{"dual stack", []string{"10.5.0.0/24", "fd12:3456::/64"}, []string{"fd12:3456::fe", "10.5.0.254"}, []string{"fd12:3456::100/120"},
			Config{Subnet: "10.5.0.0/24", Gateway: "10.5.0.254", Subnet6: "fd12:3456::/64", Gateway6: "fd12:3456::fe", IPRange6: "fd12:3456::100/120"}, ""},
		{"ipv6 only given", []string{"fd12::/64"}, nil, nil, Config{Subnet6: "fd12::/64"}, ""},
		{"none", nil, nil, nil, Config{}, ""},
		{"two ipv4", []string{"10.5.0.0/24", "10.6.0.0/24"}, nil, nil, Config{}, "one per family"},
		{"gateway of no subnet", []string{"10.5.0.0/24", "fd12::/64"}, []string{"fd13::1"}, nil, Config{}, "no matching subnet"},
		{"more gateways than subnets", []string{"10.5.0.0/24"}, []string{"10.5.0.1", "10.5.0.2"}, nil, Config{}, "corresponding subnet"},
		{"two gateways for one subnet", []string{"10.5.0.0/24", "fd12::/64"}, []string{"10.5.0.1", "10.5.0.2"}, nil, Config{}, "multiple gateway"},
		{"bad subnet", []string{"fd12::"}, nil, nil, Config{}, "invalid subnet"},
		{"bad range", []string{"fd12::/64"}, nil, []string{"fd12::1"}, Config{}, "invalid ip-range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := c.SetIPAM(tc.subnets, tc.gateways, tc.ranges)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one with %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "" && !reflect.DeepEqual(c, tc.want):
				t.Fatalf("got %+v, want %+v", c, tc.want)
			}
		})
	}
}

// TestConfListIPv6: one host-local range set per family, a default route
// for each, and the IPv6 range's bounds.
func TestConfListIPv6(t *testing.T) {
	c := Config{Name: "n", ID: strings.Repeat("ef", 32), Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fd00:1::/64", IPRange6: "fd00:1::100/120"}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	b, err := c.confList("/ipam")
	if err != nil {
		t.Fatal(err)
	}
	l, err := libcni.ConfListFromBytes(b)
	if err != nil {
		t.Fatalf("libcni: %v", err)
	}
	var br struct {
		IPAM struct {
			Ranges [][]map[string]string `json:"ranges"`
			Routes []map[string]string   `json:"routes"`
		} `json:"ipam"`
	}
	if err := json.Unmarshal(l.Plugins[0].Bytes, &br); err != nil {
		t.Fatal(err)
	}
	r := br.IPAM.Ranges
	if len(r) != 2 || r[0][0]["subnet"] != "10.1.0.0/24" || r[1][0]["subnet"] != "fd00:1::/64" || r[1][0]["gateway"] != "fd00:1::1" ||
		r[1][0]["rangeStart"] != "fd00:1::100" || r[1][0]["rangeEnd"] != "fd00:1::1ff" {
		t.Fatalf("ranges: %v", r)
	}
	if len(br.IPAM.Routes) != 2 || br.IPAM.Routes[1]["dst"] != "::/0" {
		t.Fatalf("routes: %v", br.IPAM.Routes)
	}
}

func TestContainsIPv6(t *testing.T) {
	c := Config{Name: "n", ID: strings.Repeat("ab", 32), Subnet: "10.1.0.0/24", EnableIPv6: true, Subnet6: "fd00:1::/64"}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{
		"fd00:1::5":  "",
		"fd00:1::1":  "is the gateway",
		"fd00:1::":   "does not belong",
		"fd00:2::5":  "does not belong",
		"10.1.0.5":   "invalid IPv6 address",
		"not-an-ip6": "invalid IPv6 address",
	} {
		err := c.ContainsIPv6(ip)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("ContainsIPv6(%s) = %v, want %q", ip, err, want)
		}
	}
	if err := c.Contains("fd00:1::5"); err == nil {
		t.Errorf("Contains (--ip) took an IPv6 address")
	}
	v4 := Config{Name: "v4", Subnet: "10.1.0.0/24"}
	if err := v4.ContainsIPv6("fd00:1::5"); err == nil || !strings.Contains(err.Error(), "has no IPv6") {
		t.Errorf("ContainsIPv6 on a network without IPv6: %v", err)
	}
}

func TestLastAddr(t *testing.T) {
	for p, want := range map[string]string{"10.1.0.0/24": "10.1.0.255", "10.1.0.128/25": "10.1.0.255", "fd00::/64": "fd00::ffff:ffff:ffff:ffff", "fd00::100/120": "fd00::1ff"} {
		if got := lastAddr(netip.MustParsePrefix(p)).String(); got != want {
			t.Errorf("lastAddr(%s) = %s, want %s", p, got, want)
		}
	}
}

// TestConfListNATRules: a network whose rules are its own (NATRules) has
// no firewall plugin and no per-container masquerade; older ones keep both.
func TestConfListNATRules(t *testing.T) {
	for _, tc := range []struct {
		nat          bool
		plugins      string
		ipMasqWanted bool
	}{
		{true, "bridge,portmap,tuning", false},
		{false, "bridge,portmap,firewall,tuning", true},
	} {
		c := Config{Name: "n", ID: strings.Repeat("ab", 32), Subnet: "10.2.0.0/24", NATRules: tc.nat}
		if err := c.normalize(); err != nil {
			t.Fatal(err)
		}
		b, err := c.confList("/ipam")
		if err != nil {
			t.Fatal(err)
		}
		l, err := libcni.ConfListFromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, p := range l.Plugins {
			types = append(types, p.Network.Type)
		}
		var br struct {
			IPMasq bool `json:"ipMasq"`
		}
		json.Unmarshal(l.Plugins[0].Bytes, &br)
		if got := strings.Join(types, ","); got != tc.plugins || br.IPMasq != tc.ipMasqWanted {
			t.Errorf("NATRules %v: plugins %s, ipMasq %v; want %s, %v", tc.nat, got, br.IPMasq, tc.plugins, tc.ipMasqWanted)
		}
	}
	nat, fwd := natChains(Config{ID: strings.Repeat("ab", 32)})
	if nat != "BERTH-NAT-abababababab" || fwd != "BERTH-FWD-abababababab" || len(nat) > 28 {
		t.Errorf("chains %s %s", nat, fwd)
	}
}
