package cgroups

// A minimal eBPF assembler and the few bpf(2) commands the v2 device filter needs. The
// device program uses a dozen opcodes, and a general eBPF library (with BTF, ELF loading,
// feature probes, ...) more than doubled the size of berth-runtime, whose whole image the
// kernel maps at every container start.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpfReg is an eBPF register: R0 return value, R1-R5 arguments (R1 the program's context),
// R6-R9 callee saved, R10 the read-only frame pointer.
type bpfReg uint8

const (
	bpfR0 bpfReg = iota
	bpfR1
	bpfR2
	bpfR3
	bpfR4
	bpfR5
	bpfR6
	bpfR7
	bpfR8
	bpfR9
	bpfR10
)

// Opcode parts (include/uapi/linux/bpf_common.h, bpf.h). An opcode is class | op | source
// for ALU and jumps, class | mode | size for loads.
const (
	// Classes.
	bpfClassLDX   = 0x01
	bpfClassALU   = 0x04 // 32-bit ALU: the result is zero-extended to 64 bits
	bpfClassJMP   = 0x05
	bpfClassALU64 = 0x07

	// Load sizes and mode.
	bpfSizeW  = 0x00
	bpfSizeH  = 0x08
	bpfSizeB  = 0x10
	bpfSizeDW = 0x18
	bpfMem    = 0x60

	// Source operand: the immediate (K) or the source register (X).
	bpfK = 0x00
	bpfX = 0x08

	// ALU operations.
	bpfAdd = 0x00
	bpfOr  = 0x40
	bpfAnd = 0x50
	bpfLsh = 0x60
	bpfRsh = 0x70
	bpfMov = 0xb0

	// Jump operations.
	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGT  = 0x20
	bpfJGE  = 0x30
	bpfJSET = 0x40
	bpfJNE  = 0x50
	bpfJLT  = 0xa0
	bpfJLE  = 0xb0
	bpfExit = 0x90
)

// bpfInsn is struct bpf_insn: opcode, dst_reg:4 and src_reg:4 sharing a byte, a signed
// 16-bit offset (memory offset or jump distance) and a signed 32-bit immediate.
type bpfInsn struct {
	code uint8
	dst  bpfReg
	src  bpfReg
	off  int16
	imm  int32
}

// bpfLittleEndian says how the kernel lays out dst_reg:4, src_reg:4: C bit-fields are
// allocated from the least significant bit on little-endian targets and from the most
// significant one on big-endian ones, so dst is the low nibble here and the high one there.
var bpfLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// bpfEncode returns the instructions as the kernel reads them: 8 bytes each, host byte order.
func bpfEncode(insns []bpfInsn) []byte {
	b := make([]byte, 0, 8*len(insns))
	for _, in := range insns {
		regs := uint8(in.dst&0xf) | uint8(in.src&0xf)<<4
		if !bpfLittleEndian {
			regs = uint8(in.dst&0xf)<<4 | uint8(in.src&0xf)
		}
		b = append(b, in.code, regs)
		b = binary.NativeEndian.AppendUint16(b, uint16(in.off))
		b = binary.NativeEndian.AppendUint32(b, uint32(in.imm))
	}
	return b
}

// bpfAsm builds a program with symbolic jump targets, resolved by assemble.
type bpfAsm struct {
	insns  []bpfInsn
	labels map[string]int // label → index of the instruction it names
	jumps  map[int]string // index of a jump → its target label
	err    error          // the first misuse, reported by assemble
}

// label names the next instruction emitted.
func (a *bpfAsm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	if _, dup := a.labels[name]; dup && a.err == nil {
		a.err = fmt.Errorf("bpf: label %q defined twice", name)
	}
	a.labels[name] = len(a.insns)
}

func (a *bpfAsm) emit(in bpfInsn) { a.insns = append(a.insns, in) }

// ldx loads size (bpfSizeW, H, B, DW) bytes at src+off into dst.
func (a *bpfAsm) ldx(size uint8, dst, src bpfReg, off int16) {
	a.emit(bpfInsn{code: bpfClassLDX | bpfMem | size, dst: dst, src: src, off: off})
}

// alu32Imm is dst = uint32(dst op imm); alu32Reg is dst = uint32(dst op src); alu64Imm
// works on all 64 bits (with imm sign-extended).
func (a *bpfAsm) alu32Imm(op uint8, dst bpfReg, imm int32) {
	a.emit(bpfInsn{code: bpfClassALU | op | bpfK, dst: dst, imm: imm})
}

func (a *bpfAsm) alu32Reg(op uint8, dst, src bpfReg) {
	a.emit(bpfInsn{code: bpfClassALU | op | bpfX, dst: dst, src: src})
}

func (a *bpfAsm) alu64Imm(op uint8, dst bpfReg, imm int32) {
	a.emit(bpfInsn{code: bpfClassALU64 | op | bpfK, dst: dst, imm: imm})
}

// jmpImm jumps to target if dst op imm (64-bit compare, imm sign-extended).
func (a *bpfAsm) jmpImm(op uint8, dst bpfReg, imm int32, target string) {
	a.jump(bpfInsn{code: bpfClassJMP | op | bpfK, dst: dst, imm: imm}, target)
}

// ja jumps to target unconditionally.
func (a *bpfAsm) ja(target string) { a.jump(bpfInsn{code: bpfClassJMP | bpfJA}, target) }

func (a *bpfAsm) jump(in bpfInsn, target string) {
	if a.jumps == nil {
		a.jumps = map[int]string{}
	}
	a.jumps[len(a.insns)] = target
	a.emit(in)
}

// exit returns R0.
func (a *bpfAsm) exit() { a.emit(bpfInsn{code: bpfClassJMP | bpfExit}) }

// assemble resolves the jump targets: a jump's offset counts from the instruction after it.
func (a *bpfAsm) assemble() ([]bpfInsn, error) {
	if a.err != nil {
		return nil, a.err
	}
	for name, at := range a.labels {
		if at >= len(a.insns) {
			return nil, fmt.Errorf("bpf: label %q names no instruction", name)
		}
	}
	out := append([]bpfInsn(nil), a.insns...)
	for at, name := range a.jumps {
		to, ok := a.labels[name]
		if !ok {
			return nil, fmt.Errorf("bpf: jump to undefined label %q", name)
		}
		off := to - (at + 1)
		if off < -1<<15 || off >= 1<<15 {
			return nil, fmt.Errorf("bpf: jump to %q too far (%d instructions)", name, off)
		}
		out[at].off = int16(off)
	}
	return out, nil
}

// bpfCall runs bpf(2) command cmd with the attribute struct *attr.
func bpfCall[T any](cmd int, attr *T) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// bpfPtr is a user pointer in a bpf_attr (__aligned_u64). The pointee must be pinned (which
// also keeps it off the stack, whose copies would leave the address stale) until the call
// returns.
func bpfPtr(p *runtime.Pinner, ptr unsafe.Pointer) uint64 {
	p.Pin(ptr)
	return uint64(uintptr(ptr))
}

// bpfProgLoadAttr is the BPF_PROG_LOAD member of union bpf_attr, up to prog_name.
type bpfProgLoadAttr struct {
	progType uint32
	insnCnt  uint32
	insns    uint64
	license  uint64
	logLevel uint32
	logSize  uint32
	logBuf   uint64
	_        uint32 // kern_version
	_        uint32 // prog_flags
	progName [unix.BPF_OBJ_NAME_LEN]byte
}

// bpfProgLoad loads a program and returns its fd (close-on-exec, as all bpf fds). When the
// verifier rejects it, the load is repeated with the verifier log, whose tail goes in the error.
func bpfProgLoad(progType uint32, name, license string, insns []bpfInsn) (int, error) {
	if len(insns) == 0 {
		return -1, errors.New("bpf: empty program")
	}
	code := bpfEncode(insns)
	lic := append([]byte(license), 0)
	var pin runtime.Pinner
	defer pin.Unpin()
	attr := bpfProgLoadAttr{
		progType: progType,
		insnCnt:  uint32(len(insns)),
		insns:    bpfPtr(&pin, unsafe.Pointer(&code[0])),
		license:  bpfPtr(&pin, unsafe.Pointer(&lic[0])),
	}
	copy(attr.progName[:len(attr.progName)-1], name)
	fd, err := bpfProgLoadRetry(&attr)
	if err == nil {
		return fd, nil
	}
	log := make([]byte, 256<<10)
	attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), bpfPtr(&pin, unsafe.Pointer(&log[0]))
	if fd, err2 := bpfProgLoadRetry(&attr); err2 == nil {
		return fd, nil // the kernel changed its mind; keep the program rather than fail
	}
	if n := strings.IndexByte(string(log), 0); n >= 0 {
		log = log[:n]
	}
	msg := strings.TrimSpace(string(log))
	if len(msg) > 2048 {
		msg = "..." + msg[len(msg)-2048:]
	}
	if msg == "" {
		return -1, err
	}
	return -1, fmt.Errorf("%w: verifier log:\n%s", err, msg)
}

// bpfProgLoadRetry retries EAGAIN, which the verifier returns when a signal (such as the Go
// scheduler's preemption signal) arrives while it works.
func bpfProgLoadRetry(attr *bpfProgLoadAttr) (int, error) {
	for i := 0; ; i++ {
		fd, err := bpfCall(unix.BPF_PROG_LOAD, attr)
		if err == unix.EAGAIN && i < 10 {
			continue
		}
		return fd, err
	}
}

// bpfAttachAttr is the BPF_PROG_ATTACH/BPF_PROG_DETACH member of union bpf_attr.
type bpfAttachAttr struct {
	targetFD    uint32
	attachBPFFD uint32
	attachType  uint32
	attachFlags uint32
	_           uint32 // replace_bpf_fd
}

// bpfProgAttach attaches program progFD to target (a cgroup directory fd).
func bpfProgAttach(target, progFD int, attachType, flags uint32) error {
	_, err := bpfCall(unix.BPF_PROG_ATTACH, &bpfAttachAttr{
		targetFD: uint32(target), attachBPFFD: uint32(progFD), attachType: attachType, attachFlags: flags,
	})
	return err
}

// bpfProgDetach detaches program progFD from target.
func bpfProgDetach(target, progFD int, attachType uint32) error {
	_, err := bpfCall(unix.BPF_PROG_DETACH, &bpfAttachAttr{
		targetFD: uint32(target), attachBPFFD: uint32(progFD), attachType: attachType,
	})
	return err
}

// bpfQueryAttr is the BPF_PROG_QUERY member of union bpf_attr, up to prog_cnt.
type bpfQueryAttr struct {
	targetFD   uint32
	attachType uint32
	_          uint32 // query_flags
	_          uint32 // attach_flags (out)
	progIDs    uint64
	progCnt    uint32
	_          uint32
}

// bpfProgQuery returns the ids of the programs attached directly to target.
func bpfProgQuery(target int, attachType uint32) ([]uint32, error) {
	ids := make([]uint32, 16)
	for {
		var pin runtime.Pinner
		attr := bpfQueryAttr{
			targetFD:   uint32(target),
			attachType: attachType,
			progIDs:    bpfPtr(&pin, unsafe.Pointer(&ids[0])),
			progCnt:    uint32(len(ids)),
		}
		_, err := bpfCall(unix.BPF_PROG_QUERY, &attr)
		pin.Unpin()
		switch {
		case err == unix.ENOSPC && int(attr.progCnt) > len(ids):
			// More attached than fit; prog_cnt now says how many.
			ids = make([]uint32, attr.progCnt)
		case err != nil:
			return nil, err
		default:
			return ids[:attr.progCnt], nil
		}
	}
}

// bpfGetFDByIDAttr is the BPF_PROG_GET_FD_BY_ID member of union bpf_attr.
type bpfGetFDByIDAttr struct {
	id uint32
	_  uint32 // next_id
	_  uint32 // open_flags
}

// bpfProgGetFDByID opens the program with the given id.
func bpfProgGetFDByID(id uint32) (int, error) {
	return bpfCall(unix.BPF_PROG_GET_FD_BY_ID, &bpfGetFDByIDAttr{id: id})
}
