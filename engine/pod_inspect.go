package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PodInspect is `pod inspect`'s object, in Podman's field names.
type PodInspect struct {
	ID               string            `json:"Id"`
	Name             string            `json:"Name"`
	Created          time.Time         `json:"Created"`
	State            string            `json:"State"`
	Hostname         string            `json:"Hostname"`
	Labels           map[string]string `json:"Labels"`
	CreateCgroup     bool              `json:"CreateCgroup"`
	CgroupParent     string            `json:"CgroupParent,omitempty"`
	CgroupPath       string            `json:"CgroupPath"`
	CreateInfra      bool              `json:"CreateInfra"`
	InfraContainerID string            `json:"InfraContainerID,omitempty"`
	InfraConfig      *PodInfraConfig   `json:"InfraConfig,omitempty"`
	SharedNamespaces []string          `json:"SharedNamespaces"`
	NumContainers    int               `json:"NumContainers"`
	Containers       []PodContainer    `json:"Containers"`
	MemoryLimit      int64             `json:"MemoryLimit,omitempty"`
	CPUQuota         int64             `json:"CPUQuota,omitempty"`
	CPUPeriod        int64             `json:"CPUPeriod,omitempty"`
}

// PodInfraConfig is the pod's network, held by its infra container.
type PodInfraConfig struct {
	PortBindings map[string][]PodPortBinding `json:"PortBindings"`
	HostNetwork  bool                        `json:"HostNetwork"`
	DNSServer    []string                    `json:"DNSServer,omitempty"`
	DNSSearch    []string                    `json:"DNSSearch,omitempty"`
	DNSOption    []string                    `json:"DNSOption,omitempty"`
	HostAdd      []string                    `json:"HostAdd,omitempty"`
	Networks     []string                    `json:"Networks,omitempty"`
}

// PodPortBinding is one published port of the pod: its host side.
type PodPortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// PodContainer is one container of the pod, as pod inspect lists it.
type PodContainer struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State string `json:"State"`
}

// InspectPod is `pod inspect` of one pod.
func (e *Engine) InspectPod(ref string) (PodInspect, error) {
	p, err := e.LookupPod(ref)
	if err != nil {
		return PodInspect{}, err
	}
	cs, err := e.PodContainers(p.ID)
	if err != nil {
		return PodInspect{}, err
	}
	in := PodInspect{
		ID: p.ID, Name: p.Name, Created: p.Created, State: PodStatus(cs), Hostname: p.Hostname,
		Labels: p.Labels, CreateCgroup: true, CgroupParent: p.CgroupParent, CgroupPath: p.CgroupPath,
		CreateInfra: p.Infra, InfraContainerID: p.InfraID, SharedNamespaces: p.Share, NumContainers: len(cs),
		Containers: []PodContainer{}, MemoryLimit: p.Memory,
	}
	if in.Labels == nil {
		in.Labels = map[string]string{}
	}
	if in.SharedNamespaces == nil {
		in.SharedNamespaces = []string{}
	}
	if p.NanoCPUs > 0 {
		in.CPUPeriod, in.CPUQuota = 100000, p.NanoCPUs*100000/1e9
	}
	for _, c := range cs {
		in.Containers = append(in.Containers, PodContainer{ID: c.ID, Name: c.Name, State: c.Status()})
		if !c.PodInfra {
			continue
		}
		ic := &PodInfraConfig{PortBindings: map[string][]PodPortBinding{}, HostNetwork: c.Modes.Network == "host"}
		if c.Net != nil {
			ic.DNSServer, ic.DNSSearch, ic.DNSOption, ic.HostAdd = c.Net.DNS, c.Net.DNSSearch, c.Net.DNSOptions, c.Net.ExtraHosts
			for _, ep := range c.Net.Endpoints {
				ic.Networks = append(ic.Networks, ep.Network)
			}
			for _, ps := range c.Net.Publish {
				key := strconv.Itoa(ps.ContainerPort) + "/" + ps.Protocol
				hp := ""
				if ps.HostPort != 0 {
					hp = strconv.Itoa(ps.HostPort)
					if ps.HostPortEnd > ps.HostPort {
						hp = fmt.Sprintf("%d-%d", ps.HostPort, ps.HostPortEnd)
					}
				}
				ic.PortBindings[key] = append(ic.PortBindings[key], PodPortBinding{HostIP: ps.HostIP, HostPort: hp})
			}
			for _, b := range c.Net.Bound {
				key := strconv.Itoa(int(b.ContainerPort)) + "/" + strings.ToLower(b.Protocol)
				for i := range ic.PortBindings[key] {
					if ic.PortBindings[key][i].HostPort == "" {
						ic.PortBindings[key][i].HostPort = strconv.Itoa(int(b.HostPort))
					}
				}
			}
		}
		in.InfraConfig = ic
	}
	return in, nil
}
