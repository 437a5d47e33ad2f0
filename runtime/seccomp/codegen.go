package seccomp

import (
	bits64 "math/bits"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Layout of the generated program:
//
//	ld [arch]; jeq AUDIT_ARCH_A -> A; jeq AUDIT_ARCH_B -> B; ...; ret KILL_PROCESS
//	A: ld [nr]; binary search over the syscall number line of A; each leaf returns
//	B: ...
//
// Per architecture token the whole 32-bit syscall number line is cut into segments, each with one
// body: the default action, a syscall's rules, ENOSYS above the profile's last syscall, or the bad
// arch action (x32 numbers on x86_64 when x32 is not listed). Adjacent segments with the same body
// merge, so Docker's ~350 allowed syscalls become a few dozen ranges and a lookup costs ~8 jumps.

// struct seccomp_data offsets.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

type body struct {
	key   string
	rules []rule // conditional rules, in order
	final uint32 // action when no conditional rule matches
}

type segment struct {
	start uint32
	body  *body
}

type gen struct {
	asm
	defAct uint32
	rets   map[uint32]*body
}

// retBody is the body that only returns act; shared, since most segments are one of a few.
func (g *gen) retBody(act uint32) *body {
	if b, ok := g.rets[act]; ok {
		return b
	}
	if g.rets == nil {
		g.rets = map[uint32]*body{}
	}
	b := &body{key: "r" + strconv.FormatUint(uint64(act), 16), final: act}
	g.rets[act] = b
	return b
}

func (g *gen) callBody(cr *callRules) *body {
	final := g.defAct
	if cr.hasUncond {
		final = cr.uncond
	}
	if len(cr.conditional) == 0 {
		return g.retBody(final)
	}
	b := &body{rules: cr.conditional, final: final}
	var k strings.Builder
	for _, r := range b.rules {
		k.WriteString(strconv.FormatUint(uint64(r.action), 16))
		for _, c := range r.conds {
			k.WriteString("|" + strconv.FormatUint(uint64(c.idx), 10) + string(c.op) +
				strconv.FormatUint(c.val, 16) + "," + strconv.FormatUint(c.val2, 16))
		}
		k.WriteString(";")
	}
	k.WriteString("r" + strconv.FormatUint(uint64(b.final), 16))
	b.key = k.String()
	return b
}

// region adds the segments of one ABI's syscall numbers [lo, ...) to segs.
func (g *gen) region(segs []segment, lo uint32, nrIndex map[uint32]int32, calls []callRules, enosys bool) []segment {
	if segs == nil {
		segs = make([]segment, 0, 2*len(nrIndex)+2)
	}
	def := g.retBody(g.defAct)
	push := func(start uint32, b *body) {
		if n := len(segs); n > 0 && segs[n-1].start == start {
			segs[n-1].body = b
			return
		}
		segs = append(segs, segment{start, b})
	}
	push(lo, def)
	// Syscall numbers are small (below 1024 past the region's base) except ARM's private ones:
	// a counting pass over a dense bitmap sorts them without a comparison sort.
	var dense [1024 / 64]uint64
	var nrs, sparse []uint32
	for nr := range nrIndex {
		if off := nr - lo; off < 1024 {
			dense[off/64] |= 1 << (off % 64)
		} else {
			sparse = append(sparse, nr)
		}
	}
	nrs = make([]uint32, 0, len(nrIndex))
	for w, bits := range dense {
		for ; bits != 0; bits &= bits - 1 {
			nrs = append(nrs, lo+uint32(w*64+bits64.TrailingZeros64(bits)))
		}
	}
	slices.Sort(sparse)
	nrs = append(nrs, sparse...)
	for _, nr := range nrs {
		push(nr, g.callBody(&calls[nrIndex[nr]]))
		push(nr+1, def)
	}
	if enosys && len(nrs) > 0 {
		segs[len(segs)-1].body = g.retBody(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	}
	return segs
}

func merge(segs []segment) []segment {
	out := segs[:0]
	for _, s := range segs {
		if n := len(out); n > 0 && out[n-1].body.key == s.body.key {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (g *gen) program(enabled [numArches]bool, perArch *[numArches]map[uint32]int32, calls []callRules, enosys bool) ([]unix.SockFilter, error) {
	type token struct {
		audit  uint32
		bits32 bool
		segs   []segment
		entry  label
	}
	g.insns = make([]insn, 0, 2048)
	var tokens []*token
	add := func(a archIndex, segs []segment) {
		tokens = append(tokens, &token{audit: archInfos[a].audit, bits32: archInfos[a].bits32, segs: merge(segs), entry: g.newLabel()})
	}
	// x86_64 and x32 share AUDIT_ARCH_X86_64; x32 syscalls carry the x32 bit.
	if enabled[archX86_64] || enabled[archX32] {
		var segs []segment
		if enabled[archX86_64] {
			segs = g.region(segs, 0, perArch[archX86_64], calls, enosys)
		} else {
			segs = append(segs, segment{0, g.retBody(badArchAction)})
		}
		if enabled[archX32] {
			segs = g.region(segs, x32SyscallBit, perArch[archX32], calls, enosys)
		} else {
			segs = append(segs, segment{x32SyscallBit, g.retBody(badArchAction)})
		}
		add(archX86_64, segs)
	}
	for _, a := range []archIndex{archX86, archAArch64, archARM} {
		if enabled[a] {
			add(a, g.region(nil, 0, perArch[a], calls, enosys))
		}
	}

	g.ldAbs(offArch)
	for _, t := range tokens {
		g.jcond(unix.BPF_JEQ, t.audit, t.entry, next)
	}
	g.ret(badArchAction)
	for _, t := range tokens {
		g.place(t.entry)
		g.ldAbs(offNr)
		g.tree(t.segs, t.bits32)
	}
	return g.assemble()
}

// tree emits a binary search over segs (sorted by start, the first covering the lowest numbers).
// A holds the syscall number on entry.
func (g *gen) tree(segs []segment, bits32 bool) {
	if len(segs) == 1 {
		g.body(segs[0].body, bits32)
		return
	}
	mid := len(segs) / 2
	right := g.newLabel()
	g.jcond(unix.BPF_JGE, segs[mid].start, right, next)
	g.tree(segs[:mid], bits32)
	g.place(right)
	g.tree(segs[mid:], bits32)
}

func (g *gen) body(b *body, bits32 bool) {
	for _, r := range b.rules {
		fail := g.newLabel()
		for _, c := range r.conds {
			g.cond(c, bits32, fail)
		}
		g.ret(r.action)
		g.place(fail)
	}
	g.ret(b.final)
}

// cond emits code that falls through when c holds and jumps to fail otherwise. The 64-bit
// argument is compared as two 32-bit words (little-endian: the low word first): the high words
// decide unless they are equal, then the low words do.
func (g *gen) cond(c cond, bits32 bool, fail label) {
	pass := g.newLabel()
	lo := uint32(offArgs + 8*c.idx)
	hi := lo + 4
	vlo, vhi := uint32(c.val), uint32(c.val>>32)

	// hi3 branches on the high word against vhi: to gt, eq or lt (next = go on to the low word).
	hi3 := func(gt, eq, lt label) {
		if bits32 { // the high word is zero
			if vhi == 0 {
				g.jump(eq)
			} else {
				g.jump(lt)
			}
			return
		}
		g.ldAbs(hi)
		if gt == lt {
			g.jcond(unix.BPF_JEQ, vhi, eq, gt)
			return
		}
		g.jcond(unix.BPF_JGT, vhi, gt, next)
		g.jcond(unix.BPF_JEQ, vhi, eq, lt)
	}

	switch c.op {
	case specs.OpEqualTo:
		hi3(fail, next, fail)
		g.ldAbs(lo)
		g.jcond(unix.BPF_JEQ, vlo, pass, fail)
	case specs.OpNotEqual:
		hi3(pass, next, pass)
		g.ldAbs(lo)
		g.jcond(unix.BPF_JEQ, vlo, fail, pass)
	case specs.OpGreaterThan:
		hi3(pass, next, fail)
		g.ldAbs(lo)
		g.jcond(unix.BPF_JGT, vlo, pass, fail)
	case specs.OpGreaterEqual:
		hi3(pass, next, fail)
		g.ldAbs(lo)
		g.jcond(unix.BPF_JGE, vlo, pass, fail)
	case specs.OpLessThan:
		hi3(fail, next, pass)
		g.ldAbs(lo)
		g.jcond(unix.BPF_JGE, vlo, fail, pass)
	case specs.OpLessEqual:
		hi3(fail, next, pass)
		g.ldAbs(lo)
		g.jcond(unix.BPF_JGT, vlo, fail, pass)
	case specs.OpMaskedEqual: // (arg & value) == valueTwo
		mlo, mhi := uint32(c.val), uint32(c.val>>32)
		dlo, dhi := uint32(c.val2), uint32(c.val2>>32)
		if bits32 {
			if dhi != 0 {
				g.jump(fail)
			}
		} else {
			g.ldAbs(hi)
			g.and(mhi)
			g.jcond(unix.BPF_JEQ, dhi, next, fail)
		}
		g.ldAbs(lo)
		g.and(mlo)
		g.jcond(unix.BPF_JEQ, dlo, pass, fail)
	}
	g.place(pass)
}
