package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newRmiCmd(g *globals, use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			results, rerrs, err := e.RemoveImages(args, force)
			if err != nil && results == nil {
				return err
			}
			errs := []error{err}
			for i, res := range results {
				if rerrs[i] != nil {
					errs = append(errs, rerrs[i])
					continue
				}
				for _, u := range res.Untagged {
					fmt.Fprintln(cmd.OutOrStdout(), "Untagged:", engine.FamiliarName(u))
				}
				for _, d := range res.Deleted {
					fmt.Fprintln(cmd.OutOrStdout(), "Deleted:", d)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove an image that has several names")
	return cmd
}
