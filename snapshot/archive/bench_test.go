package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkExtract unpacks a layer shaped like a distribution's: 2,000
// small files in 50 directories three levels deep, with symlinks and
// hardlinks. Per-entry cost is what matters here (path resolution, the
// metadata syscalls); run on tmpfs to leave the disk out:
//
//	TMPDIR=/dev/shm go test -run '^$' -bench Extract ./snapshot/archive
func BenchmarkExtract(b *testing.B) {
	var ents []ent
	for d := 0; d < 50; d++ {
		dir := fmt.Sprintf("usr/share/d%02d/sub", d)
		ents = append(ents, ent{name: dir + "/", typ: tar.TypeDir, mode: 0o755})
		for f := 0; f < 40; f++ {
			ents = append(ents, ent{name: fmt.Sprintf("%s/f%02d", dir, f), body: strings.Repeat("x", 512)})
		}
		ents = append(ents,
			ent{name: dir + "/link", typ: tar.TypeSymlink, link: "f00"},
			ent{name: dir + "/hard", typ: tar.TypeLink, link: dir + "/f01"})
	}
	layer := mkTar(b, ents...)
	base := b.TempDir()
	b.SetBytes(int64(len(layer)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		target := filepath.Join(base, fmt.Sprint(i))
		if err := Extract(bytes.NewReader(layer), target, Options{Whiteouts: WhiteoutOverlay}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(target)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(ents)), "entries/op")
}
