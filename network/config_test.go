package network

import (
	"encoding/json"
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
		{"ipv6", Config{Name: "n", Subnet: "fd00::/64"}, "only IPv4", ""},
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
