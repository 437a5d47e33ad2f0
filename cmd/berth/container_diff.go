package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDiffCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			changes, err := e.ContainerChanges(args[0])
			if err != nil {
				return &statusError{125, err}
			}
			out := cmd.OutOrStdout()
			for _, c := range changes {
				fmt.Fprintf(out, "%s %s\n", c.Kind, c.Path)
			}
			return nil
		},
	}
}
