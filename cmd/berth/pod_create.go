package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/spec"
)

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
