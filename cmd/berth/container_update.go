package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/spec"
)

func newUpdateCmd(g *globals) *cobra.Command {
	var (
		memory, memorySwap, memoryReservation, cpus, cpusetCpus, restart string
		cpuShares, pidsLimit                                             int64
	)
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o engine.UpdateOptions
			fl := cmd.Flags()
			size := func(flag, v string, dst **int64) error {
				if !fl.Changed(flag) {
					return nil
				}
				var n int64
				var err error
				if flag == "memory-swap" {
					n, err = spec.ParseMemorySwap(v)
				} else {
					n, err = spec.ParseMemory("--"+flag, v)
				}
				if err != nil {
					return err
				}
				*dst = &n
				return nil
			}
			for _, f := range []struct {
				flag, v string
				dst     **int64
			}{{"memory", memory, &o.Memory}, {"memory-swap", memorySwap, &o.MemorySwap}, {"memory-reservation", memoryReservation, &o.MemoryReservation}} {
				if err := size(f.flag, f.v, f.dst); err != nil {
					return err
				}
			}
			if fl.Changed("cpus") {
				n, err := spec.ParseCPUs(cpus)
				if err != nil {
					return err
				}
				o.NanoCPUs = &n
			}
			if fl.Changed("cpu-shares") {
				o.CPUShares = &cpuShares
			}
			if fl.Changed("cpuset-cpus") {
				o.CpusetCpus = &cpusetCpus
			}
			if fl.Changed("pids-limit") {
				o.PidsLimit = &pidsLimit
			}
			if fl.Changed("restart") {
				o.Restart = &restart
			}
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return eachArg(cmd, args, func(ref string) error {
				_, err := e.UpdateContainer(cmd.Context(), ref, o)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&memory, "memory", "m", "", "memory limit")
	f.StringVar(&memorySwap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.StringVar(&memoryReservation, "memory-reservation", "", "memory soft limit")
	f.StringVar(&cpus, "cpus", "", "number of CPUs")
	f.Int64VarP(&cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	f.StringVar(&restart, "restart", "", "restart policy to apply when a container exits")
	return exit125(cmd)
}
