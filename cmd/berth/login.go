package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/image/registry"
)

func newLoginCmd(g *globals) *cobra.Command {
	var (
		user, password string
		passwordStdin  bool
		tlsVerify      bool
	)
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] SERVER",
		Short: "Log in to a registry (credentials go to $DOCKER_CONFIG/config.json)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, host, err := registry.ServerKey(args[0])
			if err != nil {
				return fmt.Errorf("login: %w", err)
			}
			if password != "" && passwordStdin {
				return errors.New("login: --password and --password-stdin are mutually exclusive")
			}
			if passwordStdin {
				if user == "" {
					return errors.New("login: --password-stdin needs --username")
				}
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
				if err != nil {
					return fmt.Errorf("login: read password from stdin: %w", err)
				}
				password = strings.TrimRight(string(b), "\r\n")
			} else if password != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			// berth never prompts: what a terminal prompt would ask must
			// come from the flags.
			if user == "" {
				return errors.New("login: give the user name with --username (berth does not prompt)")
			}
			if password == "" {
				return errors.New("login: give the password with --password-stdin or --password (berth does not prompt)")
			}
			cfg := g.cfg.RegistryConfig()
			insecure := !tlsVerify || cfg.IsInsecure(host)
			tr, err := registry.Transport(host, insecure, cfg.CertsDirPath())
			if err != nil {
				return fmt.Errorf("login: %w", err)
			}
			if err := registry.CheckLogin(cmd.Context(), host, user, password, insecure, tr); err != nil {
				return registry.Explain(err, host, cfg.CertsDirPath())
			}
			if _, err := registry.SaveLogin(key, user, password); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&user, "username", "u", "", "user name")
	f.StringVarP(&password, "password", "p", "", "password (visible to other users: prefer --password-stdin)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	f.BoolVar(&tlsVerify, "tls-verify", true, "require HTTPS and verify certificates")
	return cmd
}
