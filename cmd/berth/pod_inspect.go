package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newPodInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] POD [POD...]",
		Short: "Display detailed information on one or more pods",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var objs []any
			var errs []error
			for _, ref := range args {
				in, err := e.InspectPod(ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				objs = append(objs, in)
			}
			if err := printInspect(cmd.OutOrStdout(), format, objs); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: json or a Go template")
	return exit125(cmd)
}
