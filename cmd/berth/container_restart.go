package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

func newRestartCmd(g *globals) *cobra.Command {
	return newStopLikeCmd(g, "restart", "Restart one or more containers",
		func(ctx context.Context, e *engine.Engine, ref, signal string, t *int) error {
			_, err := e.RestartContainer(ctx, ref, signal, t)
			return err
		})
}
