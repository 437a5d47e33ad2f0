package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newImportCmd(g *globals) *cobra.Command {
	var (
		changes  []string
		message  string
		platform string
	)
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Make an image from a root filesystem tarball (plain, gzip or zstd)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := engine.ImportOptions{Changes: changes, Message: message, Source: args[0]}
			if platform != "" {
				p, err := engine.ParsePlatform(platform)
				if err != nil {
					return fmt.Errorf("invalid --platform %q: %w", platform, err)
				}
				opts.Platform = p
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				if fi, err := f.Stat(); err == nil && fi.IsDir() {
					return fmt.Errorf("import %s: is a directory; give a tarball", args[0])
				}
				in = f
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			img, err := e.ImportImage(cmd.Context(), in, ref, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)")
	f.StringVarP(&message, "message", "m", "", "history comment for the imported layer")
	f.StringVar(&platform, "platform", "", "platform of the image (os/arch[/variant]); default this machine's")
	return cmd
}
