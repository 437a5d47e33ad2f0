package main

import (
	"encoding/json"
	"errors"
	"fmt"

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
			if format != "" {
				tmpl, err := parseTemplate("inspect", format)
				if err != nil {
					return err
				}
				for _, j := range out {
					// Templates use the JSON names, as in Docker ({{.Id}}).
					var m map[string]any
					b, err := json.Marshal(j)
					if err == nil {
						err = json.Unmarshal(b, &m)
					}
					if err != nil {
						return err
					}
					if err := tmpl.Execute(cmd.OutOrStdout(), m); err != nil {
						return fmt.Errorf("--format: %w", err)
					}
				}
			} else {
				b, err := json.MarshalIndent(out, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template")
	return cmd
}
