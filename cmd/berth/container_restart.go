package main

import (
	"github.com/spf13/cobra"
)

func newRestartCmd(g *globals) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			t := parseStopTimeout(cmd, timeout)
			return eachContainer(cmd, args, func(ref string) error {
				_, err := e.RestartContainer(cmd.Context(), ref, signal, t)
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 0, "seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "timeout", 0, "seconds to wait before killing the container")
	cmd.Flags().Lookup("timeout").Hidden = true
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "signal to send to the container")
	return cmd
}
