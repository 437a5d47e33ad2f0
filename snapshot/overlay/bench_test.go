package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkMount128: one mount and unmount of 128 layers (named short, as
// package snapshot names them) by each method that can (absolute paths
// under a temp dir overflow Legacy's page).
func BenchmarkMount128(b *testing.B) {
	base := b.TempDir()
	var lowers []string
	for i := 128; i >= 1; i-- {
		l := filepath.Join(base, "layers", fmt.Sprint(i))
		if err := os.MkdirAll(l, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l, fmt.Sprint("f", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
		lowers = append(lowers, l)
	}
	methods := []Method{Relative}
	if LowerdirPlusSupported() {
		methods = append(methods, LowerdirPlus)
	}
	for _, m := range methods {
		b.Run(m.String(), func(b *testing.B) {
			dir := b.TempDir()
			upper, work, target := filepath.Join(dir, "u"), filepath.Join(dir, "w"), filepath.Join(dir, "m")
			for _, d := range []string{upper, work, target} {
				if err := os.Mkdir(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if err := MountWith(m, lowers, upper, work, target, false); err != nil {
					b.Fatal(err)
				}
				if err := Unmount(target); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
