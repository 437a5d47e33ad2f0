package build

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPlan2000: digest and tar of a COPY of 2,000 small files (the
// builder's side of the bench context).
func BenchmarkPlan2000(b *testing.B) {
	dir := b.TempDir()
	os.Mkdir(filepath.Join(dir, "files"), 0o755)
	for i := range 2000 {
		os.WriteFile(filepath.Join(dir, "files", fmt.Sprintf("f%04d", i)), []byte(fmt.Sprintf("content %d\n", i)), 0o644)
	}
	c, err := OpenContext(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("digest", func(b *testing.B) {
		for b.Loop() {
			if _, err := (copyArgs{srcs: []string{"files"}, dest: "/files", from: c}).plan(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tar", func(b *testing.B) {
		set, _ := (copyArgs{srcs: []string{"files"}, dest: "/files", from: c}).plan()
		for b.Loop() {
			if err := set.copies[0].Tar(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}
