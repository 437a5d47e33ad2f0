package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Show details of images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			out := []engine.ImageInspect{}
			var errs []error
			for _, a := range args {
				j, err := e.InspectImage(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, j)
			}
			objs := make([]any, len(out))
			for i, j := range out {
				objs[i] = j
			}
			if err := printInspect(cmd.OutOrStdout(), format, objs); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template")
	return cmd
}
