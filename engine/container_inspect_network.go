package engine

import (
	"fmt"
	"strconv"
)

// NetworkSettings is inspect's NetworkSettings, in Docker's shape.
type NetworkSettings struct {
	Bridge                 string                     `json:"Bridge"`
	SandboxID              string                     `json:"SandboxID"`
	SandboxKey             string                     `json:"SandboxKey"`
	HairpinMode            bool                       `json:"HairpinMode"`
	LinkLocalIPv6Address   string                     `json:"LinkLocalIPv6Address"`
	LinkLocalIPv6PrefixLen int                        `json:"LinkLocalIPv6PrefixLen"`
	Ports                  map[string][]InspectPort   `json:"Ports"`
	SecondaryIPAddresses   []string                   `json:"SecondaryIPAddresses"`
	SecondaryIPv6Addresses []string                   `json:"SecondaryIPv6Addresses"`
	EndpointID             string                     `json:"EndpointID"`
	Gateway                string                     `json:"Gateway"`
	GlobalIPv6Address      string                     `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen    int                        `json:"GlobalIPv6PrefixLen"`
	IPAddress              string                     `json:"IPAddress"`
	IPPrefixLen            int                        `json:"IPPrefixLen"`
	IPv6Gateway            string                     `json:"IPv6Gateway"`
	MacAddress             string                     `json:"MacAddress"`
	Networks               map[string]InspectEndpoint `json:"Networks"`
}

// InspectPort is one host binding of a port.
type InspectPort struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// InspectEndpoint is one of NetworkSettings.Networks.
type InspectEndpoint struct {
	IPAMConfig          *InspectIPAM `json:"IPAMConfig"`
	Links               []string     `json:"Links"`
	Aliases             []string     `json:"Aliases"`
	MacAddress          string       `json:"MacAddress"`
	DriverOpts          any          `json:"DriverOpts"`
	GwPriority          int          `json:"GwPriority"`
	NetworkID           string       `json:"NetworkID"`
	EndpointID          string       `json:"EndpointID"`
	Gateway             string       `json:"Gateway"`
	IPAddress           string       `json:"IPAddress"`
	IPPrefixLen         int          `json:"IPPrefixLen"`
	IPv6Gateway         string       `json:"IPv6Gateway"`
	GlobalIPv6Address   string       `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen int          `json:"GlobalIPv6PrefixLen"`
	DNSNames            []string     `json:"DNSNames"`
}

// InspectIPAM is an endpoint's requested address.
type InspectIPAM struct {
	IPv4Address string `json:"IPv4Address,omitempty"`
	IPv6Address string `json:"IPv6Address,omitempty"`
}

func (n *ContainerNetwork) owner(id string) string {
	if n.FilesFrom != "" {
		return n.FilesFrom
	}
	return id
}

func (e *Engine) inspectNetwork(c Container) NetworkSettings {
	s := NetworkSettings{Networks: map[string]InspectEndpoint{}, Ports: map[string][]InspectPort{}}
	if c.Net == nil {
		return s
	}
	running := c.State == StateRunning
	exposed, bound := PortsOf(c)
	for _, x := range exposed {
		s.Ports[x] = nil
	}
	for _, b := range bound {
		k := strconv.Itoa(b.ContainerPort) + "/" + b.Protocol
		s.Ports[k] = append(s.Ports[k], InspectPort{HostIP: b.HostIP, HostPort: strconv.Itoa(b.HostPort)})
	}
	if len(c.Net.Endpoints) > 0 && running {
		s.SandboxKey = e.netnsPath(c.ID)
		s.SandboxID = fmt.Sprintf("%x", sha256Sum("sandbox/"+c.ID))
	}
	mode := c.Modes.Network
	if mode == "none" || mode == "host" {
		s.Networks[mode] = InspectEndpoint{NetworkID: PredefinedNetworkID(mode)}
	}
	for i, ep := range c.Net.Endpoints {
		ie := InspectEndpoint{Aliases: ep.Aliases, NetworkID: ep.NetworkID, MacAddress: ep.MAC,
			EndpointID: ep.EndpointID, Gateway: ep.Gateway, IPAddress: ep.IP, IPPrefixLen: ep.PrefixLen,
			GlobalIPv6Address: ep.IPv6, GlobalIPv6PrefixLen: ep.IPv6PrefixLen, IPv6Gateway: ep.IPv6Gateway,
			DNSNames: append([]string{c.Name}, ep.Aliases...)}
		if ep.IPAMIP != "" || ep.IPAMIP6 != "" {
			ie.IPAMConfig = &InspectIPAM{IPv4Address: ep.IPAMIP, IPv6Address: ep.IPAMIP6}
		}
		if !running {
			ie.DNSNames = nil
		}
		if i == 0 {
			// Docker fills the top-level fields from the default network
			// only; Berth from the first, which a reader of one network
			// expects.
			s.EndpointID, s.Gateway, s.IPAddress, s.IPPrefixLen, s.MacAddress = ep.EndpointID, ep.Gateway, ep.IP, ep.PrefixLen, ep.MAC
			s.GlobalIPv6Address, s.GlobalIPv6PrefixLen, s.IPv6Gateway = ep.IPv6, ep.IPv6PrefixLen, ep.IPv6Gateway
		}
		s.Networks[ep.Network] = ie
	}
	return s
}
