package engine

import (
	"context"
	"fmt"
	"strconv"
)

// ContainerPids lists the pids (in the host's pid namespace) of a running
// container's processes, for top.
func (e *Engine) ContainerPids(ctx context.Context, ref string) (Container, []int, error) {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return c, nil, err
	}
	if c.State != StateRunning {
		return c, nil, fmt.Errorf("container %s is not running", ref)
	}
	rt, err := e.ociRuntime(&c)
	if err != nil {
		return c, nil, err
	}
	pids, err := rt.Ps(ctx, c.ID)
	if err != nil {
		return c, nil, fmt.Errorf("top of container %s: %w", ref, err)
	}
	return c, pids, nil
}

// PortBinding is one published port as `port` and inspect show it.
type PortBinding struct {
	PrivatePort int
	Proto       string // tcp, udp, sctp
	HostIP      string
	HostPort    string
}

// ContainerPorts are a container's published ports, by private port:
// the host bindings of its current run (container_ports.go), none when it
// does not run.
func (e *Engine) ContainerPorts(ref string) (Container, []PortBinding, error) {
	c, err := e.LookupContainer(ref)
	if err != nil {
		return c, nil, err
	}
	_, bound := PortsOf(c)
	var out []PortBinding
	for _, b := range bound {
		out = append(out, PortBinding{PrivatePort: b.ContainerPort, Proto: b.Protocol, HostIP: b.HostIP, HostPort: strconv.Itoa(b.HostPort)})
	}
	return c, out, nil
}
