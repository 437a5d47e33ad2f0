package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// volumeRow is one line of `volume ls`, with Docker's field names; the
// swarm-only ones (Availability, Group, Status) and the ones that need a
// size scan (Links, Size) say N/A, as Docker's do for local volumes.
type volumeRow struct {
	Name, Driver, Scope, Mountpoint, Labels, CreatedAt string
	Links, Size, Availability, Group, Status           string
	labels                                             map[string]string
	header                                             bool
}

// Label is {{.Label "KEY"}}: that label's value.
func (r volumeRow) Label(key string) string {
	if r.header {
		return "LABEL " + key
	}
	return r.labels[key]
}

var volumeHeader = volumeRow{
	Name: "VOLUME NAME", Driver: "DRIVER", Scope: "SCOPE", Mountpoint: "MOUNTPOINT", Labels: "LABELS",
	CreatedAt: "CREATED", Links: "LINKS", Size: "SIZE", Availability: "AVAILABILITY", Group: "GROUP",
	Status: "STATUS", header: true,
}

const defaultVolumeFormat = "table {{.Driver}}\t{{.Name}}"

func volumeRows(vs []engine.Volume) []volumeRow {
	rows := make([]volumeRow, 0, len(vs))
	for _, v := range vs {
		rows = append(rows, volumeRow{
			Name: v.Name, Driver: v.Driver, Scope: v.Scope, Mountpoint: v.Mountpoint,
			Labels: joinLabels(v.Labels), CreatedAt: v.CreatedAt.Format(time.RFC3339),
			Links: "N/A", Size: "N/A", Availability: "N/A", Group: "N/A", Status: "N/A",
			labels: v.Labels,
		})
	}
	return rows
}

func newVolumeLsCmd(g *globals) *cobra.Command {
	var (
		quiet   bool
		format  string
		filters []string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			flt, err := engine.ParseVolumeFilters(filters)
			if err != nil {
				return err
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			vs, err := e.ListVolumes(flt)
			if err != nil {
				return err
			}
			return printVolumes(cmd.OutOrStdout(), vs, format, quiet)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, name=SUBSTRING, driver=DRIVER, label=KEY[=VALUE]")
	return cmd
}

func printVolumes(out io.Writer, vs []engine.Volume, format string, quiet bool) error {
	if quiet {
		bw := bufio.NewWriter(out)
		for _, v := range vs {
			fmt.Fprintln(bw, v.Name)
		}
		return bw.Flush()
	}
	switch format {
	case "", "table":
		format = defaultVolumeFormat
	}
	// Docker's CLI reads \t and \n in a format as the characters: a
	// shell's single quotes pass them as backslash escapes.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	return printTable(out, format, volumeHeader, volumeRows(vs))
}
