package snapshot

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const envHelper = "BERTH_SNAPSHOT_TEST_HELPER"

// sharedLayers are the same bytes in every process.
func sharedLayers() [][]byte {
	var out [][]byte
	for i := range 4 {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := fmt.Sprint("shared ", i)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprint("s", i), Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(body))})
		tw.Write([]byte(body))
		tw.Close()
		out = append(out, buf.Bytes())
	}
	return out
}

// helperProcess is one berth process using the store: it unpacks the
// shared layers (racing the others), chains them, prepares its own
// snapshot, writes into it and commits it.
func helperProcess(dir, name string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	var ids []v1.Hash
	for _, l := range sharedLayers() {
		id, _, _ := v1.SHA256(bytes.NewReader(l))
		if err := s.Unpack(id, bytes.NewReader(l), nil); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	top, err := s.Chain(ids)
	if err != nil {
		return err
	}
	sn, err := s.NewDriver(os.Getenv(EnvDriver))
	if err != nil {
		return err
	}
	for i := range 3 {
		key := fmt.Sprintf("%s-%d", name, i)
		m, err := sn.Prepare(key, top)
		if err != nil {
			return err
		}
		target, err := os.MkdirTemp("", "mp-")
		if err != nil {
			return err
		}
		if err := MountAll(m, target); err != nil {
			return err
		}
		werr := os.WriteFile(filepath.Join(target, "by"), []byte(key), 0o644)
		if err := Unmount(target); err != nil {
			return err
		}
		os.Remove(target)
		if werr != nil {
			return werr
		}
		if _, err := sn.Commit(key, nil, DiffOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	if v := os.Getenv(envHelper); v != "" {
		dir, name, _ := strings.Cut(v, "|")
		var err error
		if name == "open" {
			_, err = Open(dir)
		} else {
			err = helperProcess(dir, name)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestProcessesShareStore: several processes unpack the same layers,
// prepare and commit snapshots in one store at once; every layer is there
// once and every snapshot and commit is recorded.
func TestProcessesShareStore(t *testing.T) {
	for _, driver := range []string{DriverOverlay, DriverCopy} {
		t.Run(driver, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "snapshots")
			const n = 4
			cmds := make([]*exec.Cmd, n)
			outs := make([]*bytes.Buffer, n)
			for i := range n {
				cmds[i] = exec.Command(os.Args[0], "-test.run=^$")
				outs[i] = &bytes.Buffer{}
				cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
				cmds[i].Env = append(os.Environ(), envHelper+"="+dir+"|p"+fmt.Sprint(i), EnvDriver+"="+driver)
				if err := cmds[i].Start(); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range cmds {
				if err := c.Wait(); err != nil {
					t.Errorf("process %d: %v: %s", i, err, outs[i])
				}
			}
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			layers, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			// 4 shared layers and one per committed snapshot.
			if len(layers) != 4+3*n {
				t.Errorf("%d layers, want %d", len(layers), 4+3*n)
			}
			entries, _ := os.ReadDir(filepath.Join(dir, "layers"))
			if len(entries) != len(layers) {
				t.Errorf("%d layer dirs for %d layers", len(entries), len(layers))
			}
			sn, _ := s.NewDriver(driver)
			list, err := sn.List()
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[Kind]int{}
			for _, i := range list {
				kinds[i.Kind]++
			}
			if kinds[KindActive] != 3*n || kinds[KindCommitted] != 4+3*n {
				t.Errorf("snapshots by kind: %v", kinds)
			}
			if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
				t.Errorf("tmp left: %v", tmp)
			}
		})
	}
}

// TestProcessesOpenFreshStore: processes opening one new store at once
// all wait for the one that makes its metadata (bbolt must never see the
// empty file read-only).
func TestProcessesOpenFreshStore(t *testing.T) {
	for round := range 10 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint("snapshots-", round))
		var cmds []*exec.Cmd
		var outs []*bytes.Buffer
		for range 6 {
			c := exec.Command(os.Args[0], "-test.run=^$")
			out := &bytes.Buffer{}
			c.Stdout, c.Stderr = out, out
			c.Env = append(os.Environ(), envHelper+"="+dir+"|open")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cmds, outs = append(cmds, c), append(outs, out)
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Errorf("round %d, process %d: %v: %s", round, i, err, outs[i])
			}
		}
	}
}
