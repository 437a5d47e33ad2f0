package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newNetworkRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var errs []error
			for _, ref := range args {
				if _, err := e.RemoveNetwork(ref); err != nil {
					if !(force && errors.Is(err, errNoSuchNetwork)) {
						errs = append(errs, err)
					}
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return as125(errors.Join(errs...))
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not error if the network does not exist")
	return cmd
}
