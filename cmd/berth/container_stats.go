package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// statsRow is one line of `stats`, with Docker's --format field names.
type statsRow struct {
	Container, Name, ID, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

var statsHeader = statsRow{Container: "CONTAINER", Name: "NAME", ID: "CONTAINER ID", CPUPerc: "CPU %",
	MemUsage: "MEM USAGE / LIMIT", MemPerc: "MEM %", NetIO: "NET I/O", BlockIO: "BLOCK I/O", PIDs: "PIDS"}

const statsDefaultFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// binarySize is go-units' BytesSize, as Docker shows memory: binary units
// to four significant digits.
func binarySize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// statsTarget is one container shown, with its last sample for the CPU
// delta of the next.
type statsTarget struct {
	ref  string // as given, or the id
	c    engine.Container
	prev *engine.StatsSample
}

// cpuPercent is Docker's: the container's CPU time over the host's, times
// the online CPUs. Without an earlier sample the container's start is
// the earlier one (its whole life's average, as Podman gives).
func cpuPercent(s engine.StatsSample, prev *engine.StatsSample, started time.Time) float64 {
	if prev != nil {
		cpu, sys := float64(s.CPUTotal)-float64(prev.CPUTotal), float64(s.SystemCPU)-float64(prev.SystemCPU)
		if cpu > 0 && sys > 0 {
			return cpu / sys * float64(s.OnlineCPUs) * 100
		}
		return 0
	}
	wall := s.Read.Sub(started)
	if wall <= 0 {
		return 0
	}
	return float64(s.CPUTotal) / float64(wall.Nanoseconds()) * 100
}

func statsRowOf(t *statsTarget, s *engine.StatsSample, noTrunc bool) statsRow {
	r := statsRow{Container: t.ref, Name: t.c.Name, ID: t.c.ID, CPUPerc: "0.00%", MemUsage: "0B / 0B",
		MemPerc: "0.00%", NetIO: "0B / 0B", BlockIO: "0B / 0B", PIDs: "0"}
	if !noTrunc {
		r.ID = shortID(r.ID)
	}
	if s == nil {
		return r
	}
	r.CPUPerc = fmt.Sprintf("%.2f%%", cpuPercent(*s, t.prev, t.c.Started))
	r.MemUsage = binarySize(s.MemUsage) + " / " + binarySize(s.MemLimit)
	if s.MemLimit > 0 {
		r.MemPerc = fmt.Sprintf("%.2f%%", float64(s.MemUsage)/float64(s.MemLimit)*100)
	}
	r.NetIO = humanSize(int64(s.NetRx)) + " / " + humanSize(int64(s.NetTx))
	r.BlockIO = humanSize(int64(s.BlkRead)) + " / " + humanSize(int64(s.BlkWrite))
	r.PIDs = fmt.Sprint(s.Pids)
	return r
}

func newStatsCmd(g *globals) *cobra.Command {
	var (
		all, noStream, noTrunc bool
		format                 string
	)
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case format == "":
				format = statsDefaultFormat
			case format == "table":
				format = statsDefaultFormat
			}
			if format != "json" {
				if _, err := parseTemplate("stats", format); err != nil {
					return err
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			ctx := cmd.Context()
			prev := map[string]*engine.StatsSample{}
			frame := func() ([]statsRow, error) {
				targets, err := statsTargets(e, args, all)
				if err != nil {
					return nil, err
				}
				samples := make([]*engine.StatsSample, len(targets))
				errs := make([]error, len(targets))
				// A few at once: each sample is some thirty small reads,
				// and a loaded machine's latency adds up over 50.
				var wg sync.WaitGroup
				sem := make(chan struct{}, 4)
				for i, t := range targets {
					if t.c.State != engine.StateRunning {
						continue
					}
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer func() { <-sem; wg.Done() }()
						s, err := e.ContainerStats(ctx, &t.c)
						if err == nil {
							samples[i] = &s
						} else if !errors.Is(err, engine.ErrNotRunning) {
							errs[i] = err
						}
					}()
				}
				wg.Wait()
				rows := make([]statsRow, 0, len(targets))
				seen := map[string]*engine.StatsSample{}
				for i, t := range targets {
					if errs[i] != nil && len(args) > 0 {
						return nil, errs[i]
					}
					t.prev = prev[t.c.ID]
					if samples[i] != nil {
						seen[t.c.ID] = samples[i]
					}
					rows = append(rows, statsRowOf(t, samples[i], noTrunc))
				}
				prev = seen
				return rows, nil
			}
			out := cmd.OutOrStdout()
			if noStream {
				rows, err := frame()
				if err != nil {
					return err
				}
				return printTable(out, format, statsHeader, rows)
			}
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				rows, err := frame()
				if err != nil {
					return err
				}
				// One write a frame: clear the screen, go home, draw.
				var buf bytes.Buffer
				buf.WriteString("\033[2J\033[H")
				if err := printTable(&buf, format, statsHeader, rows); err != nil {
					return err
				}
				if _, err := out.Write(buf.Bytes()); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					if errors.Is(ctx.Err(), context.Canceled) {
						return nil
					}
					return ctx.Err()
				case <-tick.C:
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVar(&noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	f.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	return exit125(cmd)
}

// statsTargets are the containers named, or every running one (-a: every
// one), newest first as ps lists them.
func statsTargets(e *engine.Engine, refs []string, all bool) ([]*statsTarget, error) {
	var out []*statsTarget
	if len(refs) > 0 {
		for _, r := range refs {
			c, err := e.LookupContainer(r)
			if err != nil {
				return nil, err
			}
			out = append(out, &statsTarget{ref: r, c: c})
		}
		return out, nil
	}
	cs, err := e.ListContainers()
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if all || c.State == engine.StateRunning {
			out = append(out, &statsTarget{ref: c.ID, c: c})
		}
	}
	return out, nil
}
