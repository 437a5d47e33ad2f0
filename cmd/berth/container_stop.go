package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// eachContainer runs fn for each argument, printing the argument for
// each success as Docker does, and joins the errors.
func eachArg(cmd *cobra.Command, args []string, fn func(ref string) error) error {
	var errs []error
	for _, ref := range args {
		if err := fn(ref); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), ref)
	}
	return errors.Join(errs...)
}

func newStopCmd(g *globals) *cobra.Command {
	return newStopLikeCmd(g, "stop", "Stop one or more running containers",
		func(ctx context.Context, e *engine.Engine, ref, signal string, t *int) error {
			_, err := e.StopContainerWith(ctx, ref, signal, t)
			return err
		})
}

// newStopLikeCmd is stop or restart: the same flags (-t, -s) and the
// same run over the containers named.
func newStopLikeCmd(g *globals, use, short string, do func(ctx context.Context, e *engine.Engine, ref, signal string, t *int) error) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			t := parseStopTimeout(cmd, timeout)
			return eachArg(cmd, args, func(ref string) error { return do(cmd.Context(), e, ref, signal, t) })
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 0, "seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "timeout", 0, "seconds to wait before killing the container")
	cmd.Flags().Lookup("timeout").Hidden = true
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "signal to send to the container")
	return cmd
}

func newKillCmd(g *globals) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return eachArg(cmd, args, func(ref string) error {
				_, err := e.KillContainer(cmd.Context(), ref, signal)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}

func newWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			var errs []error
			for _, ref := range args {
				code, err := e.WaitContainer(cmd.Context(), ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
			}
			return errors.Join(errs...)
		},
	}
}

func newRmCmd(g *globals) *cobra.Command {
	var o engine.RemoveOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return eachArg(cmd, args, func(ref string) error {
				_, err := e.RemoveContainer(cmd.Context(), ref, o)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return cmd
}

// newCleanupCmd is the monitors' exit command, not for users.
func newCleanupCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "cleanup CONTAINER",
		Short:  "Record a container's exit and release what it held (run by its monitor)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			return e.CleanupContainer(cmd.Context(), args[0])
		},
	}
}

// newExecKeeperCmd sees a detached exec session through (started by
// exec -d), not for users.
func newExecKeeperCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "exec-keeper SPEC",
		Short:  "Reap a detached exec session and hold its terminal (run by exec -d)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return engine.RunExecKeeper(args[0])
		},
	}
}
