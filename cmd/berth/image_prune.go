package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newPruneCmd(g *globals) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unnamed images (-a: all images) and unused layers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			rep, err := e.PruneImages(all)
			for _, d := range rep.Deleted {
				fmt.Fprintln(cmd.OutOrStdout(), "deleted:", d)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed %d blobs and %d layers\n", rep.Blobs, rep.Layers)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just unnamed ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt (berth never prompts)")
	return cmd
}
