package runtime_test

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccomp loads a filter into a real container: a blocked syscall fails with the configured
// errno while the rest of the workload runs. Both orders are covered: with no_new_privs the
// filter loads last; without it, before the capabilities are dropped.
func TestSeccomp(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		name := "no_new_privs"
		if !nnp {
			name = "privileged_load"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?; echo still-running")
			e.spec.Root.Readonly = false
			e.spec.Process.NoNewPrivileges = nnp
			e.spec.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
				},
			}
			out := e.mustRun()
			if !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "rc=1") || !strings.Contains(out, "still-running") {
				t.Fatalf("output %q", out)
			}
		})
	}
}

func TestSeccompBadProfile(t *testing.T) {
	e := newEnv(t, "true")
	e.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}
	r := e.run()
	if r.code != 1 || !strings.Contains(r.stderr, "SCMP_ACT_BOGUS") {
		t.Fatalf("want a clear error, got %s", r)
	}
}
