package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func TestNewDriver(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OverlaySupported(); err != nil {
		t.Fatalf("overlay should work on this host: %v", err)
	}
	for _, tc := range []struct {
		setting, env, want, wantErr string
	}{
		{want: DriverOverlay}, // auto: overlay works here
		{setting: "copy", want: DriverCopy},
		{setting: "vfs", want: DriverCopy},
		{setting: "overlay2", want: DriverOverlay},
		{env: "copy", want: DriverCopy},
		{setting: "overlay", env: "copy", want: DriverOverlay}, // the setting wins
		{setting: "zfs", wantErr: `unknown snapshot driver "zfs"`},
		{env: "btrfs", wantErr: `unknown snapshot driver "btrfs"`},
	} {
		t.Run(tc.setting+"/"+tc.env, func(t *testing.T) {
			t.Setenv(EnvDriver, tc.env)
			d, err := s.NewDriver(tc.setting)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || d.Name() != tc.want {
				t.Fatalf("got %v, %v; want %s", d, err, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(entries) != 0 {
		t.Errorf("the overlay probe left %v", entries)
	}
}

// TestDriversPrepare makes a root with each driver from the same unpacked
// layers and checks both show the same files and clean up.
func TestDriversPrepare(t *testing.T) {
	base := t.TempDir()
	s, err := Open(filepath.Join(base, "store"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []v1.Hash
	for _, files := range [][]string{{"a", "1", "b", "1"}, {"b", "2", ".wh.a", ""}} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for i := 0; i < len(files); i += 2 {
			tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(files[i+1]))})
			tw.Write([]byte(files[i+1]))
		}
		tw.Close()
		id, _, _ := v1.SHA256(bytes.NewReader(buf.Bytes()))
		if err := s.Unpack(id, &buf, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	lowers, err := s.LowerDirs(ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{DriverOverlay, DriverCopy} {
		t.Run(name, func(t *testing.T) {
			d, err := s.NewDriver(name)
			if err != nil {
				t.Fatal(err)
			}
			r, err := d.Prepare(filepath.Join(base, name), lowers)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Remove() })
			if b, err := os.ReadFile(filepath.Join(r.Merged(), "b")); err != nil || string(b) != "2" {
				t.Errorf("b = %q, %v", b, err)
			}
			if _, err := os.Lstat(filepath.Join(r.Merged(), "a")); !os.IsNotExist(err) {
				t.Errorf("a should be whited out: %v", err)
			}
			if err := os.WriteFile(filepath.Join(r.Merged(), "new"), []byte("n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(r.Upper(), "new")); err != nil {
				t.Errorf("change not in the upper dir: %v", err)
			}
			if err := r.Remove(); err != nil {
				t.Fatal(err)
			}
			var st unix.Statfs_t
			if err := unix.Statfs(filepath.Join(base, name), &st); err == nil {
				t.Errorf("%s still exists after Remove", name)
			}
		})
	}
}
