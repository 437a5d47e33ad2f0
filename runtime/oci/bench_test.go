package oci

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/nsexec"
	"github.com/berth-dev/berth/test/fixture"
)

// BenchmarkRun is one container's whole life, as `run --rm` of /bin/true: create, start, wait,
// delete; through the library in process and through each runtime binary.
func BenchmarkRun(b *testing.B) {
	type rtCase struct {
		name string
		rt   func(b *testing.B) Runtime
	}
	cases := []rtCase{
		{"library-exe", func(b *testing.B) Runtime { return NewLibrary(LibraryConfig{Root: b.TempDir(), Exe: berthRuntime}) }},
		{"berth-runtime", func(b *testing.B) Runtime { return benchBinary(b, berthRuntime) }},
		{"runc", func(b *testing.B) Runtime { return benchBinary(b, "runc") }},
	}
	if nsexec.HasConstructor {
		cases = append(cases, rtCase{"library", func(b *testing.B) Runtime { return NewLibrary(LibraryConfig{Root: b.TempDir()}) }})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rt := c.rt(b)
			dir := b.TempDir()
			spec, err := fixture.Bundle(dir, "/bin/true")
			if err != nil {
				b.Fatal(err)
			}
			spec.Version = "1.0.2"
			if err := fixture.WriteSpec(dir, spec); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("oci-bench-%d-%d", unix.Getpid(), i)
				pid, err := rt.Create(ctx, id, CreateOpts{Bundle: dir})
				if err != nil {
					b.Fatal(err)
				}
				if err := rt.Start(ctx, id); err != nil {
					b.Fatal(err)
				}
				var ws unix.WaitStatus
				if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
					b.Fatal(err)
				}
				if err := rt.Delete(ctx, id, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchBinary(b *testing.B, path string) Runtime {
	r, err := NewBinary(BinaryConfig{Path: path, Root: b.TempDir(), TempDir: b.TempDir()})
	if err != nil {
		b.Skip(err)
	}
	return r
}
