package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newTopCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			_, pids, err := e.ContainerPids(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			titles, procs, err := topOf(psArgs, pids)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(titles, "\t"))
			for _, p := range procs {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		},
	}
	// Everything after the container is ps's, dashes included.
	cmd.Flags().SetInterspersed(false)
	return exit125(cmd)
}

// topOf runs the host's ps with args, as Docker's daemon does, and keeps
// the rows whose PID column is one of pids; the last column takes the
// rest of its line (a command with spaces).
func topOf(args []string, pids []int) ([]string, [][]string, error) {
	var stderr bytes.Buffer
	ps := exec.Command("ps", args...)
	ps.Stderr = &stderr
	out, err := ps.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, nil, fmt.Errorf("error running ps %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles := strings.Fields(lines[0])
	col := -1
	for i, t := range titles {
		if t == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, nil, errors.New("couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	var procs [][]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		p, err := strconv.Atoi(f[col])
		if err != nil {
			return nil, nil, fmt.Errorf("unexpected pid %q in ps output", f[col])
		}
		if !want[p] {
			continue
		}
		if len(f) > len(titles) {
			f = append(f[:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
		}
		procs = append(procs, f)
	}
	return titles, procs, nil
}
