package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// newVolumeCmd is `berth volume`: Docker's local volumes (engine/volumes.go).
func newVolumeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	cmd.AddCommand(newVolumeCreateCmd(g), newVolumeLsCmd(g), newVolumeInspectCmd(g),
		newVolumeRmCmd(g), newVolumePruneCmd(g))
	return cmd
}

func newVolumeCreateCmd(g *globals) *cobra.Command {
	var (
		name, driver string
		labels, opts []string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return fmt.Errorf("conflicting options: either specify --name or provide positional arg, not both")
				}
				name = args[0]
			}
			l, err := keyValues("--label", labels)
			if err != nil {
				return err
			}
			op, err := keyValues("--opt", opts)
			if err != nil {
				return err
			}
			o := engine.VolumeCreateOptions{Name: name, Driver: driver, Labels: l, Options: op}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			v, _, err := e.CreateVolume(o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "local", "volume driver name")
	f.StringVar(&name, "name", "", "volume name")
	f.StringArrayVar(&labels, "label", nil, "set metadata for a volume (KEY=VALUE)")
	f.StringArrayVarP(&opts, "opt", "o", nil, "set driver specific options (KEY=VALUE)")
	return cmd
}

// joinLabels prints labels as Docker's .Labels column does, sorted so
// that the output does not change from run to run.
func joinLabels(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}
