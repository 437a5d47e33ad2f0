package engine

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/network"
)

func TestParsePublish(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []PortSpec
		err  string
	}{
		{"80", []PortSpec{{ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"8080:80", []PortSpec{{HostPort: 8080, HostPortEnd: 8080, ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"127.0.0.1:8080:80/udp", []PortSpec{{HostIP: "127.0.0.1", HostPort: 8080, HostPortEnd: 8080, ContainerPort: 80, Protocol: "udp"}}, ""},
		{"127.0.0.1::80", []PortSpec{{HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"8000-8001:80-81", []PortSpec{{HostPort: 8000, HostPortEnd: 8000, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 8001, HostPortEnd: 8001, ContainerPort: 81, Protocol: "tcp"}}, ""},
		{"8000-8010:80", []PortSpec{{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"80:90-91", nil, "differ in size"},
		{"80/sctp", nil, "protocol"},
		{"0:80", nil, "invalid port"},
		{"70000", nil, "invalid port"},
		{"host:80:80", nil, "IPv4"},
		{"[fd00::1]:8080:80", []PortSpec{{HostIP: "fd00::1", HostPort: 8080, HostPortEnd: 8080, ContainerPort: 80, Protocol: "tcp"}}, ""},
		{"[::]::80/udp", []PortSpec{{HostIP: "::", ContainerPort: 80, Protocol: "udp"}}, ""},
		{"[fd00::1]:80", nil, "want [IPv6"},
		{"[::1]:8080:80", nil, "loopback"},
		{"[10.0.0.1]:80:80", nil, "want [IPv6"},
		{"[fd00::1:80:80", nil, "want [IPv6"},
		{"9-8:80-81", nil, "invalid port range"},
	} {
		got, err := ParsePublish(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestFormatPortsIPv6: a port published on every address of a container
// whose first network has IPv6 is bound on :: too, as Docker shows it.
func TestFormatPortsIPv6(t *testing.T) {
	c := Container{Net: &ContainerNetwork{
		Endpoints: []Endpoint{{Result: network.Result{IP: "10.1.0.2", IPv6: "fd00::2"}}},
		Bound: []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
			{HostIP: "127.0.0.1", HostPort: 8081, ContainerPort: 81, Protocol: "tcp"}},
		Exposed: []string{"80/tcp", "81/tcp"},
	}}
	if got, want := FormatPorts(c), "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 127.0.0.1:8081->81/tcp"; got != want {
		t.Errorf("FormatPorts = %q, want %q", got, want)
	}
	c.Net.Endpoints[0].IPv6 = ""
	if got, want := FormatPorts(c), "0.0.0.0:8080->80/tcp, 127.0.0.1:8081->81/tcp"; got != want {
		t.Errorf("FormatPorts without IPv6 = %q, want %q", got, want)
	}
}
