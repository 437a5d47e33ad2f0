package cgroups

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
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
func deviceProgram(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	rs, err := parseDevRules(rules)
	if err != nil {
		return nil, err
	}
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, 0xffff),
		asm.RSh.Imm32(asm.R2, 16),
		asm.And.Imm32(asm.R2, accAll),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
	}
	// Symbols go on the next instruction emitted; the verifier rejects unreachable code, so
	// the allow and deny exits are only emitted when something jumps to them.
	label := ""
	emit := func(ins asm.Instruction) {
		if label != "" {
			ins = ins.WithSymbol(label)
			label = ""
		}
		insns = append(insns, ins)
	}
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
			emit(asm.JNE.Imm(asm.R3, bpfDevBlock, next))
			checks++
		case 'c':
			emit(asm.JNE.Imm(asm.R3, bpfDevChar, next))
			checks++
		}
		if r.major >= 0 {
			emit(asm.JNE.Imm(asm.R4, int32(r.major), next))
			checks++
		}
		if r.minor >= 0 {
			emit(asm.JNE.Imm(asm.R5, int32(r.minor), next))
			checks++
		}
		if r.allow {
			emit(asm.And.Imm32(asm.R2, int32(accAll&^r.access)))
			emit(asm.JEq.Imm(asm.R2, 0, "allow"))
			usedAllow = true
		} else {
			emit(asm.Mov.Reg32(asm.R6, asm.R2))
			emit(asm.And.Imm32(asm.R6, int32(r.access)))
			emit(asm.JNE.Imm(asm.R6, 0, "deny"))
			usedDeny = true
		}
		if checks > 0 {
			label = next
		}
	}
	emit(asm.Mov.Imm(asm.R0, verdict))
	emit(asm.Return())
	if usedAllow {
		emit(asm.Mov.Imm(asm.R0, 1).WithSymbol("allow"))
		emit(asm.Return())
	}
	if usedDeny {
		emit(asm.Mov.Imm(asm.R0, 0).WithSymbol("deny"))
		emit(asm.Return())
	}
	return insns, nil
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
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "berth_devices",
		Type:         ebpf.CGroupDevice,
		License:      "Apache",
		Instructions: insns,
	})
	if err != nil {
		return fmt.Errorf("load device program: %w", err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("query device programs of %s: %w", dir, err)
	}
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	var errs []error
	for _, ap := range old.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("open old device program %d: %w", ap.ID, err))
			continue
		}
		err = link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: p, Attach: ebpf.AttachCGroupDevice})
		p.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("detach old device program %d: %w", ap.ID, err))
		}
	}
	return errors.Join(errs...)
}
