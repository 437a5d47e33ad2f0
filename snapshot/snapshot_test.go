package snapshot

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func tarOf(t *testing.T, name, body string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(body))})
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

func TestUnpackVerifies(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := tarOf(t, "f", "good")
	diffID, _, _ := v1.SHA256(bytes.NewReader(good))
	other, _, _ := v1.SHA256(strings.NewReader("x"))
	tests := []struct {
		name    string
		data    []byte
		diffID  v1.Hash
		verify  func() error
		wantErr string
	}{
		{"diffID mismatch", tarOf(t, "f", "evil"), diffID, nil, "expected " + diffID.String()},
		{"verify refuses", good, diffID, func() error { return errors.New("blob digest mismatch") }, "blob digest mismatch"},
		{"bad diffID", good, v1.Hash{Algorithm: "sha256", Hex: "../x"}, nil, "invalid layer diffID"},
		{"hostile layer", tarOf(t, "../f", "x"), other, nil, "escapes"},
		{"ok", good, diffID, func() error { return nil }, ""},
		{"again", good, diffID, nil, ""},
	}
	for _, tc := range tests {
		err := s.Unpack(tc.diffID, bytes.NewReader(tc.data), tc.verify)
		if tc.wantErr == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
		if s.Has(tc.diffID) {
			t.Fatalf("%s: layer committed", tc.name)
		}
		if e, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(e) != 0 {
			t.Fatalf("%s: tmp left: %v", tc.name, e)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(s.Path(diffID), "f")); string(b) != "good" {
		t.Errorf("content %q", b)
	}
	if p := s.Path(diffID); filepath.Dir(p) != filepath.Join(s.dir, "layers") || len(filepath.Base(p)) > 3 {
		t.Errorf("layer dir %s: want a short name under layers/", p)
	}
	if list, err := s.List(); err != nil || len(list) != 1 || list[0] != diffID {
		t.Errorf("List: %v %v", list, err)
	}
	if err := s.Remove(diffID); err != nil || s.Has(diffID) {
		t.Errorf("remove: %v", err)
	}
	if s.Path(diffID) != "" {
		t.Error("Path of a removed layer")
	}
	if err := s.Remove(diffID); err != nil {
		t.Errorf("second remove: %v", err)
	}
}

// TestCleanTmp: what killed processes left (tmp entries, layer and
// snapshot dirs without a record) goes; recorded ones stay.
func TestCleanTmp(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := tarOf(t, "f", "good")
	diffID, _, _ := v1.SHA256(bytes.NewReader(good))
	if err := s.Unpack(diffID, bytes.NewReader(good), nil); err != nil {
		t.Fatal(err)
	}
	sn, err := s.NewDriver(DriverCopy)
	if err != nil {
		t.Fatal(err)
	}
	top, err := s.Chain([]v1.Hash{diffID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare("kept", top); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"tmp/layer-123", "layers/77", "active/78"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CleanTmp(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"tmp/layer-123", "layers/77", "active/78"} {
		if _, err := os.Stat(filepath.Join(s.dir, d)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", d, err)
		}
	}
	if !s.Has(diffID) {
		t.Error("recorded layer removed")
	}
	if m, err := sn.Mounts("kept"); err != nil || !fileExists(m[0].Source) {
		t.Errorf("recorded snapshot removed: %v %v", m, err)
	}
}

// BenchmarkHas: every lookup opens the metadata file for one read
// transaction (several processes share it).
func BenchmarkHas(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := []byte("not a tar, never unpacked")
	diffID, _, _ := v1.SHA256(bytes.NewReader(data))
	for b.Loop() {
		s.Has(diffID)
	}
}
