package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newNetworkConnectCmd(g *globals) *cobra.Command {
	var o engine.ConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return as125(e.ConnectNetwork(cmd.Context(), args[0], args[1], o))
		},
	}
	cmd.Flags().StringArrayVar(&o.Aliases, "alias", nil, "add network-scoped alias for the container")
	cmd.Flags().StringVar(&o.IP, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	cmd.Flags().StringVar(&o.IP6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	return cmd
}

func newNetworkDisconnectCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return as125(e.DisconnectNetwork(cmd.Context(), args[0], args[1]))
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the container to disconnect from a network")
	return cmd
}
