package engine

import (
	"reflect"
	"strings"
	"testing"
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
