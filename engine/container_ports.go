package engine

import (
	"crypto/sha256"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/network"
)

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// boundPort is one published port of a running container, as inspect's
// NetworkSettings.Ports and ps show it (`port` gets them as PortBinding).
type boundPort struct {
	ContainerPort int
	Protocol      string // tcp, udp
	HostIP        string // "0.0.0.0" for every address
	HostPort      int
}

// PortsOf are the container's exposed ports ("80/tcp") and the host
// bindings of its current run (none for a port only exposed, or a
// container that does not run), sorted by port and protocol.
func PortsOf(c Container) (exposed []string, bound []boundPort) {
	if c.Net == nil {
		return nil, nil
	}
	// The ports go with the first network; portmap publishes a port
	// given for every address on IPv6 too when that network has it.
	v6 := len(c.Net.Endpoints) > 0 && c.Net.Endpoints[0].IPv6 != ""
	for _, b := range c.Net.Bound {
		ip := b.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		bound = append(bound, boundPort{ContainerPort: b.ContainerPort, Protocol: b.Protocol, HostIP: ip, HostPort: b.HostPort})
		if b.HostIP == "" && v6 {
			bound = append(bound, boundPort{ContainerPort: b.ContainerPort, Protocol: b.Protocol, HostIP: "::", HostPort: b.HostPort})
		}
	}
	slices.SortStableFunc(bound, func(a, b boundPort) int {
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort - b.ContainerPort
		}
		return strings.Compare(a.Protocol, b.Protocol)
	})
	return c.Net.Exposed, bound
}

// FormatPorts is ps's PORTS column: "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 53/udp".
func FormatPorts(c Container) string {
	exposed, bound := PortsOf(c)
	var out []string
	seen := map[string]bool{}
	for _, b := range bound {
		k := strconv.Itoa(b.ContainerPort) + "/" + b.Protocol
		seen[k] = true
		out = append(out, fmt.Sprintf("%s->%s", net.JoinHostPort(b.HostIP, strconv.Itoa(b.HostPort)), k))
	}
	for _, x := range exposed {
		if !seen[x] {
			out = append(out, x)
		}
	}
	return strings.Join(out, ", ")
}

// portAllocated is Docker's error for a host port that is taken, word
// for word (scripts match it).
func portAllocated(addr string) error {
	//lint:ignore ST1005 Docker's message, capital included
	return fmt.Errorf("Bind for %s failed: port is already allocated", addr)
}

// bindPorts makes the container's port mappings concrete: -p's as given
// (a host range gives its first free port), and with -P every exposed
// port not published on a free host port. A host port that a process or
// another container holds is refused, as Docker's proxy would fail to
// bind it; without a proxy the engine tries the bind itself.
func (e *Engine) bindPorts(c *Container) ([]network.PortMapping, error) {
	ns := c.Net
	taken := map[string]bool{}
	if cs, err := e.ListContainers(); err == nil {
		for _, o := range cs {
			if o.ID == c.ID || o.State != StateRunning || o.Net == nil {
				continue
			}
			for _, b := range o.Net.Bound {
				taken[b.Protocol+"/"+strconv.Itoa(b.HostPort)] = true
			}
		}
	}
	// The socket family of a host address: an IPv6 one is tried on
	// tcp6 or udp6.
	family := func(ip, proto string) string {
		if strings.Contains(ip, ":") {
			return proto + "6"
		}
		return proto + "4"
	}
	free := func(ip string, port int, proto string) error {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		if taken[proto+"/"+strconv.Itoa(port)] {
			return portAllocated(addr)
		}
		if proto == "udp" {
			l, err := net.ListenPacket(family(ip, "udp"), addr)
			if err != nil {
				return portAllocated(addr)
			}
			l.Close()
			return nil
		}
		l, err := net.Listen(family(ip, "tcp"), addr)
		if err != nil {
			return portAllocated(addr)
		}
		l.Close()
		return nil
	}
	anyPort := func(ip, proto string) (int, error) {
		for range 20 {
			var port int
			if proto == "udp" {
				l, err := net.ListenPacket(family(ip, "udp"), net.JoinHostPort(ip, "0"))
				if err != nil {
					return 0, fmt.Errorf("allocate a host port: %w", err)
				}
				port = l.LocalAddr().(*net.UDPAddr).Port
				l.Close()
			} else {
				l, err := net.Listen(family(ip, "tcp"), net.JoinHostPort(ip, "0"))
				if err != nil {
					return 0, fmt.Errorf("allocate a host port: %w", err)
				}
				port = l.Addr().(*net.TCPAddr).Port
				l.Close()
			}
			if !taken[proto+"/"+strconv.Itoa(port)] {
				return port, nil
			}
		}
		return 0, fmt.Errorf("allocate a host port: none free")
	}
	var out []network.PortMapping
	add := func(ip string, host, ctr int, proto string) {
		taken[proto+"/"+strconv.Itoa(host)] = true
		out = append(out, network.PortMapping{HostIP: ip, HostPort: host, ContainerPort: ctr, Protocol: proto})
	}
	published := map[string]bool{}
	for _, p := range ns.Publish {
		bindIP := p.HostIP
		if bindIP == "" {
			bindIP = "0.0.0.0"
		}
		published[fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)] = true
		switch {
		case p.HostPort == 0:
			port, err := anyPort(bindIP, p.Protocol)
			if err != nil {
				return nil, err
			}
			add(p.HostIP, port, p.ContainerPort, p.Protocol)
		case p.HostPortEnd > p.HostPort:
			var last error
			found := false
			for port := p.HostPort; port <= p.HostPortEnd && !found; port++ {
				if last = free(bindIP, port, p.Protocol); last == nil {
					add(p.HostIP, port, p.ContainerPort, p.Protocol)
					found = true
				}
			}
			if !found {
				return nil, last
			}
		default:
			if err := free(bindIP, p.HostPort, p.Protocol); err != nil {
				return nil, err
			}
			add(p.HostIP, p.HostPort, p.ContainerPort, p.Protocol)
		}
	}
	if ns.PublishAll {
		for _, x := range ns.Exposed {
			if published[x] {
				continue
			}
			ps, proto, _ := strings.Cut(x, "/")
			cp, err := strconv.Atoi(ps)
			if err != nil {
				continue
			}
			port, err := anyPort("0.0.0.0", proto)
			if err != nil {
				return nil, err
			}
			add("", port, cp, proto)
		}
	}
	return out, nil
}
