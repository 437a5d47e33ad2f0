package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/network"
)

var errNoSuchNetwork = engine.ErrNoSuchNetwork

func newNetworkPruneCmd(g *globals) *cobra.Command {
	var (
		force   bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var keep []func(network.Config) bool
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				neg := false
				switch k {
				case "label!":
					neg = true
				case "label":
				default:
					return as125(fmt.Errorf("invalid filter '%s' (network prune takes label and label!)", k))
				}
				lk, lv, hasV := strings.Cut(v, "=")
				keep = append(keep, func(c network.Config) bool {
					got, ok := c.Labels[lk]
					return (ok && (!hasV || got == lv)) != neg
				})
			}
			if !force {
				fmt.Fprint(cmd.OutOrStdout(), "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ")
				line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			gone, err := e.PruneNetworks(func(c network.Config) bool {
				for _, k := range keep {
					if !k(c) {
						return false
					}
				}
				return true
			})
			if len(gone) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted Networks:")
				for _, n := range gone {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
			}
			if err != nil && !errors.Is(err, errNoSuchNetwork) {
				return as125(err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (e.g. 'label=<key>=<value>')")
	return cmd
}
