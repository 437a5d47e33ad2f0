package main

import (
	"encoding/json"
	"errors"
	"fmt"
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
	if format == "" || format == "json" {
		if vs == nil {
			vs = []engine.Volume{} // "[]", as Docker prints when none was found
		}
		b, err := json.MarshalIndent(vs, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	}
	tmpl, err := parseTemplate("inspect", format)
	if err != nil {
		return err
	}
	for _, v := range vs {
		// Templates see the JSON names and values, as in Docker
		// ({{.CreatedAt}} is the RFC 3339 string).
		var m map[string]any
		b, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			return err
		}
		if err := tmpl.Execute(out, m); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
	}
	return nil
}
