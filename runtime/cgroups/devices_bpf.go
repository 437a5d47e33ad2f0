package cgroups

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device types in the low half of bpf_cgroup_dev_ctx.access_type (BPF_DEVCG_DEV_*); the
// access bits (BPF_DEVCG_ACC_*) are in the high half.
const (
	bpfDevBlock = 1
	bpfDevChar  = 2
)

// deviceProgram compiles the rules to a BPF_PROG_TYPE_CGROUP_DEVICE program that gives each
// access the verdict of v1's semantics: start from "everything allowed" (a new v1 cgroup
// under the root), apply the rules in order, the last rule that covers an access bit decides
// it. The program walks the rules backwards keeping the requested bits not yet decided; a
// matching deny rule covering one of them denies, a matching allow rule clears the ones it
// covers, and when none are left the access is allowed. An open for read and write is thus
// allowed by "allow r" followed by "allow w", as v1 would.
//
// Context (struct bpf_cgroup_dev_ctx): u32 access_type (access<<16 | type), u32 major, u32 minor.
// Registers: R2 = undecided access bits, R3 = type, R4 = major, R5 = minor, R6 scratch.
func deviceProgram(rules []specs.LinuxDeviceCgroup) ([]bpfInsn, error) {
	rs, err := parseDevRules(rules)
	if err != nil {
		return nil, err
	}
	var a bpfAsm
	a.ldx(bpfSizeW, bpfR2, bpfR1, 0)
	a.alu32Reg(bpfMov, bpfR3, bpfR2)
	a.alu32Imm(bpfAnd, bpfR3, 0xffff)
	a.alu32Imm(bpfRsh, bpfR2, 16)
	a.alu32Imm(bpfAnd, bpfR2, accAll)
	a.ldx(bpfSizeW, bpfR4, bpfR1, 4)
	a.ldx(bpfSizeW, bpfR5, bpfR1, 8)
	// A label names the next instruction emitted; the verifier rejects unreachable code, so
	// the allow and deny exits are only emitted when something jumps to them.
	usedAllow, usedDeny := false, false
	verdict := int32(1) // nothing matched: v1's starting point, everything allowed
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if r.wildcard() {
			// Decides every access that got this far; earlier rules can never matter.
			if r.allow {
				verdict = 1
			} else {
				verdict = 0
			}
			break
		}
		next := fmt.Sprintf("rule%d", i)
		checks := 0
		switch r.typ {
		case 'b':
			a.jmpImm(bpfJNE, bpfR3, bpfDevBlock, next)
			checks++
		case 'c':
			a.jmpImm(bpfJNE, bpfR3, bpfDevChar, next)
			checks++
		}
		if r.major >= 0 {
			a.jmpImm(bpfJNE, bpfR4, int32(r.major), next)
			checks++
		}
		if r.minor >= 0 {
			a.jmpImm(bpfJNE, bpfR5, int32(r.minor), next)
			checks++
		}
		if r.allow {
			a.alu32Imm(bpfAnd, bpfR2, int32(accAll&^r.access))
			a.jmpImm(bpfJEQ, bpfR2, 0, "allow")
			usedAllow = true
		} else {
			a.alu32Reg(bpfMov, bpfR6, bpfR2)
			a.alu32Imm(bpfAnd, bpfR6, int32(r.access))
			a.jmpImm(bpfJNE, bpfR6, 0, "deny")
			usedDeny = true
		}
		if checks > 0 {
			a.label(next)
		}
	}
	a.alu64Imm(bpfMov, bpfR0, verdict)
	a.exit()
	if usedAllow {
		a.label("allow")
		a.alu64Imm(bpfMov, bpfR0, 1)
		a.exit()
	}
	if usedDeny {
		a.label("deny")
		a.alu64Imm(bpfMov, bpfR0, 0)
		a.exit()
	}
	return a.assemble()
}

// setV2Devices loads the rules' program and attaches it to the cgroup directory, replacing
// the programs attached before. It is attached with BPF_PROG_ATTACH and BPF_F_ALLOW_MULTI (not
// a bpf_link, which would go away with this process). The new program is attached before the
// old ones are detached: multiple programs must all allow, so there is no moment in which the
// container gets more than either rule set allows.
func setV2Devices(dir string, rules []specs.LinuxDeviceCgroup) error {
	insns, err := deviceProgram(rules)
	if err != nil {
		return err
	}
	prog, err := bpfProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, "berth_devices", "Apache", insns)
	if err != nil {
		return fmt.Errorf("load device program: %w", err)
	}
	defer unix.Close(prog)
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	old, err := bpfProgQuery(fd, unix.BPF_CGROUP_DEVICE)
	if err != nil {
		return fmt.Errorf("query device programs of %s: %w", dir, err)
	}
	if err := bpfProgAttach(fd, prog, unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	var errs []error
	for _, id := range old {
		p, err := bpfProgGetFDByID(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("open old device program %d: %w", id, err))
			continue
		}
		err = bpfProgDetach(fd, p, unix.BPF_CGROUP_DEVICE)
		unix.Close(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("detach old device program %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
