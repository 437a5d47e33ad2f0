package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestAsmLongJumps puts the targets of conditional jumps before and past the 8-bit reach, with
// the true branch, the false branch and both needing a trampoline.
func TestAsmLongJumps(t *testing.T) {
	for _, n := range []int{0, 250, 254, 255, 256, 300, 1000} {
		var a asm
		far1, far2, far3 := a.newLabel(), a.newLabel(), a.newLabel()
		a.ldAbs(offNr)
		a.jcond(unix.BPF_JGE, 5, next, far2) // nr < 5 -> 2
		a.jcond(unix.BPF_JEQ, 6, far3, next) // nr == 6 -> 3
		a.jcond(unix.BPF_JEQ, 7, far1, far2) // nr == 7 -> 1, else 2
		for range n {
			a.ret(0xdead)
		}
		a.place(far1)
		a.ret(1)
		a.place(far2)
		a.ret(2)
		a.place(far3)
		a.ret(3)
		prog, err := a.assemble()
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for nr, want := range map[uint32]uint32{0: 2, 4: 2, 5: 2, 6: 3, 7: 1, 8: 2} {
			got, err := interpret(prog, seccompData{nr: nr})
			if err != nil || got != want {
				t.Errorf("n=%d nr=%d: got %d, %v; want %d", n, nr, got, err, want)
			}
		}
	}
}

func TestAsmErrors(t *testing.T) {
	var a asm
	back := a.newLabel()
	a.place(back)
	a.ldAbs(offNr)
	a.jcond(unix.BPF_JEQ, 1, back, next)
	a.ret(0)
	if _, err := a.assemble(); err == nil {
		t.Error("backward jump assembled")
	}
	var b asm
	b.jump(label(7))
	b.ret(0)
	if _, err := b.assemble(); err == nil {
		t.Error("undefined label assembled")
	}
}
