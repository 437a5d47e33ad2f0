package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// systemCommand is the "system" group, made by whichever of its
// commands registers first.
func systemCommand(root *cobra.Command) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == "system" {
			return c
		}
	}
	s := &cobra.Command{Use: "system", Short: "Manage Berth"}
	root.AddCommand(s)
	return s
}

// newSystemBootCmd is `berth system boot`, for a boot unit (README,
// docs/boot.md): it prints the containers it started, one a line.
func newSystemBootCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Clean up after a host reboot and start the containers whose restart policy says so",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			res, err := e.Boot(cmd.Context())
			if err != nil {
				return err
			}
			for _, c := range res.Started {
				fmt.Fprintln(cmd.OutOrStdout(), c.Name)
			}
			return errors.Join(res.Errors...)
		},
	}
}
