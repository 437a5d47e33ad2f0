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

// TestSeccompDeniesCloseRange runs a container whose profile denies close_range(2), as Docker-style
// profiles from before 2020 do (the OCI runtime-tools suite's default profile among them): the
// runtime marks its own fds close-on-exec after loading the filter, so it must fall back to
// /proc/self/fd rather than fail, and still leak no fd into the container (ls sees 0-2 and the
// directory it reads, 3). Both filter positions are covered: without no_new_privs the filter loads
// before the capabilities drop, with it just before exec; both come before the fd sweep.
func TestSeccompDeniesCloseRange(t *testing.T) {
	enosys := uint(38) // ENOSYS, what a filter returns for a syscall newer than the profile
	tests := []struct {
		name  string
		nnp   bool
		errno *uint
	}{
		{"eperm privileged_load", false, nil},
		{"enosys privileged_load", false, &enosys},
		{"eperm no_new_privs", true, nil},
		{"enosys no_new_privs", true, &enosys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "sh", "-c", "echo fds=$(ls /proc/self/fd | tr '\\n' ' ')")
			e.spec.Process.NoNewPrivileges = tt.nnp
			e.spec.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"close_range"}, Action: specs.ActErrno, ErrnoRet: tt.errno},
				},
			}
			out := e.mustRun()
			if got := strings.TrimSpace(out); got != "fds=0 1 2 3" {
				t.Fatalf("container sees %q, want fds=0 1 2 3 (only stdio and ls's own directory fd)", got)
			}
		})
	}
}
