package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func registryOptions(cmd *cobra.Command, tlsVerify bool, platform string) (engine.TransferOptions, error) {
	o := engine.TransferOptions{Insecure: !tlsVerify, Progress: cmd.OutOrStdout()}
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return o, fmt.Errorf("invalid --platform %q: %w", platform, err)
		}
		o.Platform = p
	}
	return o, nil
}

func newPullCmd(g *globals) *cobra.Command {
	var (
		tlsVerify bool
		platform  string
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := registryOptions(cmd, tlsVerify, platform)
			if err != nil {
				return err
			}
			pr := engine.NewProgress(cmd.OutOrStdout(), quiet)
			defer pr.Close()
			o.Progress, o.Layers = pr, pr
			if quiet {
				o.Progress, o.Layers = nil, nil
			}
			if o.Registries, err = g.registries(); err != nil {
				return err
			}
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			rec, err := e.PullImage(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(cmd.OutOrStdout(), rec.ID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require HTTPS and verify certificates")
	cmd.Flags().StringVar(&platform, "platform", "", "pick this platform (os/arch[/variant]) from a multi-platform image")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print the image ID only")
	return cmd
}

func newPushCmd(g *globals) *cobra.Command {
	var tlsVerify, quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] IMAGE [DESTINATION]",
		Short: "Upload an image to a registry",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := registryOptions(cmd, tlsVerify, "")
			if err != nil {
				return err
			}
			pr := engine.NewProgress(cmd.OutOrStdout(), quiet)
			defer pr.Close()
			o.Progress, o.Layers = pr, pr
			if o.Registries, err = g.registries(); err != nil {
				return err
			}
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			return e.PushImage(cmd.Context(), args[0], dest, o)
		},
	}
	cmd.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require HTTPS and verify certificates")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return cmd
}

func newTagCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			return e.TagImage(args[0], args[1])
		},
	}
}

func newRmiCmd(g *globals, use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			// One transaction for all of them (one commit per command),
			// then a GC.
			results, rerrs, err := e.RemoveImages(args, force)
			if err != nil && results == nil {
				return err
			}
			errs := []error{err}
			for i, res := range results {
				if rerrs[i] != nil {
					errs = append(errs, rerrs[i])
					continue
				}
				for _, u := range res.Untagged {
					fmt.Fprintln(cmd.OutOrStdout(), "Untagged:", engine.FamiliarName(u))
				}
				for _, d := range res.Deleted {
					fmt.Fprintln(cmd.OutOrStdout(), "Deleted:", d)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove an image that has several names")
	return cmd
}

func newPruneCmd(g *globals) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unnamed images (-a: all images) and unused layers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			rep, err := e.PruneImages(all)
			for _, d := range rep.Deleted {
				fmt.Fprintln(cmd.OutOrStdout(), "deleted:", d)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed %d blobs and %d layers\n", rep.Blobs, rep.Layers)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just unnamed ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt (berth never prompts)")
	return cmd
}

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
			e, err := g.open()
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
	f.BoolVarP(&all, "all", "a", false, "show all images (berth keeps no intermediate images)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&digests, "digests", false, "show digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output: dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]")
	return cmd
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
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
	repo, tag := arg, ""
	if i := strings.LastIndex(arg, ":"); i > strings.LastIndex(arg, "/") {
		repo, tag = arg[:i], arg[i+1:]
	}
	if c, err := engine.NormalizeName(repo); err == nil {
		r, _ := engine.SplitName(c)
		repo = engine.FamiliarName(r)
	}
	var out []imageRow
	for _, r := range rows {
		if r.Repository == repo && (tag == "" || r.Tag == tag) {
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

// createdAt prints a time as Docker's CREATED AT column does.
func createdAt(t time.Time) string { return t.Format("2006-01-02 15:04:05 -0700 MST") }

// since prints a time the way Docker's CREATED column does.
func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return humanDuration(time.Since(t)) + " ago"
}

// humanDuration words a duration as Docker's CLI does (go-units HumanDuration).
func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	minutes := int(d.Minutes())
	hours := int(d.Hours() + 0.5)
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return fmt.Sprintf("%d minutes", minutes)
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		return fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		return fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

// humanSize prints bytes in decimal units, as Docker does.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i]) // Docker: go-units HumanSizeWithPrecision(size, 3)
}

func newInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Show details of images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			out := []engine.ImageInspect{}
			var errs []error
			for _, a := range args {
				j, err := e.InspectImage(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, j)
			}
			if format != "" {
				tmpl, err := template.New("inspect").Funcs(template.FuncMap{"json": func(v any) (string, error) {
					b, err := json.Marshal(v)
					return string(b), err
				}}).Parse(format + "\n")
				if err != nil {
					return fmt.Errorf("invalid --format: %w", err)
				}
				for _, j := range out {
					// Templates use the JSON names, as in Docker ({{.Id}}).
					var m map[string]any
					b, err := json.Marshal(j)
					if err == nil {
						err = json.Unmarshal(b, &m)
					}
					if err != nil {
						return err
					}
					if err := tmpl.Execute(cmd.OutOrStdout(), m); err != nil {
						return fmt.Errorf("--format: %w", err)
					}
				}
			} else {
				b, err := json.MarshalIndent(out, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template")
	return cmd
}

func newLoadCmd(g *globals) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a docker-archive tarball or an OCI layout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			path := input
			if path == "" || path == "-" {
				// Archives are read more than once: spool stdin to the root.
				f, err := os.CreateTemp(e.Root()+"/image/tmp", "stdin-")
				if err != nil {
					return err
				}
				defer os.Remove(f.Name())
				_, err = io.Copy(f, cmd.InOrStdin())
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("load: read stdin: %w", err)
				}
				path = f.Name()
			}
			loaded, err := e.LoadImages(cmd.Context(), path)
			if err != nil {
				if path != input {
					// Name stdin, not the spool file.
					err = errors.New(strings.ReplaceAll(err.Error(), path, "(stdin)"))
				}
			}
			for _, l := range loaded {
				if quiet {
					continue
				}
				if len(l.Names) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "Loaded image ID:", l.Image.ID)
				}
				for _, n := range l.Names {
					fmt.Fprintln(cmd.OutOrStdout(), "Loaded image:", engine.FamiliarName(n))
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from this file or OCI layout directory instead of stdin")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return cmd
}

func newSaveCmd(g *globals) *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save images to a docker-archive tarball, an OCI layout tarball or an OCI layout directory",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open()
			if err != nil {
				return err
			}
			defer e.Close()
			if format == engine.FormatOCIDir {
				if output == "" {
					return errors.New("save: --format oci-dir needs -o DIRECTORY")
				}
				return e.SaveImages(args, format, nil, output)
			}
			w := cmd.OutOrStdout()
			if output != "" {
				tmp := output + ".tmp"
				f, err := os.Create(tmp)
				if err != nil {
					return fmt.Errorf("save: %w", err)
				}
				err = e.SaveImages(args, format, f, "")
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err == nil {
					err = os.Rename(tmp, output)
				}
				if err != nil {
					os.Remove(tmp)
				}
				return err
			}
			if f, ok := w.(*os.File); ok {
				if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
					return errors.New("save: refusing to write an archive to a terminal; use -o or redirect")
				}
			}
			return e.SaveImages(args, format, w, "")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file (or directory for oci-dir) instead of stdout")
	cmd.Flags().StringVar(&format, "format", engine.FormatDockerArchive, "docker-archive, oci-archive or oci-dir")
	return cmd
}
