package main

import (
	"errors"
	"maps"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// networkInspect is Docker's network inspect shape.
type networkInspect struct {
	Name       string                     `json:"Name"`
	ID         string                     `json:"Id"`
	Created    string                     `json:"Created"`
	Scope      string                     `json:"Scope"`
	Driver     string                     `json:"Driver"`
	EnableIPv4 bool                       `json:"EnableIPv4"`
	EnableIPv6 bool                       `json:"EnableIPv6"`
	IPAM       networkIPAM                `json:"IPAM"`
	Internal   bool                       `json:"Internal"`
	Attachable bool                       `json:"Attachable"`
	Ingress    bool                       `json:"Ingress"`
	ConfigFrom map[string]string          `json:"ConfigFrom"`
	ConfigOnly bool                       `json:"ConfigOnly"`
	Containers map[string]networkEndpoint `json:"Containers"`
	Options    map[string]string          `json:"Options"`
	Labels     map[string]string          `json:"Labels"`
}

type networkIPAM struct {
	Driver  string            `json:"Driver"`
	Options map[string]string `json:"Options"`
	Config  []ipamConfig      `json:"Config"`
}

// ipamConfig is one subnet of a network (one per family), in Docker's
// field order; a template's {{.IPRange}} of one without is empty.
type ipamConfig struct {
	Subnet  string `json:"Subnet,omitempty"`
	IPRange string `json:"IPRange,omitempty"`
	Gateway string `json:"Gateway,omitempty"`
}

type networkEndpoint struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	MacAddress  string `json:"MacAddress"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
}

func inspectNetwork(e *engine.Engine, n engine.NetworkInfo) networkInspect {
	j := networkInspect{Name: n.Name, ID: n.ID, Created: n.Created.Format("2006-01-02T15:04:05.999999999Z07:00"),
		Scope: "local", Driver: n.Driver, EnableIPv4: true, EnableIPv6: n.EnableIPv6, Internal: n.Internal,
		IPAM:       networkIPAM{Driver: "default", Config: []ipamConfig{}},
		ConfigFrom: map[string]string{"Network": ""}, Containers: map[string]networkEndpoint{},
		Options: map[string]string{}, Labels: map[string]string{}}
	maps.Copy(j.Options, n.Options)
	maps.Copy(j.Labels, n.Labels)
	for _, c := range []ipamConfig{{n.Subnet, n.IPRange, n.Gateway}, {n.Subnet6, n.IPRange6, n.Gateway6}} {
		if c.Subnet != "" {
			j.IPAM.Config = append(j.IPAM.Config, c)
		}
	}
	for _, c := range n.Containers {
		ep := networkEndpoint{Name: c.Name}
		if c.Net != nil {
			for _, x := range c.Net.Endpoints {
				if x.NetworkID == n.ID && x.IP != "" {
					ep.EndpointID, ep.MacAddress = x.EndpointID, x.MAC
					ep.IPv4Address = x.IP + "/" + strconv.Itoa(x.PrefixLen)
					if x.IPv6 != "" {
						ep.IPv6Address = x.IPv6 + "/" + strconv.Itoa(x.IPv6PrefixLen)
					}
				}
			}
		}
		if c.State != engine.StateRunning {
			continue // Docker lists the endpoints, which a stopped container has not
		}
		j.Containers[c.ID] = ep
	}
	return j
}

func newNetworkInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var out []any
			var errs []error
			for _, ref := range args {
				n, err := e.LookupNetwork(ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, inspectNetwork(e, n))
			}
			if err := printInspect(cmd.OutOrStdout(), format, out); err != nil {
				return as125(err)
			}
			return as125(errors.Join(errs...))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template")
	return cmd
}
