package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// dfRow is one line of `system df`, with Docker's --format field names.
type dfRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

var dfHeader = dfRow{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}

const dfDefaultFormat = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

// humanSize4 is go-units' HumanSize (four significant digits), as df
// prints sizes.
func humanSize4(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// reclaimable is Docker's RECLAIMABLE: the size, with its share of the
// total when there is a total.
func reclaimable(n, total int64) string {
	if total > 0 {
		return fmt.Sprintf("%s (%d%%)", humanSize4(n), n*100/total)
	}
	return humanSize4(n)
}

func dfRows(du engine.DiskUsage) []dfRow {
	var imgActive int
	var imgUsed int64
	for _, i := range du.Images {
		if i.Containers > 0 {
			imgActive++
			imgUsed += i.Size - i.SharedSize
		}
	}
	var ctrActive int
	var ctrSize, ctrFree int64
	for _, c := range du.Containers {
		ctrSize += c.SizeRw
		if c.State == engine.StateRunning {
			ctrActive++
		} else {
			ctrFree += c.SizeRw
		}
	}
	var volActive int
	var volSize, volFree int64
	for _, v := range du.Volumes {
		volSize += v.Size
		if v.Links > 0 {
			volActive++
		} else {
			volFree += v.Size
		}
	}
	return []dfRow{
		{"Images", strconv.Itoa(len(du.Images)), strconv.Itoa(imgActive), humanSize4(du.LayersSize), reclaimable(max(du.LayersSize-imgUsed, 0), du.LayersSize)},
		{"Containers", strconv.Itoa(len(du.Containers)), strconv.Itoa(ctrActive), humanSize4(ctrSize), reclaimable(ctrFree, ctrSize)},
		{"Local Volumes", strconv.Itoa(len(du.Volumes)), strconv.Itoa(volActive), humanSize4(volSize), reclaimable(volFree, volSize)},
		{"Build Cache", strconv.Itoa(len(du.BuildCache)), "0", humanSize4(du.BuildCacheSize), humanSize4(du.BuildCacheSize)},
	}
}

func newSystemDfCmd(g *globals) *cobra.Command {
	var (
		verbose bool
		format  string
	)
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show Berth disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "" && format != "json" && format != "table" {
				if _, err := parseTemplate("df", strings.TrimPrefix(format, "table ")); err != nil {
					return err
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			du, err := e.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if verbose && (format == "" || format == "table") {
				return printDfVerbose(out, du)
			}
			if format == "" || format == "table" {
				format = dfDefaultFormat
			}
			return printTable(out, format, dfHeader, dfRows(du))
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show detailed information on space usage")
	cmd.Flags().StringVar(&format, "format", "", "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
	return exit125(cmd)
}

type dfImageRow struct{ Repository, Tag, ID, CreatedSince, Size, SharedSize, UniqueSize, Containers string }
type dfContainerRow struct{ ID, Image, Command, LocalVolumes, Size, RunningFor, Status, Names string }
type dfVolumeRow struct{ Name, Links, Size string }

func printDfVerbose(out io.Writer, du engine.DiskUsage) error {
	fmt.Fprintln(out, "Images space usage:")
	fmt.Fprintln(out)
	var imgs []dfImageRow
	for _, i := range du.Images {
		for _, r := range imageRows([]engine.Image{i.Image}) {
			imgs = append(imgs, dfImageRow{r.Repository, r.Tag, shortID(r.ID), r.CreatedSince, humanSize4(i.Size),
				humanSize4(i.SharedSize), humanSize4(i.Size - i.SharedSize), strconv.Itoa(i.Containers)})
		}
	}
	if err := printTable(out, "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
		dfImageRow{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}, imgs); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Containers space usage:")
	fmt.Fprintln(out)
	now := time.Now()
	var ctrs []dfContainerRow
	for _, c := range du.Containers {
		p := psRowOf(&c.Container, now, true)
		ctrs = append(ctrs, dfContainerRow{p.ID, p.Image, p.Command, p.LocalVolumes, humanSize4(c.SizeRw), p.RunningFor, p.Status, p.Names})
	}
	if err := printTable(out, "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
		dfContainerRow{"CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"}, ctrs); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Local Volumes space usage:")
	fmt.Fprintln(out)
	var vols []dfVolumeRow
	for _, v := range du.Volumes {
		vols = append(vols, dfVolumeRow{v.Name, strconv.Itoa(v.Links), humanSize4(v.Size)})
	}
	if err := printTable(out, "table {{.Name}}\t{{.Links}}\t{{.Size}}", dfVolumeRow{"VOLUME NAME", "LINKS", "SIZE"}, vols); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Build cache usage: %s\n", humanSize4(du.BuildCacheSize))
	fmt.Fprintln(out)
	fmt.Fprintln(out, "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED")
	return nil
}
