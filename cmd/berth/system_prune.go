package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// systemPruneWarning is Docker's confirmation text for these flags.
func systemPruneWarning(all, volumes bool, filters []string) string {
	w := []string{"all stopped containers", "all networks not used by at least one container"}
	if volumes {
		w = append(w, "all anonymous volumes not used by at least one container")
	}
	if all {
		w = append(w, "all images without at least one container associated to them", "all build cache")
	} else {
		w = append(w, "all dangling images", "unused build cache")
	}
	var b strings.Builder
	b.WriteString("WARNING! This will remove:\n")
	for _, s := range w {
		b.WriteString("  - " + s + "\n")
	}
	if len(filters) > 0 {
		b.WriteString("\n  Items to be pruned will be filtered with:\n")
		for _, f := range filters {
			b.WriteString("  - " + f + "\n")
		}
	}
	b.WriteString("\nAre you sure you want to continue?")
	return b.String()
}

func newSystemPruneCmd(g *globals) *cobra.Command {
	var (
		all, force, volumes bool
		filters             []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flt, err := engine.ParsePruneFilters(filters, time.Now())
			if err != nil {
				return err
			}
			vflt := engine.VolumeFilter{Labels: flt.Labels, NotLabels: flt.NotLabels}
			if !force {
				ok, err := confirm(cmd.InOrStdin(), cmd.OutOrStdout(), systemPruneWarning(all, volumes, filters))
				if err != nil || !ok {
					return err
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			out := cmd.OutOrStdout()
			deleted, total, err := e.PruneContainers(cmd.Context(), flt)
			printPrunedContainers(out, deleted)
			if err != nil {
				return err
			}
			if volumes {
				vols, n, err := e.PruneVolumes(false, vflt)
				if len(vols) > 0 {
					fmt.Fprintln(out, "Deleted Volumes:")
					for _, v := range vols {
						fmt.Fprintln(out, v)
					}
					fmt.Fprintln(out)
				}
				total += n
				if err != nil {
					return err
				}
			}
			// The image store prunes without filters: with one given,
			// images are left alone rather than pruned unfiltered.
			if len(filters) == 0 {
				rep, n, err := e.PruneImagesSpace(all)
				if len(rep.Deleted) > 0 || len(rep.Untagged) > 0 {
					fmt.Fprintln(out, "Deleted Images:")
					for _, u := range rep.Untagged {
						fmt.Fprintln(out, "untagged:", engine.FamiliarName(u))
					}
					for _, d := range rep.Deleted {
						fmt.Fprintln(out, "deleted:", d)
					}
					fmt.Fprintln(out)
				}
				total += n
				if err != nil {
					return err
				}
			}
			fmt.Fprintln(out, "Total reclaimed space:", humanSize4(total))
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "remove all unused images not just dangling ones")
	f.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	f.BoolVar(&volumes, "volumes", false, "prune anonymous volumes")
	f.StringArrayVar(&filters, "filter", nil, "provide filter values: until=TIMESTAMP, label=KEY[=VALUE], label!=KEY[=VALUE]")
	return exit125(cmd)
}
