package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newContainerPruneCmd(g *globals) *cobra.Command {
	var (
		force   bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			flt, err := engine.ParsePruneFilters(filters, time.Now())
			if err != nil {
				return err
			}
			if !force {
				ok, err := confirm(cmd.InOrStdin(), cmd.OutOrStdout(),
					"WARNING! This will remove all stopped containers.\nAre you sure you want to continue?")
				if err != nil || !ok {
					return err
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			deleted, reclaimed, err := e.PruneContainers(cmd.Context(), flt)
			printPrunedContainers(cmd.OutOrStdout(), deleted)
			if err == nil || len(deleted) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Total reclaimed space:", humanSize(reclaimed))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	f.StringArrayVar(&filters, "filter", nil, "provide filter values: until=TIMESTAMP, label=KEY[=VALUE], label!=KEY[=VALUE]")
	return exit125(cmd)
}

func printPrunedContainers(out io.Writer, deleted []string) {
	if len(deleted) == 0 {
		return
	}
	fmt.Fprintln(out, "Deleted Containers:")
	for _, id := range deleted {
		fmt.Fprintln(out, id)
	}
	fmt.Fprintln(out)
}
