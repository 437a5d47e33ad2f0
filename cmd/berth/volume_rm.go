package main

import "github.com/spf13/cobra"

func newVolumeRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return eachArg(cmd, args, func(name string) error { return e.RemoveVolume(name, force) })
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not fail on volumes that do not exist")
	return cmd
}
