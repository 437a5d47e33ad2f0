package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// newEventsCmd is `events` and `system events`: like Docker's, it streams
// until interrupted, from the log's start up to now first with --since,
// and ends at --until.
func newEventsCmd(g *globals) *cobra.Command {
	var (
		filters                []string
		sinceArg, untilArg, ft string
	)
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Everything is checked before the engine is opened: bad
			// input changes nothing.
			now := time.Now()
			o := engine.EventOptions{Follow: true}
			var err error
			if o.Since, err = parseEventTime("--since", sinceArg, now); err != nil {
				return &statusError{125, err}
			}
			if o.Until, err = parseEventTime("--until", untilArg, now); err != nil {
				return &statusError{125, err}
			}
			if !o.Since.IsZero() && !o.Until.IsZero() && o.Since.After(o.Until) {
				return &statusError{125, fmt.Errorf("--since (%s) is after --until (%s)", sinceArg, untilArg)}
			}
			if o.Filters, err = engine.ParseEventFilters(filters); err != nil {
				return &statusError{125, err}
			}
			print, err := eventPrinter(cmd.OutOrStdout(), ft)
			if err != nil {
				return &statusError{125, err}
			}
			e, err := g.open(cmd)
			if err != nil {
				return &statusError{125, err}
			}
			// The log needs no more of the engine: a follower that runs
			// for days must not hold the root open (see Events).
			e.Close()
			if err := e.Events(cmd.Context(), o, print); err != nil {
				return &statusError{125, err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions provided")
	f.StringVar(&ft, "format", "", "format output using a custom template: 'json' or a Go template")
	f.StringVar(&sinceArg, "since", "", "show all events created since timestamp")
	f.StringVar(&untilArg, "until", "", "stream events until this timestamp")
	return cmd
}

// eventPrinter prints one event a line: Docker's layout, JSON, or a
// template with the event's fields (.Type, .Action, .Actor.ID,
// .Actor.Attributes, .Scope, .Time, .TimeNano, and the older .Status,
// .ID, .From).
func eventPrinter(out io.Writer, format string) (func(engine.Event) error, error) {
	var buf bytes.Buffer
	write := func() error {
		_, err := out.Write(buf.Bytes()) // one write an event: a follower sees it at once
		buf.Reset()
		return err
	}
	switch format {
	case "":
		return func(ev engine.Event) error {
			printEvent(&buf, ev)
			return write()
		}, nil
	case "json":
		return func(ev engine.Event) error {
			if err := json.NewEncoder(&buf).Encode(ev); err != nil {
				return err
			}
			return write()
		}, nil
	}
	tmpl, err := parseTemplate("events", format)
	if err != nil {
		return nil, err
	}
	return func(ev engine.Event) error {
		if err := tmpl.Execute(&buf, ev); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		return write()
	}, nil
}

// printEvent is Docker's line: the time with nanoseconds in the local
// zone, type, action, actor and its attributes sorted by key.
func printEvent(w *bytes.Buffer, ev engine.Event) {
	t := time.Unix(0, ev.TimeNano)
	if ev.TimeNano == 0 {
		t = time.Unix(ev.Time, 0)
	}
	fmt.Fprintf(w, "%s %s %s %s", t.Format("2006-01-02T15:04:05.000000000Z07:00"), ev.Type, ev.Action, ev.Actor.ID)
	if len(ev.Actor.Attributes) > 0 {
		w.WriteString(" (")
		for i, k := range slices.Sorted(maps.Keys(ev.Actor.Attributes)) {
			if i > 0 {
				w.WriteString(", ")
			}
			w.WriteString(k + "=" + ev.Actor.Attributes[k])
		}
		w.WriteString(")")
	}
	w.WriteString("\n")
}

// parseEventTime reads --since and --until as Docker's CLI does: a Go
// duration back from now (whole seconds), a date or RFC 3339 time — in
// the local zone unless it has Z or an offset; minutes, seconds and a
// fraction optional — or Unix seconds with an optional fraction.
func parseEventTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("invalid %s %q: want a date or time (2006-01-02, 2006-01-02T15:04:05, RFC 3339), Unix seconds or a duration such as 10m", flag, v)
	}
	if d, err := time.ParseDuration(v); err == nil && v != "0" {
		return time.Unix(now.Add(-d).Unix(), 0), nil
	}
	// Docker's test for a zone: a Z, a plus, or a third dash (-07:00).
	zoned := strings.ContainsAny(v, "zZ+") || strings.Count(v, "-") == 3
	var layout string
	switch {
	case strings.Contains(v, "."):
		layout = "2006-01-02T15:04:05.999999999"
	case strings.Contains(v, "T"):
		colons := strings.Count(v, ":")
		if zoned && !strings.ContainsAny(v, "zZ") && colons > 0 {
			colons-- // the offset's
		}
		layout = [...]string{"2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05"}[min(colons, 2)]
	default:
		layout = "2006-01-02"
	}
	var t time.Time
	var err error
	if zoned {
		t, err = time.Parse(layout+"Z07:00", v)
	} else {
		t, err = time.ParseInLocation(layout, v, time.Local)
	}
	if err == nil {
		return t, nil
	}
	if strings.Contains(v, "-") {
		return bad()
	}
	secs, frac, hasFrac := strings.Cut(v, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return bad()
	}
	var ns int64
	if hasFrac {
		if frac == "" || strings.ContainsAny(frac, "+-") {
			return bad()
		}
		f, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return bad()
		}
		// The fraction's digits are what they say: .5 is half a second.
		for n := len(frac); n < 9; n++ {
			f *= 10
		}
		for n := len(frac); n > 9; n-- {
			f /= 10
		}
		ns = int64(f)
	}
	return time.Unix(s, ns), nil
}
