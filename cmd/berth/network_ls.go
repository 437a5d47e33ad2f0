package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// networkRow is one line of `network ls`, with Docker's field names.
type networkRow struct {
	ID, Name, Driver, Scope, IPv6, IPv4, Internal, Labels, CreatedAt string
	labels                                                           map[string]string
	header                                                           bool
}

// Label is {{.Label "KEY"}}.
func (r networkRow) Label(key string) string {
	if r.header {
		return "LABEL " + key
	}
	return r.labels[key]
}

var networkHeader = networkRow{ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Scope: "SCOPE", IPv6: "IPV6",
	IPv4: "IPV4", Internal: "INTERNAL", Labels: "LABELS", CreatedAt: "CREATED", header: true}

const defaultNetworkFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

// networkFilter is one --filter of network ls.
func networkFilter(spec string) (func(engine.NetworkInfo) bool, error) {
	k, v, ok := strings.Cut(spec, "=")
	if !ok {
		return nil, fmt.Errorf("bad format of filter (expected name=value): %s", spec)
	}
	switch k {
	case "driver":
		return func(n engine.NetworkInfo) bool { return n.Driver == v }, nil
	case "id":
		return func(n engine.NetworkInfo) bool { return strings.HasPrefix(n.ID, v) }, nil
	case "name":
		return func(n engine.NetworkInfo) bool { return strings.Contains(n.Name, v) }, nil
	case "scope":
		return func(n engine.NetworkInfo) bool { return v == "local" }, nil
	case "type":
		if v != "custom" && v != "builtin" {
			return nil, fmt.Errorf("invalid filter: 'type'='%s'", v)
		}
		return func(n engine.NetworkInfo) bool { return (n.Predefined || n.Default) == (v == "builtin") }, nil
	case "dangling":
		d, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'dangling=%s'", v)
		}
		return func(n engine.NetworkInfo) bool {
			return (!n.Predefined && !n.Default && len(n.Containers) == 0) == d
		}, nil
	case "label":
		lk, lv, hasV := strings.Cut(v, "=")
		return func(n engine.NetworkInfo) bool {
			got, ok := n.Labels[lk]
			return ok && (!hasV || got == lv)
		}, nil
	}
	return nil, fmt.Errorf("invalid filter '%s'", k)
}

func newNetworkLsCmd(g *globals) *cobra.Command {
	var (
		quiet, noTrunc bool
		format         string
		filters        []string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var keep []func(engine.NetworkInfo) bool
			for _, f := range filters {
				fn, err := networkFilter(f)
				if err != nil {
					return as125(err)
				}
				keep = append(keep, fn)
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			all, err := e.ListNetworks()
			if err != nil {
				return as125(err)
			}
			var ns []engine.NetworkInfo
		next:
			for _, n := range all {
				for _, k := range keep {
					if !k(n) {
						continue next
					}
				}
				ns = append(ns, n)
			}
			return printNetworks(cmd.OutOrStdout(), ns, format, quiet, noTrunc)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	f.StringArrayVarP(&filters, "filter", "f", nil, "provide filter values (e.g. 'driver=bridge')")
	return cmd
}

func printNetworks(out io.Writer, ns []engine.NetworkInfo, format string, quiet, noTrunc bool) error {
	id := func(s string) string {
		if noTrunc {
			return s
		}
		return shortID(s)
	}
	if quiet {
		bw := bufio.NewWriter(out)
		for _, n := range ns {
			fmt.Fprintln(bw, id(n.ID))
		}
		return bw.Flush()
	}
	switch format {
	case "", "table":
		format = defaultNetworkFormat
	}
	rows := make([]networkRow, 0, len(ns))
	for _, n := range ns {
		created := ""
		if !n.Created.IsZero() {
			created = createdAt(n.Created)
		}
		rows = append(rows, networkRow{ID: id(n.ID), Name: n.Name, Driver: n.Driver, Scope: "local", IPv6: strconv.FormatBool(n.EnableIPv6),
			IPv4: "true", Internal: strconv.FormatBool(n.Internal), Labels: joinLabels(n.Labels), CreatedAt: created,
			labels: n.Labels})
	}
	return printTable(out, format, networkHeader, rows)
}
