// Package seccomp compiles the OCI runtime spec's linux.seccomp into a classic BPF program for
// seccomp(2), without libseccomp or cgo, and loads such programs.
//
// The runtime compiles in Go and hands the program (see Marshal) to the C init helper, which loads
// it as its very last step before execve. Load is for tests and Go callers.
//
// Semantics, following runc + libseccomp where they are defined and documented here where we chose:
//
//   - The filter first checks seccomp_data.arch. The native architecture is always in the filter,
//     plus the ones listed in "architectures". A syscall from any other architecture, and on x86_64 a
//     syscall with the x32 bit (0x40000000) set when SCMP_ARCH_X32 is not listed, gets the "bad arch"
//     action. libseccomp uses SCMP_ACT_KILL (kill thread) there; we use SECCOMP_RET_KILL_PROCESS so a
//     process that tries a foreign ABI dies whole instead of leaving its other threads running.
//   - Architectures that are valid in the spec but have no table here (MIPS, PPC, s390, RISC-V, ...)
//     cannot run on the hosts we support; they are skipped with a warning (and so get the bad arch
//     action if the kernel ever reports them).
//   - Syscall names unknown on every architecture we know are skipped with a warning, as runc does
//     for syscalls the host's libseccomp lacks. A name that exists only on some listed architectures
//     (chown32, arch_prctl, ...) is silently applied where it exists.
//   - Several args in one rule are ANDed, unless two of them name the same argument index: then, as
//     runc does, each arg becomes a rule of its own (so they are ORed).
//   - For one syscall, conditional rules are tried in spec order and the first whose conditions all
//     match decides; if none matches, the syscall's unconditional rule decides (the first one, if
//     several name it; later conflicting ones give a warning), else the default action. Unlike runc we
//     keep rules whose action equals the default action: libseccomp refuses them, so runc drops them,
//     but dropping a conditional one would change what a later unconditional rule lets through.
//   - On 32-bit architectures (x86, arm) the kernel's argument is 32 bits wide: only the low word is
//     compared, and the high word is taken as zero (so "arg == 1<<32" never matches there).
//   - Like runc's "-ENOSYS stub": unless the default action is ALLOW, LOG or TRACE (or already
//     ERRNO(ENOSYS)), a syscall number above the highest one the profile names on that architecture
//     returns ENOSYS, so libcs fall back from syscalls newer than the profile (clone3, fchmodat2...)
//     instead of failing with EPERM. runc does this only when "architectures" is non-empty; we do it
//     for every architecture in the filter.
//   - SCMP_ACT_NOTIFY and listenerPath are not supported (clear error). The
//     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV flag only means something with a notify listener, which
//     the kernel refuses without one, so it is dropped with a warning.
package seccomp

//go:generate go run ./internal/mktables -o zsyscalls.go

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Flags accepted by Load (the seccomp(2) SECCOMP_FILTER_FLAG_* values).
const (
	FlagTSync            = unix.SECCOMP_FILTER_FLAG_TSYNC
	FlagLog              = unix.SECCOMP_FILTER_FLAG_LOG
	FlagSpecAllow        = unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
	FlagWaitKillableRecv = unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
)

// MaxInstructions is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const MaxInstructions = 4096

const (
	x32SyscallBit = 0x40000000
	badArchAction = unix.SECCOMP_RET_KILL_PROCESS
	maxArgs       = 6 // seccomp_data.args
)

type archIndex int

// The order matches the columns of sysTable (internal/mktables).
const (
	archX86_64 archIndex = iota
	archX86
	archX32
	archAArch64
	archARM
	numArches
)

type sysEntry struct {
	name string
	nr   [numArches]int32
}

type archInfo struct {
	spec   specs.Arch
	audit  uint32 // seccomp_data.arch
	bits32 bool   // syscall arguments are 32 bits wide
}

var archInfos = [numArches]archInfo{
	archX86_64:  {specs.ArchX86_64, unix.AUDIT_ARCH_X86_64, false},
	archX86:     {specs.ArchX86, unix.AUDIT_ARCH_I386, true},
	archX32:     {specs.ArchX32, unix.AUDIT_ARCH_X86_64, false}, // x32 passes 64-bit registers
	archAArch64: {specs.ArchAARCH64, unix.AUDIT_ARCH_AARCH64, false},
	archARM:     {specs.ArchARM, unix.AUDIT_ARCH_ARM, true},
}

// knownSpecArches are valid OCI names we have no table for.
var knownSpecArches = []specs.Arch{
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
	specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
	specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
	specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}

func nativeArch() (archIndex, error) {
	switch runtime.GOARCH {
	case "amd64":
		return archX86_64, nil
	case "386":
		return archX86, nil
	case "arm64":
		return archAArch64, nil
	case "arm":
		return archARM, nil
	}
	return 0, fmt.Errorf("seccomp: native architecture %s is not supported", runtime.GOARCH)
}

// lookupSyscall returns the numbers of a syscall name on each architecture.
func lookupSyscall(name string) (*sysEntry, bool) {
	i := sort.Search(len(sysTable), func(i int) bool { return sysTable[i].name >= name })
	if i < len(sysTable) && sysTable[i].name == name {
		return &sysTable[i], true
	}
	return nil, false
}

// isOtherArchName tells whether name is a syscall of an architecture we have no table for.
func isOtherArchName(name string) bool {
	_, found := slices.BinarySearch(otherArchNames[:], name)
	return found
}

// SyscallNumber resolves a syscall name for an OCI architecture name (for callers that report on
// profiles, e.g. `features`). x32 numbers include the x32 syscall bit.
func SyscallNumber(arch specs.Arch, name string) (uint32, bool) {
	e, ok := lookupSyscall(name)
	if !ok {
		return 0, false
	}
	for i, a := range archInfos {
		if a.spec == arch && e.nr[i] >= 0 {
			nr := uint32(e.nr[i])
			if archIndex(i) == archX32 {
				nr |= x32SyscallBit
			}
			return nr, true
		}
	}
	return 0, false
}

// action turns a spec action into a SECCOMP_RET_* value.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := func() (uint32, error) {
		if errnoRet == nil {
			return uint32(unix.EPERM), nil
		}
		if *errnoRet > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errnoRet %d out of range (max %d)", *errnoRet, unix.SECCOMP_RET_DATA)
		}
		return uint32(*errnoRet), nil
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActErrno:
		d, err := data()
		return unix.SECCOMP_RET_ERRNO | d, err
	case specs.ActTrace:
		d, err := data()
		return unix.SECCOMP_RET_TRACE | d, err
	case specs.ActNotify:
		return 0, errors.New("SCMP_ACT_NOTIFY (seccomp user notification) is not supported")
	case "":
		return 0, errors.New("action is empty")
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

func flagValue(f specs.LinuxSeccompFlag) (uint, error) {
	switch f {
	case specs.LinuxSeccompFlagLog:
		return FlagLog, nil
	case specs.LinuxSeccompFlagSpecAllow:
		return FlagSpecAllow, nil
	case specs.LinuxSeccompFlagWaitKillableRecv:
		return FlagWaitKillableRecv, nil
	case "SECCOMP_FILTER_FLAG_TSYNC":
		return FlagTSync, nil
	}
	return 0, fmt.Errorf("unknown seccomp flag %q", f)
}

type cond struct {
	idx       uint
	op        specs.LinuxSeccompOperator
	val, val2 uint64
}

type rule struct {
	action uint32
	conds  []cond
}

// callRules is what the profile says about one syscall number on one architecture.
type callRules struct {
	conditional []rule
	uncond      uint32
	hasUncond   bool
}

// Compile turns the spec into a BPF program for the native architecture (plus the listed
// architectures). Warnings (e.g. unknown syscall names, skipped as runc does for syscalls the host
// lacks) are returned, not printed. flags are for Load (or seccomp(2)) alongside the program.
func Compile(s *specs.LinuxSeccomp) (prog []unix.SockFilter, flags uint, warnings []string, err error) {
	if s == nil {
		return nil, 0, nil, errors.New("seccomp: no profile")
	}
	defAct, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	if s.ListenerPath != "" {
		return nil, 0, nil, errors.New("seccomp: listenerPath: seccomp user notification is not supported")
	}
	warn := func(format string, a ...any) { warnings = append(warnings, fmt.Sprintf(format, a...)) }

	for _, f := range s.Flags {
		v, err := flagValue(f)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("seccomp: %w", err)
		}
		if v == FlagWaitKillableRecv {
			warn("seccomp: flag %s ignored: it needs a notify listener, which is not supported", f)
			continue
		}
		flags |= v
	}

	native, err := nativeArch()
	if err != nil {
		return nil, 0, nil, err
	}
	var enabled [numArches]bool
	enabled[native] = true
	for _, a := range s.Architectures {
		found := false
		for i, info := range archInfos {
			if info.spec == a {
				enabled[i], found = true, true
			}
		}
		if found {
			continue
		}
		if slices.Contains(knownSpecArches, a) {
			warn("seccomp: architecture %s is not supported by this runtime, skipped", a)
			continue
		}
		return nil, 0, nil, fmt.Errorf("seccomp: unknown architecture %q", a)
	}

	// perArch maps a syscall number to its rules in calls, one slab for all architectures.
	var perArch [numArches]map[uint32]int32
	for i := range perArch {
		if enabled[i] {
			perArch[i] = make(map[uint32]int32, 512)
		}
	}
	calls := make([]callRules, 0, 1024)
	unknown := map[string]bool{}
	for i, sc := range s.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
		if len(sc.Names) == 0 {
			return nil, 0, nil, fmt.Errorf("seccomp: syscalls[%d]: no syscall names", i)
		}
		rules, err := splitRules(act, sc.Args)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
		for _, name := range sc.Names {
			e, ok := lookupSyscall(name)
			if !ok {
				if name == "" {
					return nil, 0, nil, fmt.Errorf("seccomp: syscalls[%d]: empty syscall name", i)
				}
				if !unknown[name] && !isOtherArchName(name) {
					unknown[name] = true
					warn("seccomp: unknown syscall %q, skipped", name)
				}
				continue
			}
			for a := range numArches {
				if !enabled[a] || e.nr[a] < 0 {
					continue
				}
				nr := uint32(e.nr[a])
				if a == archX32 {
					nr |= x32SyscallBit
				}
				ci, ok := perArch[a][nr]
				if !ok {
					ci = int32(len(calls))
					calls = append(calls, callRules{})
					perArch[a][nr] = ci
				}
				cr := &calls[ci]
				for _, r := range rules {
					switch {
					case len(r.conds) > 0:
						cr.conditional = append(cr.conditional, r)
					case !cr.hasUncond:
						cr.uncond, cr.hasUncond = r.action, true
					default:
						// Podman's default profile names some syscalls (setns) under two
						// unconditional actions; like runc through libseccomp, the first
						// one wins without a word, or every container would print a warning.
					}
				}
			}
		}
	}

	enosys := !(defAct == unix.SECCOMP_RET_ALLOW || defAct == unix.SECCOMP_RET_LOG ||
		defAct&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_TRACE ||
		defAct == unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))

	g := &gen{defAct: defAct}
	prog, err = g.program(enabled, &perArch, calls, enosys)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("seccomp: %w", err)
	}
	return prog, flags, warnings, nil
}

// splitRules applies runc's rule for args: ANDed in one rule, unless an index repeats, in which
// case each arg is a rule of its own.
func splitRules(act uint32, args []specs.LinuxSeccompArg) ([]rule, error) {
	var seen [maxArgs]int
	conds := make([]cond, 0, len(args))
	for j, a := range args {
		if a.Index >= maxArgs {
			return nil, fmt.Errorf("args[%d]: index %d out of range (max %d)", j, a.Index, maxArgs-1)
		}
		switch a.Op {
		case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
			specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		default:
			return nil, fmt.Errorf("args[%d]: unknown operator %q", j, a.Op)
		}
		seen[a.Index]++
		conds = append(conds, cond{idx: a.Index, op: a.Op, val: a.Value, val2: a.ValueTwo})
	}
	if len(conds) == 0 {
		return []rule{{action: act}}, nil
	}
	if slices.ContainsFunc(seen[:], func(n int) bool { return n > 1 }) {
		rules := make([]rule, len(conds))
		for j, c := range conds {
			rules[j] = rule{action: act, conds: []cond{c}}
		}
		return rules, nil
	}
	return []rule{{action: act, conds: conds}}, nil
}

func actionName(a uint32) string {
	data := strconv.Itoa(int(a & unix.SECCOMP_RET_DATA))
	switch a & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_ERRNO:
		return "ERRNO(" + data + ")"
	case unix.SECCOMP_RET_TRACE:
		return "TRACE(" + data + ")"
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	}
	return "0x" + strings.ToUpper(strconv.FormatUint(uint64(a), 16))
}
