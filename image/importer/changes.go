package importer

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/dockerfile"
)

// ApplyChanges applies Dockerfile instructions, as `docker import
// --change` takes them, to cfg: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
// STOPSIGNAL, USER, VOLUME, WORKDIR. Others are refused.
func ApplyChanges(cfg *v1.Config, changes []string) error {
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return fmt.Errorf("--change %q: %w", c, err)
		}
	}
	return nil
}

// importInstructions are those `import --change` takes.
var importInstructions = map[string]bool{
	"CMD": true, "ENTRYPOINT": true, "ENV": true, "EXPOSE": true, "LABEL": true,
	"STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true,
}

// applyChange reads the instruction with the Dockerfile reader the
// builder uses, so that --change means what a Dockerfile line means.
func applyChange(cfg *v1.Config, change string) error {
	instr, _, _ := strings.Cut(strings.TrimSpace(change), " ")
	if instr != "" && !importInstructions[strings.ToUpper(instr)] {
		return fmt.Errorf("unsupported instruction %s (import takes CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)", strings.ToUpper(instr))
	}
	cmd, err := dockerfile.ParseChange(change, cfg.Env)
	if err != nil {
		return err
	}
	return dockerfile.Apply(cfg, cmd)
}
