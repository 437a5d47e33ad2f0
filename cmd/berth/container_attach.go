package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/monitor"
)

// statusError ends berth with an exit status: Docker's 125 for its own
// errors, 126/127 for a command that could not run, the container's
// status after a foreground run (err nil: nothing is printed).
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.status)
	}
	return e.err.Error()
}
func (e *statusError) Unwrap() error { return e.err }

// engineError gives a run, create or start error Docker's exit status.
func engineError(err error) error {
	if err == nil {
		return nil
	}
	var se *statusError
	if errors.As(err, &se) {
		return err
	}
	var start *engine.StartError
	if errors.As(err, &start) {
		return &statusError{start.Status, err}
	}
	return &statusError{125, err}
}

// attachSpec is which streams an attached session carries and how.
type attachSpec struct {
	stdin, stdout, stderr bool
	tty                   bool
	closeStdin            bool // the container's stdin closes when ours ends
	sigProxy              bool
	detachKeys            string
}

// defaultDetachKeys are Docker's.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// attachSession attaches to c and, with start set, starts it once the
// attach stands (so no output is missed); it returns the container's
// exit status when it ends, or 0 when the user detached.
func attachSession(cmd *cobra.Command, e *engine.Engine, c engine.Container, a attachSpec, start bool) (int, error) {
	// Ctrl-C is the container's business while attached (proxied, or
	// typed through the raw terminal): this context ignores it.
	ctx := context.WithoutCancel(cmd.Context())
	ao := monitor.AttachOptions{CloseStdin: a.closeStdin}
	if a.stdout {
		ao.Stdout = cmd.OutOrStdout()
	}
	if a.stderr {
		ao.Stderr = cmd.ErrOrStderr()
		if a.tty {
			ao.Stderr = cmd.OutOrStdout()
		}
	}
	stdinFile, _ := cmd.InOrStdin().(*os.File)
	if a.stdin {
		ao.Stdin = cmd.InOrStdin()
		keys := a.detachKeys
		if keys == "" && a.tty {
			keys = defaultDetachKeys
		}
		if keys != "" {
			k, err := monitor.ParseDetachKeys(keys)
			if err != nil {
				return 0, &statusError{125, fmt.Errorf("invalid --detach-keys: %w", err)}
			}
			ao.DetachKeys = k
		}
	}
	if a.tty && a.stdin && stdinFile != nil && isTerminal(stdinFile) {
		restore, err := makeRaw(stdinFile)
		if err == nil {
			defer restore()
		}
		resize := make(chan monitor.WindowSize, 1)
		if ws, ok := termSize(stdinFile); ok {
			resize <- ws
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if ws, ok := termSize(stdinFile); ok {
					select {
					case resize <- ws:
					default:
					}
				}
			}
		}()
		ao.Resize = resize
	}
	if a.sigProxy && !a.tty {
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				e.KillContainer(ctx, c.ID, strconv.Itoa(int(s.(syscall.Signal))))
			}
		}()
	}

	type result struct {
		exit *monitor.Exit
		err  error
	}
	done := make(chan result, 1)
	attach := func(c engine.Container) error {
		connected := make(chan struct{})
		o := ao
		o.Connected = func() { close(connected) }
		go func() {
			exit, err := monitor.Attach(ctx, e.AttachSocket(c), o)
			done <- result{exit, err}
		}()
		select {
		case <-connected:
			e.EmitContainer(c, "attach", nil)
			return nil
		case r := <-done:
			done <- r
			if r.err == nil {
				r.err = errors.New("attach: the monitor hung up")
			}
			return r.err
		}
	}
	if start {
		if _, err := e.StartContainer(ctx, c.ID, engine.StartOptions{Created: attach}); err != nil {
			return 0, engineError(err)
		}
	} else if err := attach(c); err != nil {
		return 0, err
	}
	r := <-done
	switch {
	case errors.Is(r.err, monitor.ErrDetached):
		return 0, nil
	case r.err != nil:
		return 0, r.err
	case r.exit != nil:
		// Recorded now, so that the next command need not settle it.
		e.LookupContainer(c.ID)
		return r.exit.Code, nil
	}
	// The monitor hung up without an exit frame: it died.
	code, err := e.WaitContainer(ctx, c.ID)
	return code, err
}

func newAttachCmd(g *globals) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			c, err := e.LookupContainer(args[0])
			if err != nil {
				return err
			}
			if c.State != engine.StateRunning {
				return errors.New("you cannot attach to a stopped container, start it first")
			}
			a := attachSpec{stdin: c.Config.OpenStdin && !noStdin, stdout: true, stderr: true, tty: c.Config.Tty,
				closeStdin: c.Config.StdinOnce, sigProxy: sigProxy, detachKeys: detachKeys}
			code, err := attachSession(cmd, e, c, a, false)
			if err != nil {
				return err
			}
			if code != 0 {
				return &statusError{code, nil}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "proxy all received signals to the process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "override the key sequence for detaching a container")
	return cmd
}
