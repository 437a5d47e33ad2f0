package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/image/store"
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
			s := e.Images()
			rows, err := historyRows(s, args[0], noTrunc, human)
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

func historyRows(s *store.Store, ref string, noTrunc, human bool) ([]historyRow, error) {
	rec, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	raw, err := s.ReadBlob(rec.ID)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", ref, err)
	}
	cf, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("history %s: config: %w", ref, err)
	}
	hist := cf.History
	// Images without history get one entry per layer.
	if len(hist) == 0 {
		for range rec.Layers {
			hist = append(hist, v1.History{Created: cf.Created})
		}
	}
	sizes := make([]int64, len(hist))
	layer := 0
	for i, h := range hist {
		if h.EmptyLayer {
			continue
		}
		if layer < len(rec.Layers) {
			sizes[i] = layerSize(s, rec.Layers[layer])
		}
		layer++
	}
	rows := make([]historyRow, 0, len(hist))
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if i == len(hist)-1 {
			r.ID = rec.ID.String()
			if !noTrunc {
				r.ID = shortID(r.ID)
			}
		}
		if human {
			r.CreatedSince, r.CreatedAt = since(h.Created.Time), h.Created.Time.Format("2006-01-02 15:04:05 -0700 MST")
			r.Size = humanSize(sizes[i])
		} else {
			r.CreatedSince = h.Created.Time.Format(time.RFC3339)
			r.CreatedAt, r.Size = r.CreatedSince, fmt.Sprint(sizes[i])
		}
		if !noTrunc {
			r.CreatedBy = ellipsis(strings.ReplaceAll(r.CreatedBy, "\t", " "), 45)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// layerSize is the unpacked size of a layer, which is what Docker's
// history shows; the compressed size when the layer is not unpacked.
func layerSize(s *store.Store, l store.Layer) int64 {
	var n int64
	err := filepath.WalkDir(s.Snapshots().Path(l.DiffID), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return l.Size
	}
	return n
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
