package main

import (
	"github.com/spf13/cobra"
)

// newPauseCmd is pause, or with unpause its counterpart: both print each
// container named as they go, as Docker does.
func newPauseCmd(g *globals, unpause bool) *cobra.Command {
	use, short := "pause", "Pause all processes within one or more containers"
	if unpause {
		use, short = "unpause", "Unpause all processes within one or more containers"
	}
	return exit125(&cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return eachArg(cmd, args, func(ref string) error {
				if unpause {
					_, err := e.UnpauseContainer(cmd.Context(), ref)
					return err
				}
				_, err := e.PauseContainer(cmd.Context(), ref)
				return err
			})
		},
	})
}
