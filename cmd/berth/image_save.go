package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newSaveCmd(g *globals) *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save images to a docker-archive tarball, an OCI layout tarball or an OCI layout directory",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			if format == engine.FormatOCIDir {
				if output == "" {
					return errors.New("save: --format oci-dir needs -o DIRECTORY")
				}
				return e.SaveImages(args, format, nil, output)
			}
			if output != "" {
				return e.SaveImagesToFile(args, format, output)
			}
			w := cmd.OutOrStdout()
			if f, ok := w.(*os.File); ok {
				if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
					return errors.New("save: refusing to write an archive to a terminal; use -o or redirect")
				}
			}
			return e.SaveImages(args, format, w, "")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file (or directory for oci-dir) instead of stdout")
	cmd.Flags().StringVar(&format, "format", engine.FormatDockerArchive, "docker-archive, oci-archive or oci-dir")
	return cmd
}
