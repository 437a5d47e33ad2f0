package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// berthVersion is the release this source is; the commit and build time
// come from the build's VCS stamp.
const berthVersion = "0.1.0"

// dockerAPIVersion is the Docker Engine API version Berth speaks (docker
// 28's), minDockerAPIVersion the oldest it takes.
const dockerAPIVersion, minDockerAPIVersion = "1.50", "1.24"

// versionPart is one section of `version`, with Docker's field names.
type versionPart struct {
	Platform      struct{ Name string } `json:"Platform"`
	Version       string                `json:"Version"`
	APIVersion    string                `json:"ApiVersion"`
	MinAPIVersion string                `json:"MinAPIVersion,omitempty"`
	GitCommit     string                `json:"GitCommit"`
	GoVersion     string                `json:"GoVersion"`
	Os            string                `json:"Os"`
	Arch          string                `json:"Arch"`
	KernelVersion string                `json:"KernelVersion,omitempty"`
	BuildTime     string                `json:"BuildTime"`
	Experimental  bool                  `json:"Experimental,omitempty"`
	Components    []versionComponent    `json:"Components,omitempty"`
}

type versionComponent struct {
	Name    string            `json:"Name"`
	Version string            `json:"Version"`
	Details map[string]string `json:"Details,omitempty"`
}

type versionInfo struct {
	Client versionPart  `json:"Client"`
	Server *versionPart `json:"Server"`
}

// buildStamp is the VCS revision (12 digits) and commit time of this
// binary, "unknown" when it was built without them.
func buildStamp() (commit, built string) {
	commit, built = "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value[:min(len(s.Value), 12)]
			case "vcs.time":
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					built = t.Format(time.ANSIC)
				}
			}
		}
	}
	return commit, built
}

func newVersionCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Berth version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			commit, built := buildStamp()
			v := versionInfo{Client: versionPart{Version: berthVersion, APIVersion: dockerAPIVersion, GitCommit: commit,
				GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH, BuildTime: built}}
			v.Client.Platform.Name = "Berth"
			// Daemonless: the server is this binary's engine, always there.
			srv := v.Client
			srv.Platform.Name = "Berth Engine"
			srv.MinAPIVersion = minDockerAPIVersion
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			in, err := e.Info(berthVersion)
			e.Close()
			if err != nil {
				return err
			}
			srv.KernelVersion = in.KernelVersion
			srv.Components = []versionComponent{{Name: "Engine", Version: berthVersion, Details: map[string]string{
				"ApiVersion": dockerAPIVersion, "MinAPIVersion": minDockerAPIVersion, "GitCommit": commit,
				"GoVersion": srv.GoVersion, "Os": srv.Os, "Arch": srv.Arch, "KernelVersion": in.KernelVersion, "BuildTime": built}}}
			for name, path := range in.Runtimes {
				srv.Components = append(srv.Components, versionComponent{Name: name, Version: berthVersion, Details: map[string]string{"Path": path}})
			}
			v.Server = &srv
			return printVersion(cmd.OutOrStdout(), v, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: json or a Go template")
	return exit125(cmd)
}

func printVersion(out io.Writer, v versionInfo, format string) error {
	switch format {
	case "":
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	default:
		tmpl, err := parseTemplate("version", format)
		if err != nil {
			return err
		}
		if err := tmpl.Execute(out, v); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		return nil
	}
	w := tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)
	c := v.Client
	fmt.Fprintf(w, "Client:\n Version:\t%s\n API version:\t%s\n Go version:\t%s\n Git commit:\t%s\n Built:\t%s\n OS/Arch:\t%s/%s\n Context:\tdefault\n",
		c.Version, c.APIVersion, c.GoVersion, c.GitCommit, c.BuildTime, c.Os, c.Arch)
	if s := v.Server; s != nil {
		fmt.Fprintf(w, "\nServer: %s\n Engine:\n  Version:\t%s\n  API version:\t%s (minimum version %s)\n  Go version:\t%s\n  Git commit:\t%s\n  Built:\t%s\n  OS/Arch:\t%s/%s\n  Experimental:\tfalse\n",
			s.Platform.Name, s.Version, s.APIVersion, s.MinAPIVersion, s.GoVersion, s.GitCommit, s.BuildTime, s.Os, s.Arch)
		for _, comp := range s.Components[1:] {
			fmt.Fprintf(w, " %s:\n  Version:\t%s\n  Path:\t%s\n", comp.Name, comp.Version, comp.Details["Path"])
		}
	}
	return w.Flush()
}
