package image_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushImage loads img into a scratch root and pushes it to ref.
func pushImage(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	seed := t.TempDir()
	mustBerth(t, seed, "load", "-i", archiveOf(t, ref, img))
	mustBerth(t, seed, "push", "--tls-verify=false", ref)
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// imageOn is a linux/amd64 image of the given layers.
func imageOn(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return linuxAMD64(t, img)
}

func randomLayer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// checkStore checks a root no berth process is using: every listed image
// has its manifest, config and layer blobs with the content their names
// say, every layer unpacked; every blob file hashes to its name; nothing
// is left in the tmp dirs. It returns the image IDs.
func checkStore(t *testing.T, root string) []string {
	t.Helper()
	s, e := openStore(t, root) // alone: cleans what killed processes left
	defer e.Close()
	images, err := s.Images()
	if err != nil {
		t.Fatalf("list images: %v", err)
	}
	var ids []string
	for _, img := range images {
		ids = append(ids, img.ID.String())
		need := []v1.Hash{img.ID, img.Manifest}
		for _, l := range img.Layers {
			need = append(need, l.Digest)
			if !s.Snapshots().Has(l.DiffID) {
				t.Errorf("image %s: layer %s not unpacked", img.ID, l.DiffID)
			}
		}
		for _, h := range need {
			if !s.HasBlob(h) {
				t.Errorf("image %s: blob %s missing", img.ID, h)
			}
		}
	}
	dir := filepath.Join(root, "image/blobs/sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != e.Name() {
			t.Errorf("blob %s holds content %s", e.Name(), got)
		}
	}
	for _, d := range []string{"image/tmp", "snapshots/tmp"} {
		if e, _ := os.ReadDir(filepath.Join(root, d)); len(e) != 0 {
			t.Errorf("%s not empty: %v", d, e)
		}
	}
	sort.Strings(ids)
	return ids
}

// TestConcurrentCommands: several berth processes pull the same and
// different images, tag, remove and list at once; every pull succeeds,
// every other failure is a clean "no such image", and the store stays
// whole.
func TestConcurrentCommands(t *testing.T) {
	reg := startRegistry(t)
	base := randomLayer(t, 2<<20)
	refs := map[string]v1.Hash{}
	for i, name := range []string{"a", "b", "c"} {
		ref := fmt.Sprintf("%s/conc/%s:v1", reg, name)
		// a and b share their base layer; c has its own.
		layers := []v1.Layer{base, randomLayer(t, int64(256<<10*(i+1)))}
		if name == "c" {
			layers[0] = randomLayer(t, 1<<20)
		}
		refs[ref] = pushImage(t, ref, imageOn(t, layers...))
	}
	a, b, c := reg+"/conc/a:v1", reg+"/conc/b:v1", reg+"/conc/c:v1"

	root := t.TempDir()
	type result struct {
		args []string
		err  error
	}
	results := make(chan result, 100)
	var wg sync.WaitGroup
	run := func(args ...string) {
		_, err := berth(t, root, args...)
		results <- result{args, err}
	}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 3 {
				tag := fmt.Sprintf("local/w%d:r%d", w, round)
				switch w % 3 {
				case 0:
					run("pull", "--tls-verify=false", a)
					run("tag", a, tag)
					run("images")
					run("rmi", tag)
				case 1:
					run("pull", "--tls-verify=false", b)
					run("pull", "--tls-verify=false", a)
					run("images", "-q")
				case 2:
					run("pull", "--tls-verify=false", c)
					run("rmi", c)
					run("pull", "--tls-verify=false", c)
					run("rmi", "-f", tag)
				}
			}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err == nil {
			continue
		}
		// rmi of a name another worker removed first, or never made.
		if (r.args[0] == "rmi" || r.args[0] == "tag") && strings.Contains(r.err.Error(), "no such image") {
			continue
		}
		t.Errorf("%v", r.err)
	}

	// The store is whole, lists a, b and c, and each is usable.
	ids := checkStore(t, root)
	var want []string
	for _, id := range refs {
		want = append(want, id.String())
	}
	sort.Strings(want)
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("images %v, want %v", ids, want)
	}
	out := mustBerth(t, root, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	for _, ref := range []string{a, b, c} {
		if !strings.Contains(out, ref+" "+refs[ref].String()) {
			t.Errorf("images lacks %s %s:\n%s", ref, refs[ref], out)
		}
	}
	if strings.Contains(out, "local/") {
		t.Errorf("a removed tag is still listed:\n%s", out)
	}
	// Removing everything and collecting leaves an empty store.
	mustBerth(t, root, "rmi", a, b, c)
	mustBerth(t, root, "image", "prune", "-a", "-f")
	if ids := checkStore(t, root); len(ids) != 0 {
		t.Errorf("images left: %v", ids)
	}
	for _, d := range []string{"image/blobs/sha256", "snapshots/layers"} {
		if e, _ := os.ReadDir(filepath.Join(root, d)); len(e) != 0 {
			t.Errorf("%s not empty after prune: %d entries", d, len(e))
		}
	}
}

// gate is a loopback proxy in front of the registry that holds one
// blob's download halfway until released, and counts blob GETs.
type gate struct {
	*httptest.Server
	hold    string // digest to hold, "" for none
	release chan struct{}
	held    chan struct{}
	once    sync.Once
	// pace slows every blob body (bytes per 10 ms; 0: full speed).
	pace int

	mu   sync.Mutex
	gets map[string]int
}

func newGate(t *testing.T, registry, hold string, pace int) *gate {
	u, _ := url.Parse("http://" + registry)
	rp := httputil.NewSingleHostReverseProxy(u)
	g := &gate{hold: hold, release: make(chan struct{}), held: make(chan struct{}), pace: pace, gets: map[string]int{}}
	rp.ModifyResponse = func(resp *http.Response) error {
		req := resp.Request
		i := strings.Index(req.URL.Path, "/blobs/")
		if i < 0 || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
			return nil
		}
		digest := req.URL.Path[i+len("/blobs/"):]
		g.mu.Lock()
		g.gets[digest]++
		g.mu.Unlock()
		resp.Body = &gatedBody{r: resp.Body, g: g, ctx: req.Context(), held: digest == g.hold, half: resp.ContentLength / 2}
		return nil
	}
	g.Server = httptest.NewServer(rp)
	t.Cleanup(func() {
		g.open()
		g.Close()
	})
	return g
}

func (g *gate) open() {
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

func (g *gate) count(digest string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gets[digest]
}

func (g *gate) host() string { return strings.TrimPrefix(g.URL, "http://") }

type gatedBody struct {
	r       io.ReadCloser
	g       *gate
	ctx     context.Context
	held    bool
	n, half int64
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.held && b.n >= b.half {
		b.g.once.Do(func() { close(b.g.held) })
		select {
		case <-b.g.release:
			b.held = false
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
	if b.held && int64(len(p)) > b.half-b.n {
		p = p[:b.half-b.n]
	}
	if b.g.pace > 0 {
		if len(p) > b.g.pace {
			p = p[:b.g.pace]
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *gatedBody) Close() error { return b.r.Close() }

// TestLongPullDoesNotBlock: while one process's pull is stuck in the
// middle of a layer, other processes list, pull other images, tag,
// remove and prune everything (a GC that finds the pull's content leased
// and keeps it); then the pull completes whole.
func TestLongPullDoesNotBlock(t *testing.T) {
	reg := startRegistry(t)
	big := randomLayer(t, 4<<20)
	bigDigest, _ := big.Digest()
	slowID := pushImage(t, reg+"/long/slow:v1", imageOn(t, big))
	pushImage(t, reg+"/long/other:v1", imageOn(t, randomLayer(t, 512<<10)))

	g := newGate(t, reg, bigDigest.String(), 0)
	root := t.TempDir()
	slow := exec.Command(binary, "--root", root, "pull", "--tls-verify=false", g.host()+"/long/slow:v1")
	var slowOut strings.Builder
	slow.Stdout, slow.Stderr = &slowOut, &slowOut
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		slow.Process.Kill()
		slow.Wait()
	})
	select {
	case <-g.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the pull never reached the middle of its layer")
	}

	start := time.Now()
	for _, args := range [][]string{
		{"images"},
		{"pull", "--tls-verify=false", reg + "/long/other:v1"},
		{"tag", reg + "/long/other:v1", "mine:1"},
		{"images", "-q"},
		{"rmi", "mine:1"},
		{"image", "prune", "-a"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, binary, append([]string{"--root", root}, args...)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("berth %v during the long pull: %v\n%s", args, err, out)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("commands took %v while a pull was held: blocked?", d)
	}
	if out := mustBerth(t, root, "images", "--format", "{{.Repository}}"); out != "" {
		t.Errorf("images left after prune -a (or the unfinished one listed):\n%s", out)
	}

	g.open()
	if err := slow.Wait(); err != nil {
		t.Fatalf("the held pull failed once released: %v\n%s", err, slowOut.String())
	}
	if out := mustBerth(t, root, "images", "-q", "--no-trunc"); !strings.Contains(out, slowID.String()) {
		t.Errorf("the released pull's image is missing:\n%s", out)
	}
	checkStore(t, root)
}

// TestSharedBlobFetchedOnce: two processes pull two images that share a
// large base layer at the same time into one root; the registry sees that
// layer downloaded once (per-blob locks), and both images are whole.
func TestSharedBlobFetchedOnce(t *testing.T) {
	reg := startRegistry(t)
	base := randomLayer(t, 4<<20)
	baseDigest, _ := base.Digest()
	id1 := pushImage(t, reg+"/shared/one:v1", imageOn(t, base, randomLayer(t, 64<<10)))
	id2 := pushImage(t, reg+"/shared/two:v1", imageOn(t, base, randomLayer(t, 64<<10)))

	// Paced so the two pulls overlap: 4 MB at 256 kB per 10 ms ≈ 0.2 s.
	g := newGate(t, reg, "", 256<<10)
	root := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"one", "two"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = berth(t, root, "pull", "--tls-verify=false", g.host()+"/shared/"+name+":v1")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := g.count(baseDigest.String()); n != 1 {
		t.Errorf("shared layer %s fetched %d times, want 1", baseDigest, n)
	}
	ids := checkStore(t, root)
	want := []string{id1.String(), id2.String()}
	sort.Strings(want)
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("images %v, want %v", ids, want)
	}
}
