package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A tiny classic BPF assembler with symbolic forward labels. Conditional jumps only reach 255
// instructions ahead, so a conditional jump whose target is further away is rewritten to jump to a
// trampoline right after it, an unconditional JA (32-bit offset) to the real target. Trampolines
// only ever make the program longer, so the layout converges in a few passes.

type label int32

// next is the instruction after the current one (after its trampolines, if any).
const next label = -1

type insn struct {
	code   uint16
	longT  bool // jt goes through a trampoline
	longF  bool
	k      uint32
	jt, jf label // conditional jumps
	target label // BPF_JA
	mark   label // >= 0: not an instruction but the position of a label
}

type asm struct {
	insns  []insn
	labels int
}

func (a *asm) newLabel() label {
	a.labels++
	return label(a.labels - 1)
}

func (a *asm) place(l label) { a.insns = append(a.insns, insn{mark: l}) }

func (a *asm) emit(code uint16, k uint32) {
	a.insns = append(a.insns, insn{code: code, k: k, mark: -1})
}

func (a *asm) ldAbs(off uint32) { a.emit(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off) }
func (a *asm) and(k uint32)     { a.emit(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, k) }
func (a *asm) ret(k uint32)     { a.emit(unix.BPF_RET|unix.BPF_K, k) }

func (a *asm) jump(t label) {
	if t == next {
		return
	}
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | unix.BPF_JA, target: t, mark: -1})
}

// jcond emits "if A <op> k goto jt else goto jf"; op is BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET.
func (a *asm) jcond(op uint16, k uint32, jt, jf label) {
	if jt == jf {
		a.jump(jt)
		return
	}
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf, mark: -1})
}

func isCond(in *insn) bool {
	return in.mark < 0 && in.code&0x07 == unix.BPF_JMP && in.code&0xf0 != unix.BPF_JA
}

func isJA(in *insn) bool {
	return in.mark < 0 && in.code == unix.BPF_JMP|unix.BPF_JA
}

func (in *insn) size() int {
	switch {
	case in.mark >= 0:
		return 0
	case isCond(in):
		n := 1
		if in.longT {
			n++
		}
		if in.longF {
			n++
		}
		return n
	}
	return 1
}

// assemble lays the program out and resolves every label.
func (a *asm) assemble() ([]unix.SockFilter, error) {
	// Trampolines only add instructions: refuse an oversized program before the layout passes.
	if n := len(a.insns) - a.labels; n > MaxInstructions {
		return nil, fmt.Errorf("filter too large: more than %d instructions (kernel limit %d)", n, MaxInstructions)
	}
	at := make([]int, len(a.insns))
	labelPos := make([]int, a.labels)
	resolve := func(i int, l label) (int, error) {
		if l == next {
			return at[i] + a.insns[i].size(), nil
		}
		if l < 0 || int(l) >= a.labels || labelPos[l] < 0 {
			return 0, fmt.Errorf("internal error: undefined label %d", l)
		}
		return labelPos[l], nil
	}
	var total int
	for {
		for i := range labelPos {
			labelPos[i] = -1
		}
		pos := 0
		for i := range a.insns {
			in := &a.insns[i]
			at[i] = pos
			if in.mark >= 0 {
				labelPos[in.mark] = pos
			}
			pos += in.size()
		}
		total = pos
		changed := false
		for i := range a.insns {
			in := &a.insns[i]
			if !isCond(in) {
				continue
			}
			for _, t := range []struct {
				l    label
				long *bool
			}{{in.jt, &in.longT}, {in.jf, &in.longF}} {
				if *t.long {
					continue
				}
				p, err := resolve(i, t.l)
				if err != nil {
					return nil, err
				}
				if p-(at[i]+1) > 255 {
					*t.long = true
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	if total > MaxInstructions {
		return nil, fmt.Errorf("filter too large: %d instructions (kernel limit %d)", total, MaxInstructions)
	}

	out := make([]unix.SockFilter, 0, total)
	offset := func(from, to int) (int, error) {
		d := to - from
		if d < 0 {
			return 0, fmt.Errorf("internal error: backward jump at %d", from)
		}
		return d, nil
	}
	for i := range a.insns {
		in := &a.insns[i]
		switch {
		case in.mark >= 0:
		case isJA(in):
			p, err := resolve(i, in.target)
			if err != nil {
				return nil, err
			}
			d, err := offset(at[i]+1, p)
			if err != nil {
				return nil, err
			}
			out = append(out, unix.SockFilter{Code: in.code, K: uint32(d)})
		case isCond(in):
			slot := at[i] + 1
			var tramps []int // targets of the trampolines, in order
			var jt, jf int
			for _, t := range []struct {
				l    label
				long bool
				off  *int
			}{{in.jt, in.longT, &jt}, {in.jf, in.longF, &jf}} {
				p, err := resolve(i, t.l)
				if err != nil {
					return nil, err
				}
				if t.long {
					*t.off = len(tramps) // the trampoline sits right after the jump
					tramps = append(tramps, p)
					continue
				}
				if *t.off, err = offset(slot, p); err != nil {
					return nil, err
				}
				if *t.off > 255 {
					return nil, fmt.Errorf("internal error: jump at %d too far", at[i])
				}
			}
			out = append(out, unix.SockFilter{Code: in.code, Jt: uint8(jt), Jf: uint8(jf), K: in.k})
			for j, p := range tramps {
				d, err := offset(slot+j+1, p)
				if err != nil {
					return nil, err
				}
				out = append(out, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(d)})
			}
		default:
			out = append(out, unix.SockFilter{Code: in.code, K: in.k})
		}
	}
	if len(out) != total {
		return nil, fmt.Errorf("internal error: laid out %d instructions, emitted %d", total, len(out))
	}
	return out, nil
}
