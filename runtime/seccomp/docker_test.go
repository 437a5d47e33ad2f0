package seccomp

import (
	"os/exec"
	"strings"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Docker's default capability set: the default profile's capability-conditional rules are
// resolved against it, as dockerd does for a container without --cap-add.
var dockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// dockerDefault converts moby's default profile to the OCI form (test-only: the runtime binary
// must not link moby/profiles).
func dockerDefault(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerDefaultCaps}}}
	s, err := mobyseccomp.GetDefaultProfile(rs)
	if err != nil {
		t.Fatalf("docker default profile: %v", err)
	}
	return s
}

func TestDockerDefaultCompile(t *testing.T) {
	requireAMD64(t)
	s := dockerDefault(t)
	prog, _, warnings, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d syscall rules, %d instructions, %d warnings: %q", len(s.Syscalls), len(prog), len(warnings), warnings)
	if err := validate(prog); err != nil {
		t.Fatal(err)
	}
	if len(prog) > 1500 {
		t.Errorf("program has %d instructions; the default profile should stay well below the kernel's %d", len(prog), MaxInstructions)
	}
	for _, c := range []call{
		{name: "read", want: retAllow},
		{name: "execve", want: retAllow},
		{name: "unshare", want: retEPERM},
		{name: "mount", want: retEPERM},
		{name: "keyctl", want: retEPERM},
		{name: "kexec_load", want: retEPERM},
		{name: "clone3", want: retNOSYS},
		{name: "socket", args: [6]uint64{unix.AF_INET}, want: retAllow},
		{name: "socket", args: [6]uint64{unix.AF_VSOCK}, want: retEPERM},
		{name: "personality", args: [6]uint64{0xffffffff}, want: retAllow},
		{name: "personality", args: [6]uint64{0x4}, want: retEPERM},
		{name: "clone", args: [6]uint64{uint64(unix.SIGCHLD)}, want: retAllow},
		{name: "clone", args: [6]uint64{unix.CLONE_NEWNS | uint64(unix.SIGCHLD)}, want: retEPERM},
		{nr: u32(10000), want: retNOSYS},
		{arch: specs.ArchX86, name: "chown32", want: retAllow},
		{arch: specs.ArchX86, name: "socketcall", want: retAllow},
		{arch: specs.ArchX32, name: "read", want: retAllow},
		{arch: specs.ArchX32, name: "mount", want: retEPERM},
		{arch: specs.ArchAARCH64, name: "read", want: retKillP}, // not listed on an amd64 host
	} {
		c.run(t, prog)
	}
}

func TestDockerDefaultLoad(t *testing.T) {
	requireRoot(t)
	requireAMD64(t)
	s := dockerDefault(t)

	blocked := []string{
		"unshare:0x1",                 // unfiltered: EINVAL
		"mount:0:0:0:0:0",             // unfiltered: EFAULT
		"keyctl:0:0xfffffffd",         // KEYCTL_GET_KEYRING_ID; unfiltered: a key id
		"kexec_load:0:0:0:0xffff0000", // bogus flags; unfiltered: EINVAL
		"socket:40:1:0",               // AF_VSOCK
		"personality:0x4",
	}
	allowed := []string{"getppid", "personality:0xffffffff", "getuid", "socket:2:1:0"}
	filtered := probe(t, s, append(blocked, allowed...)...)
	baseline := probe(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, blocked...)
	for _, p := range blocked {
		if filtered[p] != unix.EPERM {
			t.Errorf("%s: errno %v under the default profile, want EPERM", p, filtered[p])
		}
		if baseline[p] == unix.EPERM {
			t.Errorf("%s: EPERM without a filter too: the probe proves nothing", p)
		}
	}
	for _, p := range allowed {
		if filtered[p] != 0 {
			t.Errorf("%s: errno %v under the default profile, want success", p, filtered[p])
		}
	}

	// A busybox-like workload: a shell that forks and execs, file IO, busybox applets.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	script := `set -e
echo hello > f
cat f > g
test "$(cat g)" = hello
mkdir d && mv g d/h && ls d > /dev/null && rm -r d f
uname -a > /dev/null
(sleep 0.01) &
wait
if [ -x /bin/busybox ]; then /bin/busybox sh -c 'echo bb > b; /bin/busybox cat b' > /dev/null; fi
echo done`
	r := runHelper(t, s, nil, []string{sh, "-c", script})
	if r.err != nil || strings.TrimSpace(r.stdout) != "done" {
		t.Fatalf("workload: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
}

func BenchmarkCompileDockerDefault(b *testing.B) {
	s := dockerDefault(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}
