// Command engineopen times `berth images` on an engine root holding many
// images and stopped container records, against the start of a bare Go
// program that does nothing: the difference is what opening the engine
// and answering costs. bench/engine-open.sh builds both and runs it.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/bench/internal/stats"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image/store"
)

func main() {
	berth := flag.String("berth", "", "berth binary")
	bare := flag.String("bare", "", "a Go binary whose main returns at once")
	work := flag.String("work", "", "directory for the engine root and run root")
	nImages := flag.Int("images", 1000, "images in the store")
	nContainers := flag.Int("containers", 1000, "stopped container records")
	runs := flag.Int("runs", 100, "timed runs of each command")
	flag.Parse()
	if *berth == "" || *bare == "" || *work == "" {
		fmt.Fprintln(os.Stderr, "usage: engineopen -berth PATH -bare PATH -work DIR")
		os.Exit(2)
	}
	root, run := filepath.Join(*work, "root"), filepath.Join(*work, "run")
	start := time.Now()
	if err := populate(root, run, *nImages, *nContainers); err != nil {
		fail(err)
	}
	fmt.Printf("store: %d images, %d stopped containers (filled in %s)\n", *nImages, *nContainers, time.Since(start).Round(time.Millisecond))

	env := append(os.Environ(), "BERTH_ROOT="+root, "BERTH_RUNROOT="+run)
	empty := filepath.Join(*work, "empty")
	cmds := []struct {
		name string
		argv []string
	}{
		{"bare Go start", []string{*bare}},
		{"berth images", []string{*berth, "images"}},
		{"berth images -q", []string{*berth, "images", "-q"}},
		// berth's own start and an engine open, without the listing.
		{"images, empty root", []string{*berth, "--root", empty, "images"}},
	}
	// One untimed run each warms the page cache.
	for _, c := range cmds {
		if out, _, err := runOnce(c.argv, env); err != nil {
			fail(fmt.Errorf("%s: %v: %s", c.name, err, out))
		} else if c.name == "berth images -q" && bytes.Count(out, []byte("\n")) != *nImages {
			fail(fmt.Errorf("%s printed %d lines, want %d", c.name, bytes.Count(out, []byte("\n")), *nImages))
		}
	}
	times := make([][]time.Duration, len(cmds))
	cpus := make([][]time.Duration, len(cmds))
	for i := 0; i < *runs; i++ {
		// Rotate the order every iteration so that noise hits all alike.
		for j := range cmds {
			k := (i + j) % len(cmds)
			t0 := time.Now()
			out, cpu, err := runOnce(cmds[k].argv, env)
			if err != nil {
				fail(fmt.Errorf("%s: %v: %s", cmds[k].name, err, out))
			}
			times[k] = append(times[k], time.Since(t0))
			cpus[k] = append(cpus[k], cpu)
		}
	}
	base, baseCPU, base10 := stats.Median(times[0]), stats.Median(cpus[0]), stats.Pct(times[0], 10)
	fmt.Printf("%-18s %10s %10s %10s %12s %12s %10s %12s\n", "command", "p10", "median", "p90", "p10 above", "med above", "cpu", "cpu above")
	for j, c := range cmds {
		m, cpu, p10 := stats.Median(times[j]), stats.Median(cpus[j]), stats.Pct(times[j], 10)
		fmt.Printf("%-18s %10s %10s %10s %12s %12s %10s %12s\n", c.name, stats.Ms(p10), stats.Ms(m), stats.Ms(stats.Pct(times[j], 90)),
			stats.Ms(p10-base10), stats.Ms(m-base), stats.Ms(cpu), stats.Ms(cpu-baseCPU))
	}
	fmt.Println("wall time of the whole process (fork to exit): p10, median, p90; above: minus the bare Go start's;")
	fmt.Println("cpu: median user+sys time (rusage). On a busy machine p10 is the steadier figure.")
}

func runOnce(argv []string, env []string) ([]byte, time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return out.Bytes(), cpu, err
}

func hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// populate gives every image its own config and manifest blobs over one
// shared small layer, as real records; the container records reference
// images and are stopped. Records go in one transaction per kind, in the
// form the store writes them (the benchmark is about reading them).
func populate(root, run string, nImages, nContainers int) error {
	e, err := engine.Open(engine.Options{Root: root, RunRoot: run})
	if err != nil {
		return err
	}
	defer e.Close()
	s := e.Images()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	tw.Write([]byte("hello"))
	tw.Close()
	diffID := hash(layer.Bytes())
	if err := s.UnpackLayer(diffID, bytes.NewReader(layer.Bytes()), nil); err != nil {
		return err
	}
	blob, err := s.PutBlob(layer.Bytes())
	if err != nil {
		return err
	}
	ids := make([]string, nImages)
	recs := map[string][]byte{}
	names := map[string]string{}
	for i := range nImages {
		created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
		cfg, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64", Created: v1.Time{Time: created},
			RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}}, Config: v1.Config{Labels: map[string]string{"n": fmt.Sprint(i)}}})
		id, err := s.PutBlob(cfg)
		if err != nil {
			return err
		}
		m, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
			Config: v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: id, Size: int64(len(cfg))},
			Layers: []v1.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: blob, Size: int64(layer.Len())}}})
		md, err := s.PutBlob(m)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("registry.example:5000/bench/app%04d:v1", i)
		js, _ := json.Marshal(store.Image{ID: id, Manifest: md, ManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
			ManifestSize: int64(len(m)), Created: created, Stored: time.Now().UTC(),
			RepoDigests: []string{"registry.example:5000/bench/app" + fmt.Sprintf("%04d", i) + "@" + md.String()},
			Layers:      []store.Layer{{Digest: blob, DiffID: diffID, Size: int64(layer.Len()), MediaType: "application/vnd.oci.image.layer.v1.tar"}}})
		rec, err := store.CompactRecord(js)
		if err != nil {
			return err
		}
		ids[i] = id.String()
		recs[id.String()] = rec
		names[name] = id.String()
	}
	if err := e.Update(func(tx *bolt.Tx) error {
		ib, nb := tx.Bucket([]byte("images")), tx.Bucket([]byte("names"))
		for k, v := range recs {
			if err := ib.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for k, v := range names {
			if err := nb.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return e.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("containers"))
		for i := range nContainers {
			c := engine.Container{ID: fmt.Sprintf("%064x", i+1), Name: fmt.Sprintf("bench-%d", i), Image: ids[i%len(ids)],
				State: engine.StateStopped, Created: time.Now().UTC(), Finished: time.Now().UTC()}
			v, _ := json.Marshal(c)
			if err := b.Put([]byte(c.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "engineopen:", err)
	os.Exit(1)
}
