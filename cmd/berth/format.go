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
)

// Printing shared by the commands: Docker's words for sizes and times,
// and the --format templates.

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
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

func ellipsis(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// parseTemplate parses a --format template with Docker's json function.
func parseTemplate(name, format string) (*template.Template, error) {
	tmpl, err := template.New(name).Funcs(template.FuncMap{"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).Parse(format + "\n")
	if err != nil {
		return nil, fmt.Errorf("invalid --format: %w", err)
	}
	return tmpl, nil
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
	// Docker's CLI reads \t and \n typed in a format as a tab and a newline.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := parseTemplate("format", format)
	if err != nil {
		return err
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
