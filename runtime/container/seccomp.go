package container

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/nsexec"
)

// seccompPlan compiles the spec's filter into the plan. Until the compiler lands, a spec that
// asks for seccomp is refused rather than run without its filter.
func seccompPlan(p *nsexec.Plan, s *specs.LinuxSeccomp, warn func(string)) error {
	return errors.New("linux.seccomp is not supported by this build yet")
}
