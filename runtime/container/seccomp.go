package container

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/nsexec"
	"github.com/berth-dev/berth/runtime/seccomp"
)

// seccompPlan compiles the spec's filter into the plan.
func seccompPlan(p *nsexec.Plan, s *specs.LinuxSeccomp, warn func(string)) error {
	prog, flags, warnings, err := seccomp.Compile(s)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		warn(w)
	}
	p.Seccomp(flags, seccomp.Marshal(prog))
	return nil
}
