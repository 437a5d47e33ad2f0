package main

import (
	"bufio"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// imageRow is one line of `images`; all strings, so that one template
// prints both the header and the rows.
type imageRow struct {
	Repository, Tag, Digest, ID, CreatedSince, CreatedAt, Size string
	created                                                    time.Time // CreatedAt, when a format shows it
}

var headerRow = imageRow{"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "CREATED AT", "SIZE", time.Time{}}

func newImagesCmd(g *globals, use string) *cobra.Command {
	var (
		all, quiet, digests, noTrunc bool
		format                       string
		filters                      []string
	)
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			flt, err := e.ParseImageFilters(filters)
			if err != nil {
				return err
			}
			imgs, err := e.ListImages(flt)
			if err != nil {
				return err
			}
			if !all {
				imgs = e.HideIntermediate(imgs)
			}
			rows := imageRows(imgs)
			if len(args) == 1 {
				rows = filterRows(rows, args[0])
			}
			if quiet {
				out := bufio.NewWriter(cmd.OutOrStdout())
				seen := map[string]bool{}
				for _, r := range rows {
					id := r.ID
					if !noTrunc {
						id = shortID(id)
					}
					if !seen[id] {
						seen[id] = true
						fmt.Fprintln(out, id)
					}
				}
				return out.Flush()
			}
			if !noTrunc {
				for i := range rows {
					rows[i].ID = shortID(rows[i].ID)
				}
			}
			return printRows(cmd.OutOrStdout(), rows, format, digests)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&digests, "digests", false, "show digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]")
	return cmd
}

func imageRows(imgs []engine.Image) []imageRow {
	rows := make([]imageRow, 0, len(imgs))
	for _, img := range imgs {
		base := imageRow{
			ID: img.ID.String(), CreatedSince: since(img.Created), created: img.Created,
			Size: humanSize(img.Size()), Digest: "<none>",
		}
		digestFor := func(repo string) string {
			for _, d := range img.RepoDigests {
				if r, dg := engine.SplitName(d); r == repo {
					return dg
				}
			}
			return "<none>"
		}
		if len(img.Names) == 0 {
			r := base
			r.Repository, r.Tag = "<none>", "<none>"
			if len(img.RepoDigests) > 0 {
				repo, dg := engine.SplitName(img.RepoDigests[0])
				r.Repository, r.Digest = engine.FamiliarName(repo), dg
			}
			rows = append(rows, r)
			continue
		}
		for _, n := range img.Names {
			r := base
			repo, tag := engine.SplitName(n)
			r.Repository, r.Tag, r.Digest = engine.FamiliarName(repo), tag, digestFor(repo)
			rows = append(rows, r)
		}
	}
	return rows
}

// filterRows keeps rows matching a REPOSITORY[:TAG] argument.
func filterRows(rows []imageRow, arg string) []imageRow {
	match := engine.MatchImageName(arg)
	var out []imageRow
	for _, r := range rows {
		if match(r.Repository, r.Tag) {
			out = append(out, r)
		}
	}
	return out
}

func printRows(out io.Writer, rows []imageRow, format string, digests bool) error {
	if format == "" || format == "table" {
		// The default table without a template (executing one per row
		// was a fifth of `berth images` with 1,000 images), buffered
		// under the tabwriter, which writes every cell and pad apart.
		bw := bufio.NewWriter(out)
		tw := tabwriter.NewWriter(bw, 10, 1, 3, ' ', 0)
		var line []byte
		for _, r := range append([]imageRow{headerRow}, rows...) {
			line = append(append(append(line[:0], r.Repository...), '\t'), r.Tag...)
			if digests {
				line = append(append(line, '\t'), r.Digest...)
			}
			line = append(append(append(append(append(append(line, '\t'), r.ID...), '\t'), r.CreatedSince...), '\t'), r.Size...)
			tw.Write(append(line, '\n'))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return bw.Flush()
	}
	// Only templates and json show CREATED AT: the default table and -q
	// skip formatting a date per image.
	for i := range rows {
		rows[i].CreatedAt = createdAt(rows[i].created)
	}
	return printTable(out, format, headerRow, rows)
}
