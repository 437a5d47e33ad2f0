package seccomp

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCompile feeds arbitrary profile JSON to Compile: it must never panic, and whatever it
// accepts must be a program the kernel's checker would accept and that always returns.
func FuzzCompile(f *testing.F) {
	if s, err := json.Marshal(dockerDefault(f)); err == nil {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s *specs.LinuxSeccomp
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}
		prog, _, _, err := Compile(s)
		if err != nil {
			return
		}
		if err := validate(prog); err != nil {
			t.Fatalf("Compile accepted %s but produced an invalid program: %v", data, err)
		}
		for _, d := range []seccompData{
			{nr: 0, arch: 0xc000003e},
			{nr: 41, arch: 0xc000003e, args: [6]uint64{2, 1, 0}},
			{nr: 0x40000000 | 512, arch: 0xc000003e},
			{nr: 102, arch: 0x40000003, args: [6]uint64{1 << 40}},
			{nr: 63, arch: 0xc00000b7},
			{nr: 0xffffffff, arch: 0x40000028},
		} {
			if _, err := interpret(prog, d); err != nil {
				t.Fatalf("program for %s fails on %+v: %v", data, d, err)
			}
		}
	})
}
