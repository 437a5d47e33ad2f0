package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newVolumePruneCmd(g *globals) *cobra.Command {
	var (
		all, force bool
		filters    []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			flt, err := engine.ParseVolumeFilters(filters)
			if err != nil {
				return err
			}
			if !force {
				what := "anonymous local volumes"
				if all {
					what = "all local volumes"
				}
				ok, err := confirm(cmd.InOrStdin(), cmd.OutOrStdout(),
					"WARNING! This will remove "+what+" not used by at least one container.\nAre you sure you want to continue?")
				if err != nil || !ok {
					return err
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			deleted, reclaimed, err := e.PruneVolumes(all, flt)
			if err == nil || len(deleted) > 0 {
				printPruned(cmd.OutOrStdout(), deleted, reclaimed)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "remove all unused volumes, not just anonymous ones")
	f.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	f.StringArrayVar(&filters, "filter", nil, "provide filter values: label=KEY[=VALUE], label!=KEY[=VALUE]")
	return cmd
}

// confirm asks a yes/no question as Docker's CLI does: only y or yes
// (any case) is yes; end of input is no.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	if _, err := fmt.Fprint(out, question+" [y/N] "); err != nil {
		return false, err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// printPruned prints a prune's report in Docker's words.
func printPruned(out io.Writer, deleted []string, reclaimed int64) {
	if len(deleted) > 0 {
		fmt.Fprintln(out, "Deleted Volumes:")
		for _, d := range deleted {
			fmt.Fprintln(out, d)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "Total reclaimed space:", humanSize(reclaimed))
}
