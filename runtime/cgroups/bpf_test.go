package cgroups

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBPFEncode checks the assembler's bytes against encodings worked out by hand from
// include/uapi/linux/bpf.h (little-endian: dst_reg is the low nibble of the second byte).
func TestBPFEncode(t *testing.T) {
	if !bpfLittleEndian {
		t.Skip("expected bytes are written for little-endian hosts")
	}
	for _, tc := range []struct {
		name string
		emit func(a *bpfAsm)
		want []byte
	}{
		{"ldxw r2, [r1+0]", func(a *bpfAsm) { a.ldx(bpfSizeW, bpfR2, bpfR1, 0) },
			[]byte{0x61, 0x12, 0, 0, 0, 0, 0, 0}},
		{"ldxw r4, [r1+4]", func(a *bpfAsm) { a.ldx(bpfSizeW, bpfR4, bpfR1, 4) },
			[]byte{0x61, 0x14, 4, 0, 0, 0, 0, 0}},
		{"ldxh r3, [r1+2]", func(a *bpfAsm) { a.ldx(bpfSizeH, bpfR3, bpfR1, 2) },
			[]byte{0x69, 0x13, 2, 0, 0, 0, 0, 0}},
		{"ldxdw r9, [r10-8]", func(a *bpfAsm) { a.ldx(bpfSizeDW, bpfR9, bpfR10, -8) },
			[]byte{0x79, 0xa9, 0xf8, 0xff, 0, 0, 0, 0}},
		{"mov32 r3, r2", func(a *bpfAsm) { a.alu32Reg(bpfMov, bpfR3, bpfR2) },
			[]byte{0xbc, 0x23, 0, 0, 0, 0, 0, 0}},
		{"and32 r3, 0xffff", func(a *bpfAsm) { a.alu32Imm(bpfAnd, bpfR3, 0xffff) },
			[]byte{0x54, 0x03, 0, 0, 0xff, 0xff, 0, 0}},
		{"rsh32 r2, 16", func(a *bpfAsm) { a.alu32Imm(bpfRsh, bpfR2, 16) },
			[]byte{0x74, 0x02, 0, 0, 16, 0, 0, 0}},
		{"mov r0, 1", func(a *bpfAsm) { a.alu64Imm(bpfMov, bpfR0, 1) },
			[]byte{0xb7, 0x00, 0, 0, 1, 0, 0, 0}},
		{"mov r0, -1", func(a *bpfAsm) { a.alu64Imm(bpfMov, bpfR0, -1) },
			[]byte{0xb7, 0x00, 0, 0, 0xff, 0xff, 0xff, 0xff}},
		{"exit", func(a *bpfAsm) { a.exit() },
			[]byte{0x95, 0, 0, 0, 0, 0, 0, 0}},
		{"jumps forward and back", func(a *bpfAsm) {
			a.label("top")
			a.jmpImm(bpfJNE, bpfR3, 2, "out")   // 0: off 3-1 = 2
			a.jmpImm(bpfJGT, bpfR4, 259, "out") // 1: off 3-2 = 1
			a.jmpImm(bpfJEQ, bpfR2, 0, "top")   // 2: off 0-3 = -3
			a.label("out")
			a.ja("top") // 3: off 0-4 = -4
		}, []byte{
			0x55, 0x03, 2, 0, 2, 0, 0, 0,
			0x25, 0x04, 1, 0, 0x03, 0x01, 0, 0,
			0x15, 0x02, 0xfd, 0xff, 0, 0, 0, 0,
			0x05, 0x00, 0xfc, 0xff, 0, 0, 0, 0,
		}},
	} {
		var a bpfAsm
		tc.emit(&a)
		insns, err := a.assemble()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := bpfEncode(insns); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
	}
}

func TestBPFAssembleErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		emit func(a *bpfAsm)
		want string
	}{
		{"undefined label", func(a *bpfAsm) { a.ja("nowhere"); a.exit() }, `undefined label "nowhere"`},
		{"duplicate label", func(a *bpfAsm) { a.label("x"); a.exit(); a.label("x"); a.exit() }, `label "x" defined twice`},
		{"label at end", func(a *bpfAsm) { a.ja("end"); a.exit(); a.label("end") }, `label "end" names no instruction`},
		{"too far", func(a *bpfAsm) {
			a.ja("far")
			for range 1 << 15 {
				a.exit()
			}
			a.label("far")
			a.exit()
		}, `jump to "far" too far`},
	} {
		var a bpfAsm
		tc.emit(&a)
		_, err := a.assemble()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestBPFProgLoad loads programs into the kernel: a valid one, and one the verifier rejects,
// whose error must carry the verifier's explanation.
func TestBPFProgLoad(t *testing.T) {
	needRoot(t)
	var ok bpfAsm
	ok.alu64Imm(bpfMov, bpfR0, 1)
	ok.exit()
	insns, err := ok.assemble()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := bpfProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, "berth_test", "Apache", insns)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)

	var bad bpfAsm
	bad.exit() // R0 never written
	insns, err = bad.assemble()
	if err != nil {
		t.Fatal(err)
	}
	fd, err = bpfProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, "berth_test", "Apache", insns)
	if err == nil {
		unix.Close(fd)
		t.Fatal("verifier accepted a program that returns an unset R0")
	}
	t.Logf("rejected as expected: %v", err)
	if !errors.Is(err, unix.EACCES) || !strings.Contains(err.Error(), "R0") {
		t.Errorf("error %q: want EACCES with the verifier log naming R0", err)
	}
}

// attachedDevicePrograms returns the ids of the device programs attached to cgroup dir.
func attachedDevicePrograms(dir string) ([]uint32, error) {
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return bpfProgQuery(fd, unix.BPF_CGROUP_DEVICE)
}

// TestBPFQueryMany attaches more programs than bpfProgQuery's first buffer holds, and
// checks that setV2Devices replaces them all with one.
func TestBPFQueryMany(t *testing.T) {
	needRoot(t)
	root := hybridUnified()
	if ok, _ := isUnified(); ok {
		root = cgroupRoot
	}
	if root == "" {
		t.Skip("no cgroup2 mount")
	}
	dir := filepath.Join(root, "berth-cgtest-bpfq-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := removeTree(dir); err != nil {
			t.Error(err)
		}
	}()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var a bpfAsm
	a.alu64Imm(bpfMov, bpfR0, 1)
	a.exit()
	insns, err := a.assemble()
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for range n {
		p, err := bpfProgLoad(unix.BPF_PROG_TYPE_CGROUP_DEVICE, "berth_test", "Apache", insns)
		if err != nil {
			t.Fatal(err)
		}
		err = bpfProgAttach(fd, p, unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI)
		unix.Close(p)
		if err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := bpfProgQuery(fd, unix.BPF_CGROUP_DEVICE); err != nil || len(ids) != n {
		t.Fatalf("query: %v, %v; want %d ids", ids, err, n)
	}
	if err := setV2Devices(dir, nil); err != nil {
		t.Fatal(err)
	}
	if ids, err := bpfProgQuery(fd, unix.BPF_CGROUP_DEVICE); err != nil || len(ids) != 1 {
		t.Errorf("after setV2Devices: %v, %v; want one id", ids, err)
	}
}
