package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// historyRow is one line of `image history`, newest first as in Docker.
type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
}

var historyHeader = historyRow{"IMAGE", "CREATED", "CREATED AT", "CREATED BY", "SIZE", "COMMENT"}

const historyTable = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

func newHistoryCmd(g *globals) *cobra.Command {
	var (
		noTrunc, quiet, human bool
		format                string
	)
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			rows, err := historyRows(e, args[0], noTrunc, human)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(out, r.ID)
				}
				return nil
			}
			if format == "" || format == "table" {
				format = historyTable
			}
			return printTable(out, format, historyHeader, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}

func historyRows(e *engine.Engine, ref string, noTrunc, human bool) ([]historyRow, error) {
	hist, err := e.ImageHistory(ref)
	if err != nil {
		return nil, err
	}
	rows := make([]historyRow, 0, len(hist))
	for _, h := range hist {
		r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.ID != "" {
			r.ID = h.ID
			if !noTrunc {
				r.ID = shortID(r.ID)
			}
		}
		if human {
			r.CreatedSince, r.CreatedAt = since(h.Created), createdAt(h.Created)
			r.Size = humanSize(h.Size)
		} else {
			r.CreatedSince = h.Created.Format(time.RFC3339)
			r.CreatedAt, r.Size = r.CreatedSince, fmt.Sprint(h.Size)
		}
		if !noTrunc {
			r.CreatedBy = ellipsis(strings.ReplaceAll(r.CreatedBy, "\t", " "), 45)
		}
		rows = append(rows, r)
	}
	return rows, nil
}
