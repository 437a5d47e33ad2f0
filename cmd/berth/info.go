package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
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
	// The engine and host as Docker's info shows them ({{.Containers}},
	// {{.ServerVersion}}, {{.KernelVersion}}...).
	engine.SystemInfo
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
		Short: "Display system-wide information, and the effective configuration with where each value came from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			d := e.SnapshotDriver()
			sys, err := e.Info(berthVersion)
			if err != nil {
				return err
			}
			return printInfo(cmd.OutOrStdout(), g.cfg, infoDriver{d.Name, d.Source()}, sys, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: table, json, 'table TEMPLATE' over the rows (.Key .Value .Source), or a Go template")
	return exit125(cmd)
}

func printInfo(out io.Writer, cfg *config.Config, driver infoDriver, sys engine.SystemInfo, format string) error {
	o := infoOutput{ConfigFile: cfg.File(), Config: cfg, SnapshotDriver: driver, SystemInfo: sys}
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
		if err := printDockerInfo(out, sys); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "\nConfiguration:\nConfig file: %s\nSnapshot driver: %s (%s)\n\n", file, driver.Name, driver.Source); err != nil {
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

// printDockerInfo prints the Client and Server sections as Docker's info
// does.
func printDockerInfo(out io.Writer, s engine.SystemInfo) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Client:\n Version:    %s\n Context:    default\n Debug Mode: false\n\nServer:\n", berthVersion)
	fmt.Fprintf(&b, " Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n Images: %d\n",
		s.Containers, s.ContainersRunning, s.ContainersPaused, s.ContainersStopped, s.Images)
	fmt.Fprintf(&b, " Server Version: %s\n Storage Driver: %s\n Logging Driver: %s\n Cgroup Driver: %s\n Cgroup Version: %s\n",
		s.ServerVersion, s.Driver, s.LoggingDriver, s.CgroupDriver, s.CgroupVersion)
	fmt.Fprintf(&b, " Plugins:\n  Volume: local\n  Network: host null\n  Log: json-file local none\n")
	var names []string
	for n := range s.Runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, " Runtimes: %s\n Default Runtime: %s\n Init Binary: %s\n", strings.Join(names, " "), s.DefaultRuntime, s.InitBinary)
	fmt.Fprintf(&b, " Security Options:\n  seccomp\n   Profile: builtin\n")
	fmt.Fprintf(&b, " Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n CPUs: %d\n Total Memory: %s\n",
		s.KernelVersion, s.OperatingSystem, s.OSType, s.Architecture, s.NCPU, binarySize(uint64(s.MemTotal)))
	fmt.Fprintf(&b, " Name: %s\n ID: %s\n Docker Root Dir: %s\n Debug Mode: false\n Experimental: false\n Live Restore Enabled: false\n",
		s.Name, s.ID, s.DockerRootDir)
	_, err := io.WriteString(out, b.String())
	return err
}
