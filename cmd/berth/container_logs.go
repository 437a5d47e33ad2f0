package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/monitor"
)

// parseTime reads --since and --until as Docker does: an RFC 3339 time
// (or a date, or a time without zone, taken as local), Unix seconds with
// optional fraction, or a duration back from now ("10m").
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	sec, frac, _ := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var ns int64
		if frac != "" {
			f := (frac + "000000000")[:9]
			if ns, err = strconv.ParseInt(f, 10, 64); err != nil {
				return time.Time{}, fmt.Errorf("invalid %s %q", flag, s)
			}
		}
		return time.Unix(n, ns), nil
	}
	return time.Time{}, fmt.Errorf("invalid %s %q: want a time (RFC 3339, Unix seconds) or a duration such as 10m", flag, s)
}

func newLogsCmd(g *globals) *cobra.Command {
	var (
		follow, timestamps, details bool
		tail, sinceArg, untilArg    string
	)
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			o := engine.LogsOptions{Follow: follow}
			var err error
			if o.Since, err = parseTime("--since", sinceArg, now); err != nil {
				return err
			}
			if o.Until, err = parseTime("--until", untilArg, now); err != nil {
				return err
			}
			if tail != "all" && tail != "" {
				n, err := strconv.Atoi(tail)
				if err != nil {
					return fmt.Errorf("invalid --tail %q: want a number or all", tail)
				}
				if n >= 0 {
					o.Tail, o.TailSet = n, true
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			// Buffered, flushed when the reader waits for more: a 100 MB
			// log is not written a line at a time.
			stdout := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			stderr := bufio.NewWriterSize(cmd.ErrOrStderr(), 64<<10)
			defer stdout.Flush()
			defer stderr.Flush()
			o.Idle = func() {
				stdout.Flush()
				stderr.Flush()
			}
			err = e.ContainerLogs(cmd.Context(), args[0], o, monitor.Copier(stdout, stderr, timestamps))
			if err != nil && cmd.Context().Err() != nil {
				return nil // ^C ends a follow
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.BoolVar(&details, "details", false, "show extra details provided to logs")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.StringVar(&sinceArg, "since", "", "show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&untilArg, "until", "", "show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	return cmd
}
