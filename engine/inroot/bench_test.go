package inroot

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func manyFiles(b *testing.B, n int) string {
	dir := b.TempDir()
	d := filepath.Join(dir, "many")
	os.Mkdir(d, 0o755)
	for i := range n {
		os.WriteFile(filepath.Join(d, fmt.Sprint("f", i)), []byte("data\n"), 0o644)
	}
	return dir
}

// BenchmarkArchive1000 archives a directory of 1,000 small files.
func BenchmarkArchive1000(b *testing.B) {
	r, err := Open(manyFiles(b, 1000))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for b.Loop() {
		if err := r.Archive(io.Discard, "/many", "many"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtract1000 extracts a tar of 1,000 small files.
func BenchmarkExtract1000(b *testing.B) {
	src, _ := Open(manyFiles(b, 1000))
	defer src.Close()
	var buf bytes.Buffer
	src.Archive(&buf, "/many", "many")
	for b.Loop() {
		dst, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if err := dst.Extract("/", bytes.NewReader(buf.Bytes()), ExtractOptions{NoChown: true}); err != nil {
			b.Fatal(err)
		}
		dst.Close()
	}
}
