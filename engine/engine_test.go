package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image/distribution"
	"github.com/berth-dev/berth/image/store"
)

func TestMain(m *testing.M) {
	switch os.Getenv("ENGINE_TEST_CHILD") {
	case "":
	case "open":
		os.Exit(childOpen())
	default:
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// childOpen opens the engine given in the environment and prints how
// many images it lists.
func childOpen() int {
	e, err := engine.Open(engine.Options{Root: os.Getenv("ENGINE_ROOT"), RunRoot: os.Getenv("ENGINE_RUNROOT")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer e.Close()
	imgs, err := e.Images().Images()
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		return 1
	}
	fmt.Println(len(imgs))
	return 0
}

// child is a second berth process: it opens the engine given in the
// environment and runs GCs until the stop file appears.
func child() int {
	root, runRoot, stop := os.Getenv("ENGINE_ROOT"), os.Getenv("ENGINE_RUNROOT"), os.Getenv("ENGINE_STOP")
	n := 0
	for {
		e, err := engine.Open(engine.Options{Root: root, RunRoot: runRoot})
		if err != nil {
			fmt.Fprintln(os.Stderr, "open:", err)
			return 1
		}
		if _, err := e.GC(); err != nil {
			fmt.Fprintln(os.Stderr, "gc:", err)
			return 1
		}
		if _, err := e.Images().Images(); err != nil {
			fmt.Fprintln(os.Stderr, "images:", err)
			return 1
		}
		e.Close()
		n++
		if _, err := os.Stat(stop); err == nil && n >= 3 {
			fmt.Println(n)
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type roots struct{ root, run string }

func newRoots(t *testing.T) roots {
	return roots{filepath.Join(t.TempDir(), "root"), filepath.Join(t.TempDir(), "run")}
}

func (r roots) open(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.Options{Root: r.root, RunRoot: r.run})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// reg is an in-process registry; delay slows every blob download.
type reg struct {
	host  string
	mu    sync.Mutex
	delay time.Duration
}

func newRegistry(t *testing.T) *reg {
	r := &reg{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		d := r.delay
		r.mu.Unlock()
		if d > 0 && strings.Contains(req.URL.Path, "/blobs/") && req.Method == http.MethodGet {
			time.Sleep(d)
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// push puts a random linux/amd64 image of n layers at repo:v1.
func (r *reg) push(t *testing.T, repo string, n int) string {
	t.Helper()
	img, err := random.Image(64<<10, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := r.host + "/" + repo + ":v1"
	nr, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(nr, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

func pull(t *testing.T, s *store.Store, ref string) store.Image {
	t.Helper()
	img, err := distribution.Pull(context.Background(), s, ref, distribution.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// whole checks that img has all its blobs and layers.
func whole(t *testing.T, s *store.Store, img store.Image) {
	t.Helper()
	need := append([]v1.Hash{img.ID, img.Manifest}, img.Extra...)
	for _, l := range img.Layers {
		need = append(need, l.Digest)
		if !s.Snapshots().Has(l.DiffID) {
			t.Errorf("image %s: layer %s missing", img.ID, l.DiffID)
		}
	}
	for _, h := range need {
		if _, err := os.Stat(s.BlobPath(h)); err != nil {
			t.Errorf("image %s: blob %s missing", img.ID, h)
		}
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestOpenCreatesLayout(t *testing.T) {
	r := newRoots(t)
	e := r.open(t)
	var version uint64
	var buckets []string
	if err := e.View(func(tx *bolt.Tx) error {
		version = binary.BigEndian.Uint64(tx.Bucket([]byte("meta")).Get([]byte("version")))
		return tx.ForEach(func(n []byte, _ *bolt.Bucket) error { buckets = append(buckets, string(n)); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if version != engine.SchemaVersion {
		t.Errorf("version %d", version)
	}
	want := "container-names containers events execs images meta names networks pods volumes"
	if got := strings.Join(buckets, " "); got != want {
		t.Errorf("buckets %q, want %q", got, want)
	}
	for _, p := range []string{"meta.db", "lock", "leases", "image/blobs/sha256", "snapshots"} {
		if _, err := os.Stat(filepath.Join(r.root, p)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.run, "boot-id")); err != nil {
		t.Error(err)
	}
	// A second engine on the same root opens the current file as it is.
	before := fileSum(t, filepath.Join(r.root, "meta.db"))
	e.Close()
	r.open(t)
	if fileSum(t, filepath.Join(r.root, "meta.db")) != before {
		t.Error("reopening rewrote meta.db")
	}
}

// TestBadMetadata: a newer schema, a corrupt file or a foreign bbolt
// file is refused with an error naming the file, which is left as it
// was, and nothing else is created in the root or the run root.
func TestBadMetadata(t *testing.T) {
	newer := func(t *testing.T, path string) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("meta"))
			if err != nil {
				return err
			}
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], engine.SchemaVersion+1)
			return b.Put([]byte("version"), v[:])
		}); err != nil {
			t.Fatal(err)
		}
	}
	valid := func(t *testing.T, path string) {
		r := roots{filepath.Dir(path), t.TempDir()}
		e, err := engine.Open(engine.Options{Root: r.root, RunRoot: r.run})
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
		for _, p := range []string{"lock", "leases", "intents", "image", "snapshots", "containers"} {
			os.RemoveAll(filepath.Join(r.root, p))
		}
	}
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		wantErr error
		want    string
	}{
		{"newer schema", newer, engine.ErrNewerSchema, "schema version 2"},
		{"garbage", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not bbolt "), 2000), 0o600)
		}, engine.ErrCorrupt, "meta.db"},
		{"truncated", func(t *testing.T, path string) {
			valid(t, path)
			if err := os.Truncate(path, 100); err != nil {
				t.Fatal(err)
			}
		}, engine.ErrCorrupt, "meta.db"},
		{"meta pages zeroed", func(t *testing.T, path string) {
			valid(t, path)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(make([]byte, 8192), 0)
			f.Close()
		}, engine.ErrCorrupt, "meta.db"},
		{"data pages garbage", func(t *testing.T, path string) {
			valid(t, path)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := f.Stat()
			f.WriteAt(bytes.Repeat([]byte{0xa5}, int(fi.Size())-8192), 8192)
			f.Close()
		}, engine.ErrCorrupt, "meta.db"},
		{"foreign bbolt file", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
			db.Close()
		}, nil, "not a berth metadata file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoots(t)
			os.MkdirAll(r.root, 0o700)
			path := filepath.Join(r.root, "meta.db")
			tc.make(t, path)
			before := fileSum(t, path)
			_, err := engine.Open(engine.Options{Root: r.root, RunRoot: r.run})
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("open: %v; want %v naming %s and %q", err, tc.wantErr, path, tc.want)
			}
			if fileSum(t, path) != before {
				t.Error("meta.db was changed")
			}
			entries, _ := os.ReadDir(r.root)
			if len(entries) != 1 {
				t.Errorf("root holds %v, want meta.db alone", entries)
			}
			if _, err := os.Stat(r.run); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run root created: %v", err)
			}
		})
	}
}

// TestMigrateImageStore: a root written by the image store before the
// engine (ROOT/image/meta.db) opens with its images, names and content
// intact; the old file is kept aside and not migrated twice.
func TestMigrateImageStore(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	old, err := store.Open(r.root) // the pre-engine code path
	if err != nil {
		t.Fatal(err)
	}
	a := pull(t, old, rg.push(t, "mig/a", 2))
	b := pull(t, old, rg.push(t, "mig/b", 1))
	if err := old.Tag(a.ID.String(), "local/a:tagged"); err != nil {
		t.Fatal(err)
	}
	old.Close()
	if _, err := os.Stat(filepath.Join(r.root, "meta.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old layout has ROOT/meta.db: %v", err)
	}
	if first := recordBytes(t, filepath.Join(r.root, "image", "meta.db")); first != '{' {
		t.Fatalf("old layout's records start with %q, want JSON", first)
	}

	e := r.open(t)
	s := e.Images()
	imgs, err := s.Images()
	if err != nil || len(imgs) != 2 {
		t.Fatalf("images after migration: %d %v", len(imgs), err)
	}
	for ref, want := range map[string]v1.Hash{rg.host + "/mig/a:v1": a.ID, "local/a:tagged": a.ID, rg.host + "/mig/b:v1": b.ID, a.RepoDigests[0]: a.ID} {
		got, err := s.Resolve(ref)
		if err != nil || got.ID != want {
			t.Errorf("resolve %s: %s %v", ref, got.ID, err)
		}
	}
	whole(t, s, a)
	whole(t, s, b)
	e.Close()
	if first := recordBytes(t, filepath.Join(r.root, "meta.db")); first != 0x01 {
		t.Errorf("migrated records start with %q, want the compact form", first)
	}
	e = r.open(t)
	s = e.Images()
	if _, err := os.Stat(filepath.Join(r.root, "image", "meta.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old metadata still in place: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.root, "image", "meta.db.migrated")); err != nil {
		t.Error(err)
	}
	// The migrated store works: GC removes nothing, rmi and GC remove b.
	if res, err := e.GC(); err != nil || res.Blobs != 0 || res.Layers != 0 {
		t.Fatalf("gc after migration: %+v %v", res, err)
	}
	if _, err := s.Remove(rg.host+"/mig/b:v1", false); err != nil {
		t.Fatal(err)
	}
	if res, err := e.GC(); err != nil || res.Blobs != 3 || res.Layers != 1 {
		t.Fatalf("gc of b: %+v %v", res, err)
	}
	e.Close()
	// Reopening does not migrate again (b stays removed).
	if imgs, _ := r.open(t).Images().Images(); len(imgs) != 1 {
		t.Errorf("after reopen: %d images", len(imgs))
	}
}

// recordBytes is the first byte shared by every image record of the
// bbolt file at path (0 if they differ).
func recordBytes(t *testing.T, path string) byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var first byte
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("images")).ForEach(func(k, v []byte) error {
			if first == 0 {
				first = v[0]
			} else if first != v[0] {
				first = 0xff
			}
			return nil
		})
	})
	return first
}

// TestContainerPinsImage: an image that a container record uses keeps
// its record through rmi (forced: its names go) and its content through
// GC.
func TestContainerPinsImage(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	e := r.open(t)
	s := e.Images()
	ref := rg.push(t, "pin/a", 2)
	img := pull(t, s, ref)
	if err := e.PutContainer(engine.Container{ID: "c0ffee", Image: img.ID.String(), State: engine.StateStopped, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.ReleaseLease() // nothing but the records keeps content now
	if _, err := s.Remove(ref, false); err == nil || !strings.Contains(err.Error(), "being used by container c0ffee") {
		t.Fatalf("rmi of an image in use: %v", err)
	}
	res, err := s.Remove(ref, true)
	if err != nil || len(res.Untagged) != 1 || len(res.Deleted) != 0 {
		t.Fatalf("rmi -f: %+v %v", res, err)
	}
	if res, err := s.Prune(true); err != nil || len(res) != 0 {
		t.Fatalf("prune -a of an image in use: %+v %v", res, err)
	}
	if gc, err := e.GC(); err != nil || gc.Blobs != 0 || gc.Layers != 0 {
		t.Fatalf("gc removed %+v %v", gc, err)
	}
	got, err := s.Resolve(img.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	whole(t, s, got)
	if len(got.Names) != 0 {
		t.Errorf("names %v", got.Names)
	}
}

// TestLeaseKeepsContent: what a lease pinned survives GC until the lease
// ends; a lease of a dead process counts for nothing and is removed.
func TestLeaseKeepsContent(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	e := r.open(t)
	img := pull(t, e.Images(), rg.push(t, "lease/a", 1))
	if _, err := e.Images().Remove(img.ID.String(), true); err != nil {
		t.Fatal(err)
	}
	if gc, err := e.GC(); err != nil || gc.Blobs != 0 || gc.Layers != 0 {
		t.Fatalf("gc with the pull's lease: %+v %v", gc, err)
	}
	// A lease file of a process that is gone.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(r.root, "leases", fmt.Sprintf("%d-1-1.json", dead.Process.Pid))
	os.WriteFile(stale, []byte(`{"blobs":["`+img.ID.Hex+`"]}`), 0o600)
	e.ReleaseLease()
	if gc, err := e.GC(); err != nil || gc.Blobs != 3 || gc.Layers != 1 {
		t.Fatalf("gc after release: %+v %v", gc, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale lease kept: %v", err)
	}
}

// TestReconcile: a container recorded as running whose process is gone
// is stopped at the next open, its run root file removed; one whose
// process lives stays running.
func TestReconcile(t *testing.T) {
	r := newRoots(t)
	e := r.open(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { live.Process.Kill(); live.Wait() }()
	liveStart := procStartOf(t, live.Process.Pid)
	for _, c := range []engine.Container{
		{ID: "dead", State: engine.StateRunning, PID: dead.Process.Pid, PIDStart: 12345},
		{ID: "live", State: engine.StateRunning, PID: live.Process.Pid, PIDStart: liveStart},
		{ID: "reused", State: engine.StateRunning, PID: live.Process.Pid, PIDStart: liveStart + 1}, // pid reused
	} {
		if err := e.PutContainer(c); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	e = r.open(t)
	for id, want := range map[string]engine.State{"dead": engine.StateStopped, "live": engine.StateRunning, "reused": engine.StateStopped} {
		c, err := e.GetContainer(id)
		if err != nil || c.State != want {
			t.Errorf("%s: %s %v, want %s", id, c.State, err, want)
		}
		_, err = os.Stat(filepath.Join(r.run, "containers", id))
		if (want == engine.StateRunning) != (err == nil) {
			t.Errorf("%s: run root file: %v", id, err)
		}
	}
	// A run root that was emptied (a reboot) stops every record at the
	// next open: the boot marker is gone. A damaged record does not keep
	// the engine from opening.
	if err := e.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("containers")).Put([]byte("damaged"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	os.RemoveAll(r.run)
	live.Process.Kill()
	live.Wait()
	e = r.open(t)
	if c, _ := e.GetContainer("live"); c.State != engine.StateStopped {
		t.Errorf("after the run root went: %s", c.State)
	}
}

func procStartOf(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var v uint64
	fmt.Sscan(f[19], &v)
	return v
}

// TestPullGCSecondProcess: while a long-lived engine (as `berth serve`)
// pulls a slow image, a second process opens the engine and collects
// garbage over and over and this process does too: no GC is refused,
// the pull completes whole, the garbage goes, and the images that were
// there stay whole.
func TestPullGCSecondProcess(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	serve := r.open(t) // held for the whole test, as a server would
	kept := pull(t, serve.Images(), rg.push(t, "inter/kept", 2))
	garbage := pull(t, serve.Images(), rg.push(t, "inter/garbage", 2))
	slowRef := rg.push(t, "inter/slow", 6)
	if _, err := serve.Images().Remove(garbage.ID.String(), true); err != nil {
		t.Fatal(err)
	}
	serve.ReleaseLease()

	stop := filepath.Join(t.TempDir(), "stop")
	var out, errb bytes.Buffer
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "ENGINE_TEST_CHILD=1", "ENGINE_ROOT="+r.root, "ENGINE_RUNROOT="+r.run, "ENGINE_STOP="+stop)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rg.mu.Lock()
	rg.delay = 60 * time.Millisecond
	rg.mu.Unlock()

	var wg sync.WaitGroup
	var gcErrs []error
	done := make(chan struct{})
	wg.Add(1)
	go func() { // this process's own GCs, through the server's engine
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := serve.GC(); err != nil {
				gcErrs = append(gcErrs, err)
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()
	lease := serve.NewLease() // one lease per operation in a server
	slow, err := distribution.Pull(context.Background(), lease.Images(), slowRef, distribution.Options{Parallel: 2})
	lease.Release()
	close(done)
	wg.Wait()
	os.WriteFile(stop, nil, 0o600)
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("second process: %v: %s", werr, errb.String())
	}
	if err != nil {
		t.Fatalf("pull during GCs: %v", err)
	}
	if len(gcErrs) > 0 {
		t.Fatalf("gc errors: %v", gcErrs)
	}
	t.Logf("second process ran %s GCs", strings.TrimSpace(out.String()))

	s := serve.Images()
	for _, img := range []store.Image{kept, slow} {
		got, err := s.Resolve(img.ID.String())
		if err != nil {
			t.Fatal(err)
		}
		whole(t, s, got)
	}
	for _, l := range garbage.Layers {
		if s.Snapshots().Has(l.DiffID) {
			t.Errorf("garbage layer %s kept", l.DiffID)
		}
	}
	if _, err := os.Stat(s.BlobPath(garbage.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("garbage config kept: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(r.root, "leases")); len(entries) != 0 {
		t.Errorf("leases left: %v", entries)
	}
}

// TestOneCommitPerCommand: what a command writes goes in one metadata
// transaction; reading, opening a current root and GC write none.
func TestOneCommitPerCommand(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	r.open(t).Close() // create the file
	refs := []string{rg.push(t, "batch/a", 3), rg.push(t, "batch/b", 1), rg.push(t, "batch/c", 2)}
	steps := []struct {
		name string
		do   func(e *engine.Engine) error
		want int64
	}{
		{"open", func(*engine.Engine) error { return nil }, 0},
		{"pull", func(e *engine.Engine) error {
			_, err := distribution.Pull(context.Background(), e.Images(), refs[0], distribution.Options{})
			return err
		}, 1},
		{"pull two more", func(e *engine.Engine) error {
			for _, ref := range refs[1:] {
				if _, err := distribution.Pull(context.Background(), e.Images(), ref, distribution.Options{}); err != nil {
					return err
				}
			}
			return nil
		}, 2},
		{"images", func(e *engine.Engine) error { _, err := e.Images().Images(); return err }, 0},
		{"tag", func(e *engine.Engine) error { return e.Images().Tag(refs[0], "other:v1") }, 1},
		{"rmi three", func(e *engine.Engine) error {
			_, errs, err := e.Images().RemoveMany([]string{refs[0], refs[1], "no-such:v1"}, false)
			if err == nil && errs[2] == nil {
				err = errors.New("rmi of a missing image did not fail")
			}
			return err
		}, 1},
		{"prune -a", func(e *engine.Engine) error { _, err := e.Images().Prune(true); return err }, 1},
		{"gc", func(e *engine.Engine) error { _, err := e.GC(); return err }, 0},
	}
	for _, st := range steps {
		e := r.open(t)
		if err := st.do(e); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := engine.Updates(e); got != st.want {
			t.Errorf("%s: %d metadata commits, want %d", st.name, got, st.want)
		}
		e.Close()
	}
	if imgs, _ := r.open(t).Images().Images(); len(imgs) != 0 {
		t.Errorf("%d images left after prune -a", len(imgs))
	}
}

// TestPinImage: a run holds its image through a lease between resolving
// it and recording its container; an rmi meanwhile does not take the
// content from under it.
func TestPinImage(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	e := r.open(t)
	img := pull(t, e.Images(), rg.push(t, "run/a", 2))
	e.ReleaseLease()
	run := e.NewLease()
	if err := run.PinImage(img); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.RemoveImages([]string{img.ID.String()}, true); err != nil {
		t.Fatal(err)
	}
	whole(t, e.Images(), img)
	if err := run.Release(); err != nil {
		t.Fatal(err)
	}
	if gc, err := e.GC(); err != nil || gc.Blobs != 4 || gc.Layers != 2 {
		t.Fatalf("gc after the run's lease ended: %+v %v", gc, err)
	}
}

// TestOpenDropsDeadLeases: opening the engine removes the lease files of
// processes that are gone and keeps those of live ones.
func TestOpenDropsDeadLeases(t *testing.T) {
	r := newRoots(t)
	r.open(t).Close()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.root, "leases")
	deadLease := filepath.Join(dir, fmt.Sprintf("%d-7-1.json", dead.Process.Pid))
	deadTmp := filepath.Join(dir, fmt.Sprintf("%d-7-2.json.tmp", dead.Process.Pid))
	junk := filepath.Join(dir, "junk")
	live := filepath.Join(dir, fmt.Sprintf("%d-%d-99.json", os.Getpid(), procStartOf(t, os.Getpid())))
	// The live one is of this boot: dead leases found at open make it
	// collect garbage, which reads the live ones.
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	for _, p := range []string{deadLease, deadTmp, junk, live} {
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"boot":%q}`, strings.TrimSpace(string(boot)))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.open(t)
	for _, p := range []string{deadLease, deadTmp, junk} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s kept: %v", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live lease removed: %v", err)
	}
}

// BenchmarkOpenAndList: open the engine, list 1,000 images with 1,000
// stopped container records in the store, close (what `berth images`
// does after the process starts; bench/engine-open.sh times the whole
// command).
func BenchmarkOpenAndList(b *testing.B) {
	r := roots{filepath.Join(b.TempDir(), "root"), filepath.Join(b.TempDir(), "run")}
	e, err := engine.Open(engine.Options{Root: r.root, RunRoot: r.run})
	if err != nil {
		b.Fatal(err)
	}
	hash := func(i, kind int) v1.Hash {
		s := sha256.Sum256([]byte(fmt.Sprint(i, kind)))
		return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", s)}
	}
	err = e.Update(func(tx *bolt.Tx) error {
		for i := range 1000 {
			img := store.Image{ID: hash(i, 0), Manifest: hash(i, 1), ManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
				Created: time.Unix(int64(1e9+i), 0), Stored: time.Now(), RepoDigests: []string{fmt.Sprintf("r.example/app%d@%s", i, hash(i, 1))},
				Layers: []store.Layer{{Digest: hash(i, 2), DiffID: hash(i, 3), Size: 1000}, {Digest: hash(i, 4), DiffID: hash(i, 5), Size: 1000}}}
			js, _ := json.Marshal(img)
			v, err := store.CompactRecord(js)
			if err != nil {
				return err
			}
			if err := tx.Bucket([]byte("images")).Put([]byte(img.ID.String()), v); err != nil {
				return err
			}
			if err := tx.Bucket([]byte("names")).Put([]byte(fmt.Sprintf("r.example/app%d:v1", i)), []byte(img.ID.String())); err != nil {
				return err
			}
			c, _ := json.Marshal(engine.Container{ID: fmt.Sprintf("%064x", i), Image: img.ID.String(), State: engine.StateStopped})
			if err := tx.Bucket([]byte("containers")).Put([]byte(fmt.Sprintf("%064x", i)), c); err != nil {
				return err
			}
		}
		return nil
	})
	e.Close()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		e, err := engine.Open(engine.Options{Root: r.root, RunRoot: r.run})
		if err != nil {
			b.Fatal(err)
		}
		imgs, err := e.ListImages(nil)
		if err != nil || len(imgs) != 1000 {
			b.Fatal(len(imgs), err)
		}
		e.Close()
	}
}

// TestServerOperations: one engine serving several operations at once,
// as `berth serve` will: pulls each under its own lease (two of the same
// image) while GCs run; every pull completes whole and no lease is left.
func TestServerOperations(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	e := r.open(t)
	a := rg.push(t, "srv/a", 3)
	refs := []string{a, rg.push(t, "srv/b", 2), rg.push(t, "srv/c", 4), a}
	rg.mu.Lock()
	rg.delay = 20 * time.Millisecond
	rg.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := e.GC(); err != nil {
				errs <- fmt.Errorf("gc: %w", err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var pulls sync.WaitGroup
	results := make([]store.Image, len(refs))
	for i, ref := range refs {
		pulls.Add(1)
		go func() {
			defer pulls.Done()
			l := e.NewLease()
			defer l.Release()
			img, err := distribution.Pull(context.Background(), l.Images(), ref, distribution.Options{})
			if err != nil {
				errs <- fmt.Errorf("pull %s: %w", ref, err)
				return
			}
			results[i] = img
		}()
	}
	pulls.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := e.Images()
	for _, img := range results {
		if got, err := s.Resolve(img.ID.String()); err != nil {
			t.Error(err)
		} else {
			whole(t, s, got)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(r.root, "leases")); len(entries) != 0 {
		t.Errorf("leases left: %v", entries)
	}
}

// TestFirstOpensAtOnce: several processes open a root of the pre-engine
// layout at the same moment; one migrates it, every one sees its images.
func TestFirstOpensAtOnce(t *testing.T) {
	rg := newRegistry(t)
	r := newRoots(t)
	old, err := store.Open(r.root)
	if err != nil {
		t.Fatal(err)
	}
	pull(t, old, rg.push(t, "first/a", 1))
	pull(t, old, rg.push(t, "first/b", 1))
	old.Close()
	var cmds []*exec.Cmd
	outs := make([]*bytes.Buffer, 6)
	for i := range outs {
		outs[i] = &bytes.Buffer{}
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "ENGINE_TEST_CHILD=open", "ENGINE_ROOT="+r.root, "ENGINE_RUNROOT="+r.run)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil || strings.TrimSpace(outs[i].String()) != "2" {
			t.Errorf("process %d: %v: %s", i, err, outs[i])
		}
	}
	if imgs, err := r.open(t).Images().Images(); err != nil || len(imgs) != 2 {
		t.Errorf("after: %d images, %v", len(imgs), err)
	}
}
