package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// registryOptions are the transfer options of pull and push flags; the
// registry config is the engine's (engine.Options.Registries).
func registryOptions(cmd *cobra.Command, tlsVerify bool, platform string) (engine.TransferOptions, error) {
	o := engine.TransferOptions{Insecure: !tlsVerify, Progress: cmd.OutOrStdout()}
	if platform != "" {
		p, err := engine.ParsePlatform(platform)
		if err != nil {
			return o, fmt.Errorf("invalid --platform %q: %w", platform, err)
		}
		o.Platform = p
	}
	return o, nil
}

func newPullCmd(g *globals) *cobra.Command {
	var (
		tlsVerify bool
		platform  string
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := registryOptions(cmd, tlsVerify, platform)
			if err != nil {
				return err
			}
			pr := engine.NewProgress(cmd.OutOrStdout(), quiet)
			defer pr.Close()
			o.Progress, o.Layers = pr, pr
			if quiet {
				o.Progress, o.Layers = nil, nil
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			rec, err := e.PullImage(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(cmd.OutOrStdout(), rec.ID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require HTTPS and verify certificates")
	cmd.Flags().StringVar(&platform, "platform", "", "pick this platform (os/arch[/variant]) from a multi-platform image")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print the image ID only")
	return cmd
}
