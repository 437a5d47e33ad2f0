package main

import (
	"bufio"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// psRow is one line of `ps`, with Docker's --format field names.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Mounts, Networks, LocalVolumes string
	// Pod and PodName are the pod's id and name (Podman's ps --pod).
	Pod, PodName string

	labels map[string]string
}

// Label is Docker's {{.Label "key"}}.
func (r psRow) Label(k string) string {
	if r.labels == nil {
		return strings.ToUpper(k)
	}
	return r.labels[k]
}

var psHeader = psRow{ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
	Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Names: "NAMES", Labels: "LABELS", Mounts: "MOUNTS",
	Networks: "NETWORKS", LocalVolumes: "LOCAL VOLUMES", Pod: "POD ID", PodName: "PODNAME"}

const psDefaultFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// containerStatus is Docker's STATUS column.
func containerStatus(c *engine.Container, now time.Time) string {
	switch c.State {
	case engine.StateRunning:
		if c.Paused {
			return "Up " + humanDuration(now.Sub(c.Started)) + " (Paused)"
		}
		return "Up " + humanDuration(now.Sub(c.Started))
	case engine.StateStopped:
		return fmt.Sprintf("Exited (%d) %s ago", c.ExitCode, humanDuration(now.Sub(c.Finished)))
	case engine.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.ExitCode, humanDuration(now.Sub(c.Finished)))
	}
	return "Created"
}

func psRowOf(c *engine.Container, now time.Time, trunc bool) psRow {
	cmdline := strings.Join(append([]string{c.Path}, c.Args...), " ")
	r := psRow{ID: c.ID, Image: c.Config.Image, Command: cmdline, CreatedAt: createdAt(c.Created),
		RunningFor: since(c.Created), State: c.Status(), Status: containerStatus(c, now), Names: c.Name,
		labels: c.Config.Labels, Ports: engine.FormatPorts(*c)}
	if r.Image == "" {
		r.Image = c.Image
	}
	if trunc {
		r.ID = shortID(r.ID)
		r.Command = ellipsis(r.Command, 20)
		if strings.HasPrefix(r.Image, "sha256:") {
			r.Image = shortID(r.Image)
		}
	}
	r.Command = strconv.Quote(r.Command)
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(c.Config.Labels)) {
		labels = append(labels, k+"="+c.Config.Labels[k])
	}
	r.Labels = strings.Join(labels, ",")
	var mounts, vols []string
	for _, m := range c.Mounts {
		if m.Type == "volume" {
			n := m.Name
			vols = append(vols, n)
			if trunc {
				n = ellipsis(n, 15)
			}
			mounts = append(mounts, n)
		} else {
			mounts = append(mounts, m.Source)
		}
	}
	r.Mounts, r.LocalVolumes = strings.Join(mounts, ","), strconv.Itoa(len(vols))
	switch {
	case c.Net != nil && len(c.Net.Endpoints) > 0:
		var names []string
		for _, ep := range c.Net.Endpoints {
			names = append(names, ep.Network)
		}
		r.Networks = strings.Join(names, ",")
	case c.Modes.Network == "host":
		r.Networks = "host"
	default:
		r.Networks = "none"
	}
	return r
}

func newPsCmd(g *globals, use string, aliases ...string) *cobra.Command {
	var (
		all, quiet, latest, noTrunc, size, pod bool
		last                                   int
		format                                 string
		filters                                []string
	)
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS]",
		Aliases: aliases,
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			flt, err := e.ParseContainerFilters(filters)
			if err != nil {
				return err
			}
			cs, err := e.ListContainers()
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			now := time.Now()
			podNames := map[string]string{}
			if pod || strings.Contains(format, ".PodName") {
				pods, err := e.ListPods()
				if err != nil {
					return err
				}
				for _, p := range pods {
					podNames[p.ID] = p.Name
				}
			}
			var rows []psRow
			for i := range cs {
				c := &cs[i]
				if !all && last <= 0 && !flt.HasStatus() && c.State != engine.StateRunning && c.State != engine.StateRestarting {
					continue
				}
				if !flt.Match(c) {
					continue
				}
				if last > 0 && len(rows) >= last {
					break
				}
				r := psRowOf(c, now, !noTrunc)
				if c.Pod != "" {
					r.Pod, r.PodName = c.Pod, podNames[c.Pod]
					if !noTrunc {
						r.Pod = shortID(r.Pod)
					}
				}
				if h := e.ContainerHealth(c); h != nil && c.State == engine.StateRunning {
					r.Status += healthSuffix(h.Status)
				}
				if size || strings.Contains(format, ".Size") {
					if rw, virt, err := e.ContainerSize(*c); err == nil {
						r.Size = fmt.Sprintf("%s (virtual %s)", humanSize(rw), humanSize(virt))
					}
				}
				rows = append(rows, r)
			}
			if quiet {
				out := bufio.NewWriter(cmd.OutOrStdout())
				for _, r := range rows {
					fmt.Fprintln(out, r.ID)
				}
				return out.Flush()
			}
			// Docker's CLI reads \t and \n in a --format as a tab and a newline.
			format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
			switch format {
			case "", "table":
				format = psDefaultFormat
				if size {
					format += "\t{{.Size}}"
				}
				if pod {
					format += "\t{{.Pod}}\t{{.PodName}}"
				}
			}
			return printTable(cmd.OutOrStdout(), format, psHeader, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	fl.BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
	fl.IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
	fl.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	fl.BoolVarP(&size, "size", "s", false, "display total file sizes")
	fl.BoolVarP(&pod, "pod", "p", false, "print the ID and name of the pod each container belongs to")
	fl.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions provided")
	return cmd
}
