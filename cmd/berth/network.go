package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/network"
)

// Networks (issue 12): `berth network create|ls|inspect|rm|prune`. Their
// errors are berth's own: exit 125, as Docker's CLI gives for the run
// family (a clear one-line message, nothing changed).

func newNetworkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}
	cmd.AddCommand(newNetworkCreateCmd(g), newNetworkLsCmd(g), newNetworkInspectCmd(g), newNetworkRmCmd(g), newNetworkPruneCmd(g),
		newNetworkConnectCmd(g), newNetworkDisconnectCmd(g))
	return cmd
}

func newNetworkCreateCmd(g *globals) *cobra.Command {
	var (
		driver                      string
		subnets, gateways, ipRanges []string
		internal, ipv6              bool
		labels, opts                []string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := network.Config{Name: args[0], Driver: driver, EnableIPv6: ipv6,
				Internal: internal, Labels: map[string]string{}, Options: map[string]string{}}
			if err := c.SetIPAM(subnets, gateways, ipRanges); err != nil {
				return as125(err)
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				c.Labels[k] = v
			}
			for _, o := range opts {
				k, v, ok := strings.Cut(o, "=")
				if !ok || k == "" {
					return as125(fmt.Errorf("invalid --opt %q: want KEY=VALUE", o))
				}
				c.Options[k] = v
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			made, err := e.CreateNetwork(c)
			if err != nil {
				return as125(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), made.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "bridge", "driver to manage the network (bridge, macvlan, ipvlan)")
	// Repeatable, one of each per family (--subnet 10.5.0.0/24 --subnet fd12::/64).
	f.StringSliceVar(&subnets, "subnet", nil, "subnet in CIDR format that represents a network segment")
	f.StringSliceVar(&gateways, "gateway", nil, "IPv4 or IPv6 gateway for the master subnet")
	f.StringSliceVar(&ipRanges, "ip-range", nil, "allocate container IPs from a sub-range")
	f.BoolVar(&internal, "internal", false, "restrict external access to the network")
	f.BoolVar(&ipv6, "ipv6", false, "enable IPv6 networking")
	f.StringArrayVar(&labels, "label", nil, "set metadata on a network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "set driver specific options")
	return cmd
}
