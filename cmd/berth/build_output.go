package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// buildOutput is the build's --output (the store when none), checked
// before anything is built. An archive's names are -t's unless name=
// gives its own.
func buildOutput(cmd *cobra.Command, f *buildFlags) (engine.BuildOutput, error) {
	outputs := f.outputs
	if f.load {
		outputs = append(outputs, "type=docker")
	}
	switch len(outputs) {
	case 0:
		return engine.BuildOutput{Type: engine.OutputImage}, nil
	case 1:
	default:
		return engine.BuildOutput{}, errors.New("multiple outputs are not supported: give one --output")
	}
	o, err := engine.ParseBuildOutput(outputs[0])
	if err != nil {
		return o, err
	}
	if o.Type != engine.OutputImage && len(o.Names) == 0 {
		o.Names = f.tags
	}
	if o.Dest == "-" {
		if fh, ok := cmd.OutOrStdout().(*os.File); ok && isTerminal(fh) {
			return o, fmt.Errorf("--output: dest file is required for the %s exporter, refusing to write to a terminal", o.Type)
		}
	}
	return o, engine.CheckBuildOutput(o)
}

// progressMode is --progress resolved: "plain", "tty" or "quiet". As
// docker's, the default comes from $BUILDKIT_PROGRESS, and auto is tty
// when stderr is a terminal; tty asked for without one is refused, as
// buildx refuses it.
func progressMode(cmd *cobra.Command, f *buildFlags) (string, error) {
	mode := f.progress
	if !cmd.Flags().Changed("progress") {
		if env := os.Getenv("BUILDKIT_PROGRESS"); env != "" {
			mode = env
		}
	}
	switch mode {
	case "auto", "tty", "plain", "quiet":
	case "rawjson":
		return "", errors.New("--progress rawjson is not supported: use plain or tty")
	default:
		return "", fmt.Errorf("invalid progress mode %q: want auto, plain, tty or quiet", mode)
	}
	if f.quiet || mode == "plain" || mode == "quiet" {
		if f.quiet {
			return "quiet", nil
		}
		return mode, nil
	}
	fh, ok := cmd.ErrOrStderr().(*os.File)
	term := ok && isTerminal(fh)
	switch {
	case term:
		return "tty", nil
	case mode == "tty":
		return "", errors.New("--progress tty: stderr is not a terminal (use --progress plain)")
	}
	return "plain", nil
}
