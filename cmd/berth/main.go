// Command berth is the engine CLI: daemonless, each command opens the
// engine root, takes the locks it needs, does its work and exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/image/store"
)

// globals are the root command's flags.
type globals struct {
	root string
}

// open opens the store, with short names resolved through the default
// registry of the engine's registries.json.
func (g *globals) open() (*store.Store, error) {
	cfg, err := g.registries()
	if err != nil {
		return nil, err
	}
	s, err := store.Open(g.root)
	if err != nil {
		return nil, err
	}
	s.SetShortNames(cfg.Qualify)
	return s, nil
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
		def = store.DefaultRoot
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
