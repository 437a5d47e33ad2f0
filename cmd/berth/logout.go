package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/image/registry"
)

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout SERVER",
		Short: "Forget the credentials for a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, _, err := registry.ServerKey(args[0])
			if err != nil {
				return fmt.Errorf("logout: %w", err)
			}
			found, err := registry.RemoveLogin(key)
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", key)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", key)
			return nil
		},
	}
}
