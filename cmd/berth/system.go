package main

import "github.com/spf13/cobra"

// newSystemCmd is `berth system`, Docker's group of engine-wide commands.
// Each subcommand has its own file; add it to the list below.
func newSystemCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage Berth"}
	cmd.AddCommand(
		newEventsCmd(g),
	)
	return cmd
}
