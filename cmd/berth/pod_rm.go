package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

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
