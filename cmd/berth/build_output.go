package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// buildOutput is the build's --output (the store when none), checked
// before anything is built. An archive's names are -t's unless name=
// gives its own.
func buildOutput(cmd *cobra.Command, f *buildFlags) (engine.BuildOutput, error) {
	switch len(f.outputs) {
	case 0:
		return engine.BuildOutput{Type: engine.OutputImage}, nil
	case 1:
	default:
		return engine.BuildOutput{}, errors.New("multiple outputs are not supported: give one --output")
	}
	o, err := engine.ParseBuildOutput(f.outputs[0])
	if err != nil {
		return o, err
	}
	if o.Type != engine.OutputImage && len(o.Names) == 0 {
		o.Names = f.tags
	}
	if o.Dest == "-" {
		if fh, ok := cmd.OutOrStdout().(*os.File); ok && isTerminal(fh) {
			return o, errors.New("refusing to write the output to a terminal: give dest=FILE or redirect")
		}
	}
	return o, engine.CheckBuildOutput(o)
}
