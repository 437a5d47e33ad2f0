package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
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
			e, err := g.open()
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

func ellipsis(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// printTable prints rows through a Go template; "table ..." templates get
// a header row (header) and aligned columns, "json" one JSON object a line.
func printTable[T any](out io.Writer, format string, header T, rows []T) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	table := strings.HasPrefix(format, "table ")
	format = strings.TrimPrefix(format, "table ")
	tmpl, err := template.New("format").Funcs(template.FuncMap{"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).Parse(format + "\n")
	if err != nil {
		return fmt.Errorf("invalid --format: %w", err)
	}
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	w := io.Writer(bw)
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(bw, 10, 1, 3, ' ', 0)
		w = tw
		if err := tmpl.Execute(w, header); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
	}
	for _, r := range rows {
		if err := tmpl.Execute(w, r); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return bw.Flush()
}
