package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

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
