package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/spec"
)

// newPodCmd is `berth pod` (issue 15), as Podman has it.
func newPodCmd(g *globals) *cobra.Command {
	pod := &cobra.Command{Use: "pod", Short: "Manage pods"}
	pod.AddCommand(newPodCreateCmd(g), newPodListCmd(g, "ls", "list", "ps"), newPodInspectCmd(g),
		newPodStartCmd(g), newPodStopCmd(g, "stop"), newPodStopCmd(g, "restart"), newPodKillCmd(g),
		newPodRmCmd(g), newPodPruneCmd(g))
	return pod
}

func newPodCreateCmd(g *globals) *cobra.Command {
	var (
		o                                   engine.PodCreateOptions
		labels, networks, publish, addHosts []string
		dns, dnsSearch, dnsOptions          []string
		infra                               bool
		memory, cpus                        string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [NAME]",
		Short: "Create a new empty pod",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.Name != "" && o.Name != args[0] {
					return errors.New("conflicting options: --name and a NAME argument")
				}
				o.Name = args[0]
			}
			var err error
			if o.Labels, err = keyValues("--label", labels); err != nil {
				return err
			}
			o.NoInfra = !infra
			o.Network = engine.NetworkRequest{Networks: networks, Publish: publish, ExtraHosts: addHosts,
				DNS: dns, DNSSearch: dnsSearch, DNSOptions: dnsOptions}
			if memory != "" {
				if o.Memory, err = spec.ParseMemory("--memory", memory); err != nil {
					return err
				}
			}
			if cpus != "" {
				if o.NanoCPUs, err = spec.ParseCPUs(cpus); err != nil {
					return err
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			p, err := e.CreatePod(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), p.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Name, "name", "n", "", "assign a name to the pod")
	f.StringArrayVarP(&labels, "label", "l", nil, "set metadata on the pod")
	f.StringVar(&o.Share, "share", "", "namespaces to share: cgroup, ipc, net, pid, uts or none (default net,ipc,uts; +NS adds to it)")
	f.BoolVar(&infra, "infra", true, "create an infra container that holds the shared namespaces")
	f.StringVar(&o.Hostname, "hostname", "", "the pod's hostname (default: its name)")
	f.StringArrayVar(&networks, "network", nil, "connect the pod to a network (bridge, NAME, none, host)")
	f.StringArrayVar(&networks, "net", nil, "connect the pod to a network")
	f.Lookup("net").Hidden = true
	f.StringArrayVarP(&publish, "publish", "p", nil, "publish a port of the pod to the host")
	f.StringArrayVar(&addHosts, "add-host", nil, "add a custom host-to-IP mapping (host:ip)")
	f.StringArrayVar(&dns, "dns", nil, "set custom DNS servers")
	f.StringArrayVar(&dnsSearch, "dns-search", nil, "set custom DNS search domains")
	f.StringArrayVar(&dnsOptions, "dns-option", nil, "set DNS options")
	f.StringVar(&o.CgroupParent, "cgroup-parent", "", "parent cgroup of the pod's cgroup")
	f.StringVarP(&memory, "memory", "m", "", "memory limit of the whole pod")
	f.StringVar(&cpus, "cpus", "", "number of CPUs of the whole pod")
	return exit125(cmd)
}

// podRow is one line of `pod ls`, with Podman's --format field names.
type podRow struct {
	ID, Name, Status, Created, InfraID, NumberOfContainers, Labels, ContainerNames, ContainerIds, ContainerStatuses string
}

var podHeader = podRow{ID: "POD ID", Name: "NAME", Status: "STATUS", Created: "CREATED", InfraID: "INFRA ID",
	NumberOfContainers: "# OF CONTAINERS", Labels: "LABELS", ContainerNames: "NAMES", ContainerIds: "IDS",
	ContainerStatuses: "STATUS"}

func newPodListCmd(g *globals, use string, aliases ...string) *cobra.Command {
	var (
		quiet, noTrunc, ctrNames, ctrIDs, ctrStatus bool
		format                                      string
	)
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS]",
		Aliases: aliases,
		Short:   "List pods",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			pods, err := e.ListPods()
			if err != nil {
				return err
			}
			all, err := e.ListContainers()
			if err != nil {
				return err
			}
			var rows []podRow
			for _, p := range pods {
				var cs []engine.Container
				for _, c := range all {
					if c.Pod == p.ID {
						cs = append(cs, c)
					}
				}
				r := podRow{ID: p.ID, Name: p.Name, Status: engine.PodStatus(cs), Created: since(p.Created),
					InfraID: p.InfraID, NumberOfContainers: fmt.Sprint(len(cs)), Labels: joinLabels(p.Labels)}
				var names, ids, sts []string
				for _, c := range cs {
					id := c.ID
					if !noTrunc {
						id = shortID(id)
					}
					names, ids, sts = append(names, c.Name), append(ids, id), append(sts, c.Status())
				}
				r.ContainerNames, r.ContainerIds, r.ContainerStatuses = strings.Join(names, ","), strings.Join(ids, ","), strings.Join(sts, ",")
				if !noTrunc {
					r.ID, r.InfraID = shortID(r.ID), shortID(r.InfraID)
				}
				rows = append(rows, r)
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(cmd.OutOrStdout(), r.ID)
				}
				return nil
			}
			format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
			if format == "" || format == "table" {
				format = "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}"
				if ctrNames {
					format += "\t{{.ContainerNames}}"
				}
				if ctrIDs {
					format += "\t{{.ContainerIds}}"
				}
				if ctrStatus {
					format += "\t{{.ContainerStatuses}}"
				}
				if !ctrNames && !ctrIDs && !ctrStatus {
					format += "\t{{.NumberOfContainers}}"
				}
			}
			return printTable(cmd.OutOrStdout(), format, podHeader, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "print the pod IDs only")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate pod and container IDs")
	f.BoolVar(&ctrNames, "ctr-names", false, "show the names of the containers in each pod")
	f.BoolVar(&ctrIDs, "ctr-ids", false, "show the IDs of the containers in each pod")
	f.BoolVar(&ctrStatus, "ctr-status", false, "show the status of the containers in each pod")
	f.StringVar(&format, "format", "", "format output: table or a Go template")
	return exit125(cmd)
}

func newPodInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] POD [POD...]",
		Short: "Display detailed information on one or more pods",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var objs []any
			var errs []error
			for _, ref := range args {
				in, err := e.InspectPod(ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				objs = append(objs, in)
			}
			if err := printInspect(cmd.OutOrStdout(), format, objs); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: json or a Go template")
	return exit125(cmd)
}

// podEach runs fn for each pod named (every pod with --all) and prints
// each pod's id on success, as Podman does.
func podEach(cmd *cobra.Command, g *globals, args []string, all bool, fn func(ctx context.Context, e *engine.Engine, ref string) (engine.Pod, error)) error {
	if all == (len(args) > 0) {
		return errors.New("give one or more pods, or --all")
	}
	e, err := g.open(cmd)
	if err != nil {
		return err
	}
	defer e.Close()
	if all {
		pods, err := e.ListPods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			args = append(args, p.ID)
		}
	}
	var errs []error
	for _, ref := range args {
		p, err := fn(cmd.Context(), e, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), p.ID)
	}
	return errors.Join(errs...)
}

func newPodStartCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] POD [POD...]",
		Short: "Start one or more pods",
		RunE: func(cmd *cobra.Command, args []string) error {
			return podEach(cmd, g, args, all, func(ctx context.Context, e *engine.Engine, ref string) (engine.Pod, error) {
				return e.StartPod(ctx, ref)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "start every pod")
	return exit125(cmd)
}

func newPodStopCmd(g *globals, use string) *cobra.Command {
	var all bool
	var timeout int
	short := "Stop one or more pods"
	if use == "restart" {
		short = "Restart one or more pods"
	}
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] POD [POD...]",
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *int
			if cmd.Flags().Changed("time") {
				t = &timeout
			}
			return podEach(cmd, g, args, all, func(ctx context.Context, e *engine.Engine, ref string) (engine.Pod, error) {
				if use == "restart" {
					return e.RestartPod(ctx, ref, t)
				}
				return e.StopPod(ctx, ref, t)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "act on every pod")
	cmd.Flags().IntVarP(&timeout, "time", "t", engine.DefaultStopTimeout, "seconds to wait before killing the containers")
	return exit125(cmd)
}

func newPodKillCmd(g *globals) *cobra.Command {
	var all bool
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] POD [POD...]",
		Short: "Send a signal to the containers of one or more pods",
		RunE: func(cmd *cobra.Command, args []string) error {
			return podEach(cmd, g, args, all, func(ctx context.Context, e *engine.Engine, ref string) (engine.Pod, error) {
				return e.KillPod(ctx, ref, signal)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "kill every pod")
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send")
	return exit125(cmd)
}

func newPodRmCmd(g *globals) *cobra.Command {
	var all, ignore bool
	var o engine.PodRemoveOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] POD [POD...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more pods",
		RunE: func(cmd *cobra.Command, args []string) error {
			return podEach(cmd, g, args, all, func(ctx context.Context, e *engine.Engine, ref string) (engine.Pod, error) {
				p, err := e.RemovePod(ctx, ref, o)
				if ignore && errors.Is(err, engine.ErrNoSuchPod) {
					// Podman prints nothing for a pod that was not there.
					return p, nil
				}
				return p, err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every pod")
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "stop and remove running containers of the pod too")
	cmd.Flags().BoolVarP(&ignore, "ignore", "i", false, "ignore pods that do not exist")
	return exit125(cmd)
}

func newPodPruneCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove every pod none of whose containers runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				ok, err := confirm(cmd.InOrStdin(), cmd.OutOrStdout(),
					"WARNING! This will remove all stopped/exited pods.\nAre you sure you want to continue?")
				if err != nil || !ok {
					return err
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			gone, err := e.PrunePods(cmd.Context())
			for _, id := range gone {
				fmt.Fprintln(cmd.OutOrStdout(), id)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return exit125(cmd)
}
