package main

import (
	"github.com/spf13/cobra"
)

func newRenameCmd(g *globals) *cobra.Command {
	return exit125(&cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			_, err = e.RenameContainer(args[0], args[1])
			return err
		},
	})
}
