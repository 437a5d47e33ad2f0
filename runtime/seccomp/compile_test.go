package seccomp

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retKillP = unix.SECCOMP_RET_KILL_PROCESS
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retNOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

func errnoRet(e uint32) uint32 { return unix.SECCOMP_RET_ERRNO | e }
func uptr(v uint) *uint        { return &v }

func requireAMD64(t testing.TB) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the expectations in this test are written for an x86_64 host")
	}
}

// sysnr resolves a name for an arch, x32 bit included.
func sysnr(t testing.TB, a specs.Arch, name string) uint32 {
	t.Helper()
	n, ok := SyscallNumber(a, name)
	if !ok {
		t.Fatalf("no syscall %s on %s", name, a)
	}
	return n
}

func compile(t testing.TB, s *specs.LinuxSeccomp) []unix.SockFilter {
	t.Helper()
	prog, _, warnings, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	for _, w := range warnings {
		t.Logf("warning: %s", w)
	}
	if err := validate(prog); err != nil {
		t.Fatalf("invalid program: %v", err)
	}
	return prog
}

type call struct {
	arch specs.Arch // default x86_64
	name string
	nr   *uint32 // instead of name
	args [6]uint64
	want uint32
}

func (c call) run(t *testing.T, prog []unix.SockFilter) {
	t.Helper()
	arch := c.arch
	if arch == "" {
		arch = specs.ArchX86_64
	}
	var d seccompData
	for _, a := range archInfos {
		if a.spec == arch {
			d.arch = a.audit
		}
	}
	if d.arch == 0 {
		d.arch = 0x12345678 // a foreign architecture
	}
	if c.nr != nil {
		d.nr = *c.nr
	} else {
		d.nr = sysnr(t, arch, c.name)
	}
	d.args = c.args
	got, err := interpret(prog, d)
	if err != nil {
		t.Fatalf("%s %s: %v", arch, c.name, err)
	}
	if got != c.want {
		t.Errorf("%s %s(nr %#x, args %#x) = %s, want %s", arch, c.name, d.nr, c.args[:3], actionName(got), actionName(c.want))
	}
}

func u32(v uint32) *uint32 { return &v }

func TestCompileSemantics(t *testing.T) {
	requireAMD64(t)
	tests := []struct {
		name  string
		spec  specs.LinuxSeccomp
		calls []call
	}{
		{
			name: "default allow, one syscall with errno",
			spec: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uptr(5)},
				{Names: []string{"mkdir"}, Action: specs.ActErrno},
			}},
			calls: []call{
				{name: "getppid", want: errnoRet(5)},
				{name: "mkdir", want: retEPERM},
				{name: "read", want: retAllow},
				{nr: u32(1000), want: retAllow}, // no ENOSYS stub under a permissive default
				{nr: u32(0), want: retAllow},
				{nr: u32(x32SyscallBit | 39), want: retKillP}, // x32 not listed
				{arch: "foreign", nr: u32(1), want: retKillP},
			},
		},
		{
			name: "default errno with defaultErrnoRet, allow list, ENOSYS stub",
			spec: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(uint(unix.EACCES)),
				Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write", "getppid"}, Action: specs.ActAllow}}},
			calls: []call{
				{name: "read", want: retAllow},
				{name: "write", want: retAllow},
				{name: "getppid", want: retAllow},
				{name: "open", want: errnoRet(uint32(unix.EACCES))},
				{nr: u32(111), want: retNOSYS}, // above getppid (110), the last named
				{nr: u32(0x3fffffff), want: retNOSYS},
			},
		},
		{
			name: "every action",
			spec: specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: specs.ActKill},
				{Names: []string{"write"}, Action: specs.ActKillThread},
				{Names: []string{"open"}, Action: specs.ActKillProcess},
				{Names: []string{"close"}, Action: specs.ActTrap},
				{Names: []string{"stat"}, Action: specs.ActErrno, ErrnoRet: uptr(0)},
				{Names: []string{"fstat"}, Action: specs.ActTrace},
				{Names: []string{"lstat"}, Action: specs.ActTrace, ErrnoRet: uptr(42)},
				{Names: []string{"brk"}, Action: specs.ActAllow},
				{Names: []string{"lseek"}, Action: specs.ActLog},
				{Names: []string{"mmap"}, Action: specs.ActAllow, ErrnoRet: uptr(3)}, // ignored, as runc does
			}},
			calls: []call{
				{name: "read", want: unix.SECCOMP_RET_KILL_THREAD},
				{name: "write", want: unix.SECCOMP_RET_KILL_THREAD},
				{name: "open", want: retKillP},
				{name: "close", want: unix.SECCOMP_RET_TRAP},
				{name: "stat", want: errnoRet(0)},
				{name: "fstat", want: unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
				{name: "lstat", want: unix.SECCOMP_RET_TRACE | 42},
				{name: "brk", want: retAllow},
				{name: "lseek", want: unix.SECCOMP_RET_LOG},
				{name: "mmap", want: retAllow},
				{name: "mprotect", want: retKillP},     // 10: not named, below the last named (brk, 12)
				{name: "rt_sigaction", want: retNOSYS}, // 13: above the profile
			},
		},
		{
			name: "args: personality only for 0xffffffff, socket for AF_INET only",
			spec: specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
				{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.EAFNOSUPPORT)), Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo}}},
			}},
			calls: []call{
				{name: "personality", args: [6]uint64{0xffffffff}, want: retEPERM},
				{name: "personality", args: [6]uint64{0}, want: retAllow},
				{name: "personality", args: [6]uint64{0x1ffffffff}, want: retAllow}, // 64-bit compare
				{name: "socket", args: [6]uint64{unix.AF_INET}, want: errnoRet(uint32(unix.EAFNOSUPPORT))},
				{name: "socket", args: [6]uint64{unix.AF_INET6}, want: retAllow},
			},
		},
		{
			name: "args ANDed; same index ORed; conditional before unconditional",
			spec: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 9, Op: specs.OpNotEqual}}},
				{Names: []string{"tkill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
					{Index: 1, Value: 2, Op: specs.OpEqualTo}, {Index: 1, Value: 15, Op: specs.OpEqualTo}}},
				{Names: []string{"getppid"}, Action: specs.ActAllow},
				{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uptr(7), Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 1, Op: specs.OpGreaterEqual}}},
				{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uptr(8)}, // conflicting: ignored
			}},
			calls: []call{
				{name: "kill", args: [6]uint64{1, 15}, want: retAllow},
				{name: "kill", args: [6]uint64{1, 9}, want: retEPERM},
				{name: "kill", args: [6]uint64{2, 15}, want: retEPERM},
				{name: "tkill", args: [6]uint64{0, 2}, want: retAllow},
				{name: "tkill", args: [6]uint64{0, 15}, want: retAllow},
				{name: "tkill", args: [6]uint64{0, 9}, want: retEPERM},
				{name: "getppid", want: retAllow},
				{name: "getppid", args: [6]uint64{5}, want: errnoRet(7)},
			},
		},
		{
			name: "listed architectures: x86, x32, aarch64, arm",
			spec: specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"getppid", "rt_sigaction", "chown32", "arch_prctl", "set_tls", "cacheflush"}, Action: specs.ActErrno},
					{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
						{Index: 0, Value: 0x100000000, Op: specs.OpGreaterEqual}}},
				}},
			calls: []call{
				{arch: specs.ArchX86_64, name: "getppid", want: retEPERM},
				{arch: specs.ArchX86, name: "getppid", want: retEPERM},
				{arch: specs.ArchX32, name: "getppid", want: retEPERM},
				{arch: specs.ArchAARCH64, name: "getppid", want: retEPERM},
				{arch: specs.ArchARM, name: "getppid", want: retEPERM},
				{arch: specs.ArchX86, name: "chown32", want: retEPERM},
				{arch: specs.ArchARM, name: "set_tls", want: retEPERM}, // ARM private, 0xf0005
				{arch: specs.ArchARM, name: "cacheflush", want: retEPERM},
				{arch: specs.ArchARM, nr: u32(0xf0004), want: retAllow},
				{arch: specs.ArchX86, name: "chown", want: retAllow},
				{arch: specs.ArchX86_64, name: "arch_prctl", want: retEPERM},
				{arch: specs.ArchX32, name: "rt_sigaction", want: retEPERM}, // 512 | x32 bit
				{arch: specs.ArchX32, nr: u32(x32SyscallBit | 13), want: retAllow},
				{arch: specs.ArchX86_64, name: "rt_sigaction", want: retEPERM},
				{arch: specs.ArchX86_64, name: "personality", args: [6]uint64{0x100000000}, want: retEPERM},
				// A 32-bit argument can never reach 1<<32.
				{arch: specs.ArchX86, name: "personality", args: [6]uint64{0x100000000}, want: retAllow},
				{arch: "foreign", nr: u32(1), want: retKillP},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := compile(t, &tt.spec)
			for _, c := range tt.calls {
				c.run(t, prog)
			}
		})
	}
}

// refCond is the meaning of a condition on a full 64-bit argument.
func refCond(op specs.LinuxSeccompOperator, arg, v, v2 uint64) bool {
	switch op {
	case specs.OpEqualTo:
		return arg == v
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpMaskedEqual:
		return arg&v == v2
	}
	panic(op)
}

// TestCompileOperators checks every operator against refCond on values around the 32-bit word
// boundaries, on a 64-bit (x86_64) and a 32-bit (x86) architecture.
func TestCompileOperators(t *testing.T) {
	requireAMD64(t)
	edges := []uint64{0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 1 << 32, 1<<32 + 1,
		0x1_ffffffff, 0x2_00000000, 1 << 63, 1<<64 - 2, 1<<64 - 1}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		edges = append(edges, r.Uint64(), r.Uint64()>>32, r.Uint64()&0xffffffff00000000)
	}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	for _, op := range ops {
		for _, v := range edges {
			v2 := v & r.Uint64() // reachable and unreachable datums for MASKED_EQ
			if r.IntN(2) == 0 {
				v2 = r.Uint64()
			}
			spec := specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"ioctl"}, Action: specs.ActErrno,
					Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: v2, Op: op}}}}}
			prog := compile(t, &spec)
			for _, arg := range edges {
				for _, a := range []specs.Arch{specs.ArchX86_64, specs.ArchX86} {
					eff := arg
					if a == specs.ArchX86 {
						eff = arg & 0xffffffff // what a 32-bit task can pass
					}
					want := uint32(retAllow)
					if refCond(op, eff, v, v2) {
						want = retEPERM
					}
					call{arch: a, name: "ioctl", args: [6]uint64{0, 0, eff}, want: want}.run(t, prog)
				}
			}
		}
	}
}

// TestCompileLongJumps builds a profile that cannot merge into ranges, so that the binary search
// spans more than 255 instructions and needs trampolines, and checks every syscall.
func TestCompileLongJumps(t *testing.T) {
	requireAMD64(t)
	spec := specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	want := map[uint32]uint32{}
	for i, e := range sysTable {
		nr := e.nr[archX86_64]
		if nr < 0 {
			continue
		}
		rule := specs.LinuxSyscall{Names: []string{e.name}, Action: specs.ActErrno, ErrnoRet: uptr(uint(100 + i))}
		want[uint32(nr)] = errnoRet(uint32(100 + i))
		if i%7 == 0 {
			rule.Action = specs.ActAllow
			rule.ErrnoRet = nil
			rule.Args = []specs.LinuxSeccompArg{{Index: 1, Value: uint64(i), Op: specs.OpLessThan}}
		}
		spec.Syscalls = append(spec.Syscalls, rule)
	}
	prog := compile(t, &spec)
	trampolines := 0
	for _, in := range prog {
		if in.Code == unix.BPF_JMP|unix.BPF_JA {
			trampolines++
		}
	}
	if trampolines == 0 {
		t.Errorf("expected long jumps in a %d-instruction program", len(prog))
	}
	t.Logf("%d instructions, %d long jumps", len(prog), trampolines)
	for i, e := range sysTable {
		nr := e.nr[archX86_64]
		if nr < 0 {
			continue
		}
		if i%7 == 0 {
			if i > 0 {
				call{nr: u32(uint32(nr)), args: [6]uint64{0, uint64(i) - 1}, want: retAllow}.run(t, prog)
			}
			call{nr: u32(uint32(nr)), args: [6]uint64{0, uint64(i)}, want: retEPERM}.run(t, prog)
			continue
		}
		call{nr: u32(uint32(nr)), want: want[uint32(nr)]}.run(t, prog)
	}
}

func TestCompileTooLarge(t *testing.T) {
	spec := specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	var args []specs.LinuxSeccompArg
	for i := range 6 {
		args = append(args, specs.LinuxSeccompArg{Index: uint(i), Value: 1 << 40, Op: specs.OpLessEqual})
	}
	for range 200 {
		spec.Syscalls = append(spec.Syscalls, specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActErrno, Args: args})
	}
	_, _, _, err := Compile(&spec)
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Compile = %v, want a too large error", err)
	}
}

func TestCompileErrors(t *testing.T) {
	allow := specs.ActAllow
	tests := []struct {
		name string
		spec *specs.LinuxSeccomp
		want string
	}{
		{"nil", nil, "no profile"},
		{"no default", &specs.LinuxSeccomp{}, "defaultAction: action is empty"},
		{"unknown default", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, `unknown action "SCMP_ACT_MAYBE"`},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "SCMP_ACT_NOTIFY"},
		{"notify rule", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActNotify}}}, "syscalls[0]: SCMP_ACT_NOTIFY (seccomp user notification) is not supported"},
		{"listener", &specs.LinuxSeccomp{DefaultAction: allow, ListenerPath: "/run/x.sock"}, "listenerPath"},
		{"unknown arch", &specs.LinuxSeccomp{DefaultAction: allow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, `unknown architecture "SCMP_ARCH_Z80"`},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: allow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, `unknown seccomp flag "SECCOMP_FILTER_FLAG_FAST"`},
		{"errno range", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(70000)}, "errnoRet 70000 out of range"},
		{"no names", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}}, "syscalls[0]: no syscall names"},
		{"empty name", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{Names: []string{""}, Action: specs.ActErrno}}}, "empty syscall name"},
		{"rule action", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}}}}, "syscalls[0]: action is empty"},
		{"arg index", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "args[0]: index 6 out of range"},
		{"arg op", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}}}}, `unknown operator "SCMP_CMP_ABOUT"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := Compile(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCompileFlagsAndWarnings(t *testing.T) {
	tests := []struct {
		name     string
		spec     specs.LinuxSeccomp
		flags    uint
		warnings []string
	}{
		{"none", specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, 0, nil},
		{"all flags", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{
			"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}},
			FlagTSync | FlagLog | FlagSpecAllow, []string{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored"}},
		{"unknown names warn once", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "frobnicate"}, Action: specs.ActErrno},
			{Names: []string{"frobnicate"}, Action: specs.ActErrno}}}, 0, []string{`unknown syscall "frobnicate"`}},
		{"unsupported arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}},
			0, []string{"SCMP_ARCH_S390X is not supported"}},
		{"arch-specific names are silent", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"chown32", "arch_prctl", "set_tls"}, Action: specs.ActErrno}}}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, flags, warnings, err := Compile(&tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if flags != tt.flags {
				t.Errorf("flags = %#x, want %#x", flags, tt.flags)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d matching %q", warnings, len(tt.warnings), tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %q does not contain %q", warnings[i], w)
				}
			}
		})
	}
}

func TestMarshal(t *testing.T) {
	prog := compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow})
	b := Marshal(prog)
	if len(b) != len(prog)*unix.SizeofSockFilter {
		t.Fatalf("len = %d", len(b))
	}
	if got := fmt.Sprintf("%x", b[:8]); runtime.GOARCH == "amd64" && got != "2000000004000000" {
		t.Errorf("first instruction bytes = %s, want ld [4]", got)
	}
}
