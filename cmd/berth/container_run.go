package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newCreateCmd(g *globals) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return engineError(err)
			}
			defer e.Close()
			c, err := createContainer(cmd, e, f, args)
			if err != nil {
				return engineError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.ID)
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	f.register(cmd.Flags(), false)
	return cmd
}

// createContainer makes the container of a run or create, and writes
// --cidfile (which must not exist, as in Docker).
func createContainer(cmd *cobra.Command, e *engine.Engine, f *createFlags, args []string) (engine.Container, error) {
	o, err := f.options(cmd, args[0], args[1:])
	if err != nil {
		return engine.Container{}, err
	}
	o.KeepMounted = cmd.Name() == "run"
	var cid *os.File
	if f.cidfile != "" {
		if cid, err = os.OpenFile(f.cidfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
			if errors.Is(err, os.ErrExist) {
				return engine.Container{}, fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", f.cidfile)
			}
			return engine.Container{}, fmt.Errorf("--cidfile: %w", err)
		}
		defer cid.Close()
	}
	newPod, err := newPodFor(cmd, e, &o)
	if err != nil {
		if cid != nil {
			os.Remove(f.cidfile)
		}
		return engine.Container{}, err
	}
	c, err := e.CreateContainer(cmd.Context(), o)
	if err != nil {
		if cid != nil {
			os.Remove(f.cidfile)
		}
		if newPod != "" {
			// Nothing half-made: the pod made for it goes too.
			e.RemovePod(context.WithoutCancel(cmd.Context()), newPod, engine.PodRemoveOptions{Force: true})
		}
		return c, err
	}
	if cid != nil {
		if _, err := cid.WriteString(c.ID); err != nil {
			return c, fmt.Errorf("--cidfile: %w", err)
		}
	}
	return c, nil
}

func newRunCmd(g *globals) *cobra.Command {
	f := &createFlags{}
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return engineError(err)
			}
			defer e.Close()
			c, err := createContainer(cmd, e, f, args)
			if err != nil {
				return engineError(err)
			}
			if f.detach {
				if _, err := e.StartContainer(cmd.Context(), c.ID, engine.StartOptions{}); err != nil {
					return engineError(err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
				return nil
			}
			if !c.Config.AttachStdout && !c.Config.AttachStderr {
				// Docker prints the id when no output is attached.
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
			}
			a := attachSpec{stdin: c.Config.AttachStdin, stdout: c.Config.AttachStdout, stderr: c.Config.AttachStderr,
				tty: c.Config.Tty, closeStdin: c.Config.StdinOnce, sigProxy: f.sigProxy, detachKeys: detachKeys}
			code, err := attachSession(cmd, e, c, a, true)
			if f.rm {
				// The monitor's cleanup removes it too; whichever comes
				// first does it, and run returns only once it is gone.
				if _, rerr := e.RemoveContainer(cmd.Context(), c.ID, engine.RemoveOptions{Force: err != nil, Volumes: true}); rerr != nil && !errors.Is(rerr, engine.ErrNoSuchContainer) && err == nil {
					err = rerr
				}
			}
			if err != nil {
				return engineError(err)
			}
			if code != 0 {
				return &statusError{code, nil}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	f.register(cmd.Flags(), true)
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "override the key sequence for detaching a container")
	return cmd
}

func newStartCmd(g *globals) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			if attach || interactive {
				if len(args) > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				c, err := e.LookupContainer(args[0])
				if err != nil {
					return err
				}
				if c.State == engine.StateRunning {
					return nil
				}
				a := attachSpec{stdin: interactive && c.Config.OpenStdin, stdout: true, stderr: true, tty: c.Config.Tty,
					closeStdin: c.Config.StdinOnce, sigProxy: true, detachKeys: detachKeys}
				code, err := attachSession(cmd, e, c, a, true)
				if err != nil {
					return engineError(err)
				}
				if code != 0 {
					return &statusError{code, nil}
				}
				return nil
			}
			var errs []error
			for _, ref := range args {
				if _, err := e.StartContainer(cmd.Context(), ref, engine.StartOptions{}); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			if err := errors.Join(errs...); err != nil {
				return engineError(err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "override the key sequence for detaching a container")
	return cmd
}
