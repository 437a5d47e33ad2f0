package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newPushCmd(g *globals) *cobra.Command {
	var tlsVerify, quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] IMAGE [DESTINATION]",
		Short: "Upload an image to a registry",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := registryOptions(cmd, tlsVerify, "")
			if err != nil {
				return err
			}
			pr := engine.NewProgress(cmd.OutOrStdout(), quiet)
			defer pr.Close()
			o.Progress, o.Layers = pr, pr
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			return e.PushImage(cmd.Context(), args[0], dest, o)
		},
	}
	cmd.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require HTTPS and verify certificates")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return cmd
}
