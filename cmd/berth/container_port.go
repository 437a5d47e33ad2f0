package main

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newPortCmd(g *globals) *cobra.Command {
	return exit125(&cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var port int
			proto := "tcp"
			if len(args) == 2 {
				p, pr, hasProto := strings.Cut(args[1], "/")
				n, err := strconv.Atoi(p)
				if err != nil || n < 1 || n > 65535 {
					return fmt.Errorf("invalid port %q: want PRIVATE_PORT[/PROTO] with a port from 1 to 65535", args[1])
				}
				if hasProto {
					switch pr {
					case "tcp", "udp", "sctp":
						proto = pr
					default:
						return fmt.Errorf("invalid port %q: the protocol is tcp, udp or sctp", args[1])
					}
				}
				port = n
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			c, ports, err := e.ContainerPorts(args[0])
			if err != nil {
				return err
			}
			sort.SliceStable(ports, func(i, j int) bool { return ports[i].PrivatePort < ports[j].PrivatePort })
			found := false
			for _, b := range ports {
				host := net.JoinHostPort(b.HostIP, b.HostPort)
				if port == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%d/%s -> %s\n", b.PrivatePort, b.Proto, host)
					continue
				}
				if b.PrivatePort == port && b.Proto == proto {
					fmt.Fprintln(cmd.OutOrStdout(), host)
					found = true
				}
			}
			if port != 0 && !found {
				return &statusError{1, fmt.Errorf("no public port '%d/%s' published for %s", port, proto, c.Name)}
			}
			return nil
		},
	})
}
