package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newVolumeInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			found := []engine.Volume{}
			var errs []error
			for _, a := range args {
				v, err := e.GetVolume(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				found = append(found, v)
			}
			// The found ones are printed before the error, as Docker does.
			if err := printVolumeInspect(cmd.OutOrStdout(), found, format); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template, or json")
	return cmd
}

func printVolumeInspect(out io.Writer, vs []engine.Volume, format string) error {
	objs := make([]any, len(vs))
	for i, v := range vs {
		objs[i] = v
	}
	return printInspect(out, format, objs)
}
