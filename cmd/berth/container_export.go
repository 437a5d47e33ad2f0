package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newExportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminal(os.Stdout) {
				return &statusError{125, errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var w io.Writer = cmd.OutOrStdout()
			var f *os.File
			if output != "" {
				// Written next to the output and renamed over it when
				// whole: a failed export leaves no half tar.
				if f, err = os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-"); err != nil {
					return &statusError{125, fmt.Errorf("failed to export container: %w", err)}
				}
				defer os.Remove(f.Name())
				defer f.Close()
				w = f
			}
			if err := e.ExportContainer(cmd.Context(), args[0], w); err != nil {
				return &statusError{125, err}
			}
			if f != nil {
				// 0600 from CreateTemp, as Docker's export -o leaves it.
				err := f.Close()
				if err == nil {
					err = os.Rename(f.Name(), output)
				}
				if err != nil {
					return &statusError{125, fmt.Errorf("failed to export container: %w", err)}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
