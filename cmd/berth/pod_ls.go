package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// podRow is one line of `pod ls`, with Podman's --format field names.
type podRow struct {
	ID, Name, Status, Created, InfraID, NumberOfContainers, Labels, ContainerNames, ContainerIds, ContainerStatuses string
}

var podHeader = podRow{ID: "POD ID", Name: "NAME", Status: "STATUS", Created: "CREATED", InfraID: "INFRA ID",
	NumberOfContainers: "# OF CONTAINERS", Labels: "LABELS", ContainerNames: "NAMES", ContainerIds: "IDS",
	ContainerStatuses: "STATUS"}

func newPodListCmd(g *globals, use string, aliases ...string) *cobra.Command {
	var (
		quiet, noTrunc, ctrNames, ctrIDs, ctrStatus bool
		format                                      string
	)
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS]",
		Aliases: aliases,
		Short:   "List pods",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			pods, err := e.ListPods()
			if err != nil {
				return err
			}
			all, err := e.ListContainers()
			if err != nil {
				return err
			}
			var rows []podRow
			for _, p := range pods {
				var cs []engine.Container
				for _, c := range all {
					if c.Pod == p.ID {
						cs = append(cs, c)
					}
				}
				r := podRow{ID: p.ID, Name: p.Name, Status: engine.PodStatus(cs), Created: since(p.Created),
					InfraID: p.InfraID, NumberOfContainers: fmt.Sprint(len(cs)), Labels: joinLabels(p.Labels)}
				var names, ids, sts []string
				for _, c := range cs {
					id := c.ID
					if !noTrunc {
						id = shortID(id)
					}
					names, ids, sts = append(names, c.Name), append(ids, id), append(sts, c.Status())
				}
				r.ContainerNames, r.ContainerIds, r.ContainerStatuses = strings.Join(names, ","), strings.Join(ids, ","), strings.Join(sts, ",")
				if !noTrunc {
					r.ID, r.InfraID = shortID(r.ID), shortID(r.InfraID)
				}
				rows = append(rows, r)
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(cmd.OutOrStdout(), r.ID)
				}
				return nil
			}
			format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
			if format == "" || format == "table" {
				format = "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}"
				if ctrNames {
					format += "\t{{.ContainerNames}}"
				}
				if ctrIDs {
					format += "\t{{.ContainerIds}}"
				}
				if ctrStatus {
					format += "\t{{.ContainerStatuses}}"
				}
				if !ctrNames && !ctrIDs && !ctrStatus {
					format += "\t{{.NumberOfContainers}}"
				}
			}
			return printTable(cmd.OutOrStdout(), format, podHeader, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "print the pod IDs only")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate pod and container IDs")
	f.BoolVar(&ctrNames, "ctr-names", false, "show the names of the containers in each pod")
	f.BoolVar(&ctrIDs, "ctr-ids", false, "show the IDs of the containers in each pod")
	f.BoolVar(&ctrStatus, "ctr-status", false, "show the status of the containers in each pod")
	f.StringVar(&format, "format", "", "format output: table or a Go template")
	return exit125(cmd)
}
