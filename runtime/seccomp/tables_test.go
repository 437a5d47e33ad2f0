package seccomp

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSysTableSorted(t *testing.T) {
	if !slices.IsSortedFunc(sysTable[:], func(a, b sysEntry) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	}) {
		t.Fatal("sysTable is not sorted by name: lookups would fail")
	}
	if !slices.IsSorted(otherArchNames[:]) {
		t.Fatal("otherArchNames is not sorted")
	}
	for _, e := range sysTable {
		if slices.Contains(otherArchNames[:], e.name) {
			t.Errorf("%s is in both tables", e.name)
		}
	}
}

// TestSysTableAgainstHeaders cross-checks the generated numbers with the kernel uapi headers of
// Debian's linux-libc-dev, where installed. The headers may be older than x/sys: only the names
// they have are compared, and for x32 also the other direction below the header's last number.
func TestSysTableAgainstHeaders(t *testing.T) {
	headers := []struct {
		arch   specs.Arch
		path   string
		re     string
		offset uint32
	}{
		{specs.ArchX86_64, "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", `#define __NR_(\w+) (\d+)`, 0},
		{specs.ArchX86, "/usr/include/x86_64-linux-gnu/asm/unistd_32.h", `#define __NR_(\w+) (\d+)`, 0},
		{specs.ArchX32, "/usr/include/x86_64-linux-gnu/asm/unistd_x32.h", `#define __NR_(\w+) \(__X32_SYSCALL_BIT \+ (\d+)\)`, x32SyscallBit},
	}
	for _, h := range headers {
		t.Run(string(h.arch), func(t *testing.T) {
			src, err := os.ReadFile(h.path)
			if err != nil {
				t.Skipf("no header: %v", err)
			}
			inHeader := map[string]bool{}
			var last uint32
			for _, m := range regexp.MustCompile(h.re).FindAllStringSubmatch(string(src), -1) {
				n, _ := strconv.ParseUint(m[2], 10, 32)
				want := uint32(n) | h.offset
				inHeader[m[1]] = true
				if uint32(n) < 512 { // x32's compat entries sit at 512 and up
					last = max(last, want)
				}
				got, ok := SyscallNumber(h.arch, m[1])
				if !ok || got != want {
					t.Errorf("%s: table has %#x (%v), header %#x", m[1], got, ok, want)
				}
			}
			if len(inHeader) < 300 {
				t.Fatalf("only %d syscalls in %s", len(inHeader), h.path)
			}
			if h.arch != specs.ArchX32 {
				return
			}
			for _, e := range sysTable {
				if nr, ok := SyscallNumber(h.arch, e.name); ok && (nr <= last || nr >= x32SyscallBit|512) && !inHeader[e.name] {
					t.Errorf("%s: x32 table has %#x, the header does not have it", e.name, nr)
				}
			}
		})
	}
}
