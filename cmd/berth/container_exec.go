package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/spec"
)

func newExecCmd(g *globals) *cobra.Command {
	var (
		detach, interactive, tty, privileged bool
		env, envFiles                        []string
		user, workdir, detachKeys            string
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := engine.ExecRequest{ExecOptions: spec.ExecOptions{Args: args[1:], User: user, WorkingDir: workdir,
				Tty: tty, Privileged: privileged}, Detach: detach}
			for _, name := range envFiles {
				f, err := os.Open(name)
				if err != nil {
					return &statusError{125, err}
				}
				vars, err := spec.ParseEnvFile(name, f, os.LookupEnv)
				f.Close()
				if err != nil {
					return &statusError{125, err}
				}
				r.Env = append(r.Env, vars...)
			}
			for _, v := range env {
				kv, ok, err := spec.ResolveEnv(v, os.LookupEnv)
				if err != nil {
					return &statusError{125, err}
				}
				if ok {
					r.Env = append(r.Env, kv)
				}
			}
			if !detach {
				r.Stdout, r.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
				if interactive {
					r.Stdin = cmd.InOrStdin()
				}
			}
			e, err := g.open(cmd)
			if err != nil {
				return &statusError{125, err}
			}
			defer e.Close()
			code, err := e.ExecContainer(cmd.Context(), args[0], r)
			var ee *engine.ExecError
			if errors.As(err, &ee) {
				if ee.Printed {
					return &statusError{ee.Status, nil}
				}
				return &statusError{ee.Status, err}
			}
			if err != nil {
				return &statusError{125, err}
			}
			if code != 0 {
				return &statusError{code, nil}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.BoolVarP(&detach, "detach", "d", false, "detached mode: run command in the background")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVar(&privileged, "privileged", false, "give extended privileges to the command")
	f.StringArrayVarP(&env, "env", "e", nil, "set environment variables")
	f.StringArrayVar(&envFiles, "env-file", nil, "read in a file of environment variables")
	f.StringVarP(&user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVar(&detachKeys, "detach-keys", "", "override the key sequence for detaching a container")
	return cmd
}
