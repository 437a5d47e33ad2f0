package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newLoadCmd(g *globals) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a docker-archive tarball or an OCI layout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var loaded []engine.LoadedImage
			if input == "" || input == "-" {
				loaded, err = e.LoadImageStream(cmd.Context(), cmd.InOrStdin(), "stdin")
			} else {
				loaded, err = e.LoadImages(cmd.Context(), input)
			}
			for _, l := range loaded {
				if quiet {
					continue
				}
				if len(l.Names) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "Loaded image ID:", l.Image.ID)
				}
				for _, n := range l.Names {
					fmt.Fprintln(cmd.OutOrStdout(), "Loaded image:", engine.FamiliarName(n))
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from this file or OCI layout directory instead of stdin")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return cmd
}
