// Command berth is the engine CLI: daemonless, each command opens the
// engine root, takes the locks it needs, does its work and exits.
//
// One file per command, named NOUN_VERB.go (image_pull.go) as the nouns
// grow; a command only wires flags to the engine and prints what it
// returns (format.go: Docker's sizes, times and --format templates). What
// the Docker API must do alike (filters, removal, inspect's shape, sizes,
// spooling a load) lives in the engine's image service.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/config"
)

// globals are the root command's flags and the engine config they select.
type globals struct {
	// root and runroot are the effective engine root and run root, set
	// from cfg before any command runs.
	root, runroot string
	cfg           *config.Config

	// The flags as given; only those set on the command line override the
	// environment and the config file.
	flagRoot, flagRunRoot, flagConfig string
}

// loadConfig reads the engine config with the command line's flags on top.
func (g *globals) loadConfig(cmd *cobra.Command) error {
	flags := cmd.Flags()
	var opts config.Options
	if flags.Changed("config") {
		if g.flagConfig == "" {
			return errors.New("--config: empty file name")
		}
		opts.File = g.flagConfig
	}
	for _, f := range []struct {
		name, key string
		value     *string
	}{
		{"root", "storage.root", &g.flagRoot},
		{"runroot", "storage.runroot", &g.flagRunRoot},
	} {
		if flags.Changed(f.name) {
			opts.Flags = append(opts.Flags, config.Setting{Key: f.key, Flag: "--" + f.name, Value: *f.value})
		}
	}
	cfg, err := config.Load(opts)
	if err != nil {
		return err
	}
	g.cfg, g.root, g.runroot = cfg, cfg.Storage.Root, cfg.Storage.RunRoot
	return nil
}

// open opens the engine with the registry config of berth.toml's
// [registry] merged with ROOT/registries.json (engine/config) and the
// config's snapshot driver; what the engine says once goes to stderr.
func (g *globals) open(cmd *cobra.Command) (*engine.Engine, error) {
	opts := engine.Options{
		Root: g.root, RunRoot: g.runroot, Registries: g.cfg.RegistryConfig(),
		SnapshotDriver: g.cfg.Storage.Driver, Warnings: cmd.ErrOrStderr(),
	}
	if src := g.cfg.Source("storage.driver"); src.Kind != config.FromDefault {
		opts.SnapshotDriverSetting = src.String()
	}
	opts.Containers = g.containerOptions()
	return engine.Open(opts)
}

// containerOptions are the config's [runtime] and [log] for the engine,
// with the exit command that the monitors run: this binary's hidden
// `container cleanup`, with the same roots and config.
func (g *globals) containerOptions() engine.ContainerOptions {
	cfg := g.cfg
	o := engine.ContainerOptions{
		RuntimeRoot: cfg.Runtime.Root,
		Network: engine.NetworkConfigOptions{
			PluginDirs: cfg.Network.CNIPluginDirs, DNSUpstream: cfg.Network.DNSUpstream,
			DefaultMode: cfg.Network.DefaultNetwork, IPv6Pool: cfg.Network.IPv6Pool,
		},
		LogDriver: cfg.Log.Driver, LogMaxSize: int64(cfg.Log.MaxSize), LogMaxFile: cfg.Log.MaxFile,
		Runtimes: func(name string) (string, string, error) {
			if name == "" {
				name = cfg.Runtime.Default
			}
			if p := cfg.Runtime.Runtimes[name]; p == "berth-runtime" {
				// Ours: the one shipped next to this binary first.
				path, err := engine.FindHelper(p)
				return path, name, err
			}
			path, err := cfg.RuntimePath(name)
			return path, name, err
		},
	}
	if src := cfg.Source("network.default_subnet"); src.Kind != config.FromDefault {
		o.Network.DefaultSubnet = cfg.Network.DefaultSubnet
	}
	if self, err := os.Executable(); err == nil {
		o.ExitCommand = []string{self, "--root", g.root, "--runroot", g.runroot}
		if f := cfg.File(); f != "" {
			o.ExitCommand = append(o.ExitCommand, "--config", f)
		}
		o.ExitCommand = append(o.ExitCommand, "container", "cleanup")
		o.ExecKeeper = []string{self, "container", "exec-keeper"}
	}
	return o
}

func newRootCmd() *cobra.Command {
	// The config is loaded in the root's PersistentPreRunE; a command
	// with a pre-run hook of its own must not replace that one.
	cobra.EnableTraverseRunHooks = true
	g := &globals{}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Berth container engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.loadConfig(cmd)
		},
	}
	// A flag that does not parse is berth's own error: 125, as Docker's
	// CLI exits (subcommands inherit this).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &statusError{125, err} })
	pf := root.PersistentFlags()
	def := config.Default()
	pf.StringVar(&g.flagRoot, "root", def.Storage.Root, "engine root directory (env BERTH_ROOT, config [storage] root)")
	pf.StringVar(&g.flagRunRoot, "runroot", def.Storage.RunRoot, "run root directory (env BERTH_RUNROOT, config [storage] runroot)")
	pf.StringVar(&g.flagConfig, "config", config.DefaultFile, "engine config file (env "+config.EnvFile+")")

	image := &cobra.Command{Use: "image", Short: "Manage images"}
	// Docker has both "berth pull" and "berth image pull"; each command
	// is built twice so that flags are not shared between the two trees.
	for _, add := range []func(...*cobra.Command){root.AddCommand, image.AddCommand} {
		add(newPullCmd(g), newPushCmd(g), newTagCmd(g), newLoadCmd(g), newSaveCmd(g))
	}
	root.AddCommand(newImagesCmd(g, "images"), newRmiCmd(g, "rmi"), image)
	image.AddCommand(newImagesCmd(g, "ls"), newRmiCmd(g, "rm"), newInspectCmd(g), newPruneCmd(g))
	// Registry logins, import and history (issue 4, part A).
	root.AddCommand(newLoginCmd(g), newLogoutCmd(), newImportCmd(g), newHistoryCmd(g))
	image.AddCommand(newImportCmd(g), newHistoryCmd(g))
	root.AddCommand(newInfoCmd(g))
	// Builds (issue 13).
	root.AddCommand(newBuildCmd(g))
	image.AddCommand(newBuildCmd(g))

	// Containers (issue 10), in both trees as Docker has them.
	container := &cobra.Command{Use: "container", Short: "Manage containers"}
	for _, add := range []func(...*cobra.Command){root.AddCommand, container.AddCommand} {
		add(newRunCmd(g), newCreateCmd(g), newStartCmd(g), newStopCmd(g), newKillCmd(g), newRmCmd(g),
			newWaitCmd(g), newLogsCmd(g), newAttachCmd(g), newExecCmd(g), newRestartCmd(g))
		// Files (issue 11).
		add(newCpCmd(g), newDiffCmd(g), newCommitCmd(g), newExportCmd(g))
	}
	// Issue 11: the rest of Docker's container commands.
	for _, add := range []func(...*cobra.Command){root.AddCommand, container.AddCommand} {
		add(newRenameCmd(g), newPauseCmd(g, false), newPauseCmd(g, true), newUpdateCmd(g), newTopCmd(g),
			newPortCmd(g), newStatsCmd(g))
	}
	container.AddCommand(newContainerPruneCmd(g))
	system := newSystemCmd()
	system.AddCommand(newInfoCmd(g), newSystemDfCmd(g), newSystemPruneCmd(g), newEventsCmd(g))
	root.AddCommand(newVersionCmd(g), system)
	root.AddCommand(newPsCmd(g, "ps"), newObjectInspectCmd(g), container)
	container.AddCommand(newPsCmd(g, "ls", "list", "ps"), newContainerInspectCmd(g), newCleanupCmd(g), newExecKeeperCmd())
	root.AddCommand(newVolumeCmd(g), newNetworkCmd(g))
	// Pods (issue 15).
	root.AddCommand(newPodCmd(g))
	root.AddCommand(newEventsCmd(g))
	systemCommand(root).AddCommand(newSystemBootCmd(g))
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
		status := 1
		var se *statusError
		if errors.As(err, &se) {
			status = se.status
			if se.err == nil {
				os.Exit(status) // the container's own status: nothing to say
			}
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(status)
	}
}
