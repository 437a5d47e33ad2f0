package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Loading a filter into the test process would break it, so the kernel tests re-execute the test
// binary as a helper (TestMain) that loads the profile and then runs probes or execs a command.
const (
	envHelper  = "BERTH_SECCOMP_HELPER"  // path of the profile JSON
	envProbes  = "BERTH_SECCOMP_PROBES"  // ";"-separated "name:arg:arg..." raw syscalls
	envExec    = "BERTH_SECCOMP_EXEC"    // US (0x1f)-separated argv to execve after loading
	envNoFlags = "BERTH_SECCOMP_NOFLAGS" // load without TSYNC (single-threaded use of the thread)
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envHelper); path != "" {
		os.Exit(helper(path))
	}
	os.Exit(m.Run())
}

func helper(path string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "helper: "+format+"\n", a...)
		return 120
	}
	// KILL_PROCESS and TRAP dump core: keep that off the host.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	data, err := os.ReadFile(path)
	if err != nil {
		return fail("%v", err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		return fail("%v", err)
	}
	prog, flags, _, err := Compile(&s)
	if err != nil {
		return fail("%v", err)
	}
	runtime.LockOSThread()
	// TSYNC puts the filter on every thread of the Go runtime, as a container's would be.
	if os.Getenv(envNoFlags) == "" {
		flags |= FlagTSync
	}
	if err := Load(prog, flags); err != nil {
		return fail("%v", err)
	}
	if argv := os.Getenv(envExec); argv != "" {
		args := strings.Split(argv, "\x1f")
		err := syscall.Exec(args[0], args, os.Environ())
		return fail("exec %s: %v", args[0], err)
	}
	var out strings.Builder
	for _, p := range strings.Split(os.Getenv(envProbes), ";") {
		if p == "" {
			continue
		}
		f := strings.Split(p, ":")
		nr, ok := SyscallNumber(archInfos[mustNative()].spec, f[0])
		if !ok {
			return fail("unknown probe syscall %s", f[0])
		}
		var args [6]uintptr
		for i, a := range f[1:] {
			v, err := strconv.ParseUint(a, 0, 64)
			if err != nil {
				return fail("probe %s: %v", p, err)
			}
			args[i] = uintptr(v)
		}
		_, _, errno := unix.Syscall6(uintptr(nr), args[0], args[1], args[2], args[3], args[4], args[5])
		fmt.Fprintf(&out, "%s=%d\n", p, int(errno))
	}
	os.Stdout.WriteString(out.String())
	return 0
}

func mustNative() archIndex {
	a, err := nativeArch()
	if err != nil {
		panic(err)
	}
	return a
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading filters without no_new_privs needs root (CAP_SYS_ADMIN)")
	}
}

type helperRun struct {
	stdout, stderr string
	state          *os.ProcessState
	err            error
}

// runHelper runs the helper with profile s; probes or argv (exec) say what it does once filtered.
func runHelper(t *testing.T, s *specs.LinuxSeccomp, probes []string, argv []string, extraEnv ...string) helperRun {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+path, envProbes+"="+strings.Join(probes, ";"),
		envExec+"="+strings.Join(argv, "\x1f"))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Dir = t.TempDir()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return helperRun{stdout.String(), stderr.String(), cmd.ProcessState, err}
}

// probe runs probes under s and returns each probe's errno.
func probe(t *testing.T, s *specs.LinuxSeccomp, probes ...string) map[string]unix.Errno {
	t.Helper()
	r := runHelper(t, s, probes, nil)
	if r.err != nil {
		t.Fatalf("helper: %v\nstderr: %s", r.err, r.stderr)
	}
	got := map[string]unix.Errno{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(v)
		got[k] = unix.Errno(n)
	}
	return got
}

func signaled(r helperRun) (syscall.Signal, bool) {
	if r.state == nil {
		return 0, false
	}
	ws, ok := r.state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

func TestLoadProbes(t *testing.T) {
	requireRoot(t)
	requireAMD64(t)
	const afVsock = 40
	tests := []struct {
		name string
		spec specs.LinuxSeccomp
		want map[string]unix.Errno
	}{
		{
			name: "default allow, errno rules, args",
			spec: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"getppid"}, Action: specs.ActErrno},
					{Names: []string{"getpgrp"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.ENOTSUP))},
					{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
						{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
					{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.EACCES)), Args: []specs.LinuxSeccompArg{
						{Index: 0, Value: afVsock, Op: specs.OpEqualTo}}},
					{Names: []string{"getsid"}, Action: specs.ActTrace}, // no tracer: ENOSYS
					{Names: []string{"getpid"}, Action: specs.ActLog},
				}},
			want: map[string]unix.Errno{
				"getppid":                unix.EPERM,
				"getpgrp":                unix.ENOTSUP,
				"personality:0xffffffff": unix.EPERM,
				"personality:0x0":        0,
				"socket:40:1:0":          unix.EACCES,
				"getsid:0":               unix.ENOSYS,
				"getpid":                 0,
				"gettid":                 0,
			},
		},
		{
			name: "default errno, everything else allowed by name",
			spec: func() specs.LinuxSeccomp {
				s := specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(uint(unix.EXDEV)),
					Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}}
				var names []string
				for _, e := range sysTable {
					if e.name != "getppid" && e.name != "getpgrp" {
						names = append(names, e.name)
					}
				}
				s.Syscalls = []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}}
				return s
			}(),
			want: map[string]unix.Errno{"getppid": unix.EXDEV, "getpgrp": unix.EXDEV, "getpid": 0, "gettid": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probes []string
			for p := range tt.want {
				probes = append(probes, p)
			}
			got := probe(t, &tt.spec, probes...)
			for p, want := range tt.want {
				if g, ok := got[p]; !ok || g != want {
					t.Errorf("%s: errno %d (%v), want %d (%v)", p, g, g, want, want)
				}
			}
		})
	}
}

func TestLoadKill(t *testing.T) {
	requireRoot(t)
	uname, err := exec.LookPath("uname")
	if err != nil {
		t.Skip("no uname binary")
	}
	tests := []struct {
		name   string
		action specs.LinuxSeccompAction
		probes []string
		argv   []string
	}{
		// A single-threaded program, so that killing the thread ends the process.
		{"SCMP_ACT_KILL on exec'd uname", specs.ActKill, nil, []string{uname}},
		{"kill_thread on exec'd uname", specs.ActKillThread, nil, []string{uname}},
		{"trap on exec'd uname", specs.ActTrap, nil, []string{uname}},
		{"kill_process in the Go helper", specs.ActKillProcess, []string{"uname:0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"uname"}, Action: tt.action}}}
			r := runHelper(t, s, tt.probes, tt.argv)
			if sig, ok := signaled(r); !ok || sig != syscall.SIGSYS {
				t.Fatalf("helper ended with %v (%v), want killed by SIGSYS\nstdout: %s\nstderr: %s", r.state, r.err, r.stdout, r.stderr)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	if err := Load(nil, 0); err == nil {
		t.Error("Load(nil) succeeded")
	}
	if err := Load(make([]unix.SockFilter, MaxInstructions+1), 0); err == nil {
		t.Error("Load of an oversized program succeeded")
	}
	requireRoot(t)
	// The kernel rejects an unknown flag before touching the thread, so this is safe in-process.
	prog := compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow})
	err := Load(prog, 1<<20)
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("Load with a bogus flag = %v, want EINVAL", err)
	}
}

// TestLoadNoNewPrivs checks the error a caller without no_new_privs or CAP_SYS_ADMIN gets.
func TestLoadNoNewPrivs(t *testing.T) {
	requireRoot(t)
	nobody := 65534
	r := runHelper(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, nil, nil)
	if r.err != nil {
		t.Fatalf("as root: %v: %s", r.err, r.stderr)
	}
	// nobody must be able to reach the test binary and the profile.
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "helper"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.json")
	if err := os.WriteFile(path, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(dir, "helper"), "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), envHelper+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(nobody), Gid: uint32(nobody)}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no_new_privs or CAP_SYS_ADMIN") {
		t.Fatalf("as nobody: %v: %s, want the no_new_privs error", err, out)
	}
}
