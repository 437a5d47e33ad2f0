package main

import "github.com/spf13/cobra"

// newSystemCmd is the `system` group; main.go adds its commands (events,
// info, df, prune, boot), each in its own file.
func newSystemCmd() *cobra.Command {
	return &cobra.Command{Use: "system", Short: "Manage Berth"}
}
