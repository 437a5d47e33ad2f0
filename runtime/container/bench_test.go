package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks of the runtime's own work per container start, apart from the kernel's: decoding
// config.json and building the plans. A cold process also pays encoding/json's one-time
// reflection over the spec types (about 0.5 ms), which a warm benchmark loop does not show.
//
//	go test -run '^$' -bench . ./runtime/container

func BenchmarkDecodeSpec(b *testing.B) {
	data, err := json.Marshal(DefaultSpec(false))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeSpec(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlans(b *testing.B) {
	spec := DefaultSpec(false)
	spec.Process.Terminal = false
	rootfs := filepath.Join(b.TempDir(), "rootfs")
	for _, d := range []string{"proc", "dev", "sys", "tmp", "bin"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	in := &planInput{spec: spec, rootfs: rootfs, bundle: filepath.Dir(rootfs), fifoFd: 3, consoleFd: -1,
		firstFreeFd: 3, cgroupPaths: map[string]string{}, warn: func(string) {}}
	for b.Loop() {
		first := firstPlan(in)
		second, err := secondPlan(in)
		if err != nil {
			b.Fatal(err)
		}
		if first.Len()+second.Len() == 0 {
			b.Fatal("empty plans")
		}
	}
}
