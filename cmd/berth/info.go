package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/config"
)

// infoOutput is what `berth info --format` templates and its JSON see:
// the config's sections by field name ({{.Storage.Root}}), its methods
// ({{.Source "storage.root"}}) and every value with its source.
type infoOutput struct {
	// ConfigFile is the file read, "" when there was none.
	ConfigFile string
	*config.Config
	Values []infoValue
	// SnapshotDriver is the driver the root's snapshots use.
	SnapshotDriver infoDriver
}

// infoDriver is the snapshot driver in use and where that came from.
type infoDriver struct{ Name, Source string }

// infoValue is one row of `berth info`.
type infoValue struct {
	Key    string
	Value  any
	Source string
}

// infoRow is infoValue as the table prints it.
type infoRow struct{ Key, Value, Source string }

var infoHeader = infoRow{"KEY", "VALUE", "SOURCE"}

func newInfoCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Show the engine's effective configuration and where each value came from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			d := e.SnapshotDriver()
			return printInfo(cmd.OutOrStdout(), g.cfg, infoDriver{d.Name, d.Source()}, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: table, json, 'table TEMPLATE' over the rows (.Key .Value .Source), or a Go template")
	return cmd
}

func printInfo(out io.Writer, cfg *config.Config, driver infoDriver, format string) error {
	o := infoOutput{ConfigFile: cfg.File(), Config: cfg, SnapshotDriver: driver}
	var rows []infoRow
	for _, v := range cfg.Values() {
		o.Values = append(o.Values, infoValue{Key: v.Key, Value: v.Value, Source: v.Source.String()})
		rows = append(rows, infoRow{Key: v.Key, Value: infoText(v.Value), Source: v.Source.String()})
	}
	switch {
	case format == "json":
		b, err := json.MarshalIndent(o, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	case format == "" || format == "table":
		file := o.ConfigFile
		if file == "" {
			file = "none (" + config.DefaultFile + " not found: built-in defaults)"
		}
		if _, err := fmt.Fprintf(out, "Config file: %s\nSnapshot driver: %s (%s)\n\n", file, driver.Name, driver.Source); err != nil {
			return err
		}
		return printTable(out, "table {{.Key}}\t{{.Value}}\t{{.Source}}", infoHeader, rows)
	case strings.HasPrefix(format, "table "):
		return printTable(out, format, infoHeader, rows)
	}
	tmpl, err := parseTemplate("info", format)
	if err != nil {
		return err
	}
	if err := tmpl.Execute(out, o); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	return nil
}

// infoText prints a value for the table: lists joined by commas, an empty
// one or an empty string as "".
func infoText(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []string:
		if len(v) == 0 {
			return "[]"
		}
		return strings.Join(v, ", ")
	}
	return fmt.Sprint(v)
}
