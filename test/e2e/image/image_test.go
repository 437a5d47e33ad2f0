// Package image_test drives the berth CLI's image commands end to end, as
// root, against Debian's docker-registry started on 127.0.0.1.
package image_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/test/fixture"
)

// binary is the berth CLI under test.
var binary string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping berth image end-to-end tests: not root")
		return 0
	}
	if _, err := exec.LookPath("docker-registry"); err != nil {
		fmt.Println("berth image end-to-end tests need Debian's docker-registry: apt-get install docker-registry")
		return 1
	}
	// One run root for every berth this test binary starts (each test
	// has its own engine root); the engines it opens itself use it too.
	runRoot, err := os.MkdirTemp("", "berth-e2e-run")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(runRoot)
	os.Setenv("BERTH_RUNROOT", runRoot)
	binary = os.Getenv("BERTH_BINARY")
	if binary == "" {
		dir, err := os.MkdirTemp("", "berth-e2e-bin")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "berth")
		if out, err := exec.Command("go", "build", "-o", binary, "github.com/berth-dev/berth/cmd/berth").CombinedOutput(); err != nil {
			fmt.Printf("build berth: %v\n%s", err, out)
			return 1
		}
	}
	// A berth.toml on the host must not change what these tests see; a
	// test that wants one sets BERTH_CONFIG itself.
	if os.Getenv("BERTH_CONFIG") == "" {
		f, err := os.CreateTemp("", "berth-e2e-*.toml")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		f.Close()
		defer os.Remove(f.Name())
		os.Setenv("BERTH_CONFIG", f.Name())
	}
	return m.Run()
}

// startRegistry runs docker-registry on 127.0.0.1 (test/fixture).
func startRegistry(t *testing.T) string { return fixture.Registry(t) }

// openStore opens the engine at root (as a berth command does) for a
// test to look into its image store.
func openStore(t *testing.T, root string) (*store.Store, *engine.Engine) {
	t.Helper()
	e, err := engine.Open(engine.Options{Root: root, RunRoot: os.Getenv("BERTH_RUNROOT")})
	if err != nil {
		t.Fatal(err)
	}
	return e.Images(), e
}

// berth runs the CLI with its own engine root.
func berth(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	return berthStdin(t, root, nil, args...)
}

// berthStdin runs berth with stdin read from in.
func berthStdin(t *testing.T, root string, in io.Reader, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--root", root}, args...)...)
	cmd.Stdin = in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("berth %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func mustBerth(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := berth(t, root, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randomImage is a linux/amd64 image of random layers.
func randomImage(t *testing.T, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return linuxAMD64(t, img)
}

// linuxAMD64 is img with linux/amd64 in its config (go-containerregistry's
// generated images name no platform).
func linuxAMD64(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// archiveOf writes img as a docker-archive named ref.
func archiveOf(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImageCommands(t *testing.T) {
	reg := startRegistry(t)
	root := t.TempDir()
	img := randomImage(t, 4096, 2)
	id, _ := img.ConfigName()
	ref := reg + "/e2e/rand:v1"

	out := mustBerth(t, root, "load", "-i", archiveOf(t, ref, img))
	if !strings.Contains(out, "Loaded image: "+ref) {
		t.Errorf("load said %q", out)
	}
	mustBerth(t, root, "push", ref)
	mustBerth(t, root, "rmi", ref)
	if out := mustBerth(t, root, "images", "-q"); out != "" {
		t.Fatalf("images after rmi: %q", out)
	}
	for _, d := range []string{"image/blobs/sha256", "snapshots/layers"} {
		if e, _ := os.ReadDir(filepath.Join(root, d)); len(e) != 0 {
			t.Errorf("%s not collected after rmi: %d entries", d, len(e))
		}
	}

	mustBerth(t, root, "pull", ref)
	mustBerth(t, root, "tag", ref, "berth-e2e:latest")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"images", "-q"}, id.Hex[:12] + "\n"},
		{[]string{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "berth-e2e"}, "berth-e2e:latest " + id.Hex[:12] + "\n"},
		{[]string{"image", "inspect", "--format", "{{.Id}} {{.Os}}", "berth-e2e"}, id.String() + " linux\n"},
		{[]string{"images", "--digests", "--format", "{{.Digest}}", reg + "/e2e/rand"}, "sha256:"},
		{[]string{"images"}, "REPOSITORY"},
		{[]string{"images", "--format", "json", "berth-e2e"}, `"Repository":"berth-e2e"`},
	}
	for _, tc := range tests {
		out := mustBerth(t, root, tc.args...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("berth %s = %q, want %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}

	// save two images into one archive and load them into a fresh root,
	// in every format.
	mustBerth(t, root, "import", busyboxTar(t, false), "berth-e2e-second:v2")
	second := strings.TrimSpace(mustBerth(t, root, "image", "inspect", "--format", "{{.Id}}", "berth-e2e-second:v2"))
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	mustBerth(t, root, "save", "-o", saved, "berth-e2e", "berth-e2e-second:v2")
	ociTar := filepath.Join(dir, "oci.tar")
	mustBerth(t, root, "save", "--format", "oci-archive", "-o", ociTar, "berth-e2e", "berth-e2e-second:v2")
	layout := filepath.Join(dir, "layout")
	mustBerth(t, root, "save", "--format", "oci-dir", "-o", layout, "berth-e2e", "berth-e2e-second:v2")
	for _, src := range []string{saved, ociTar, layout} {
		other := t.TempDir()
		mustBerth(t, other, "load", "-i", src)
		if out := mustBerth(t, other, "image", "inspect", "--format", "{{.Id}}", "berth-e2e", "berth-e2e-second:v2"); out != id.String()+"\n"+second+"\n" {
			t.Errorf("after load of %s: %q", src, out)
		}
	}
	mustBerth(t, root, "rmi", "berth-e2e-second:v2")

	// Errors name the image and change nothing.
	if _, err := berth(t, root, "rmi", id.Hex[:12]); err == nil || !strings.Contains(err.Error(), "must be forced") {
		t.Errorf("rmi of a twice named image: %v", err)
	}
	if _, err := berth(t, root, "image", "inspect", "nothere"); err == nil || !strings.Contains(err.Error(), "no such image: nothere") {
		t.Errorf("inspect nothere: %v", err)
	}
	if _, err := berth(t, root, "pull", reg+"/e2e/missing:v1"); err == nil || !strings.Contains(err.Error(), "e2e/missing") {
		t.Errorf("pull of a missing image: %v", err)
	}
	mustBerth(t, root, "rmi", "-f", id.Hex[:12])
	if out := mustBerth(t, root, "images", "-q"); out != "" {
		t.Errorf("images after rmi -f: %q", out)
	}
}

// stallingProxy forwards to the registry but stops every big blob halfway
// until the client goes away.
type stallingProxy struct {
	*httptest.Server
	once    sync.Once
	stalled chan struct{}
}

type stallReader struct {
	r       io.ReadCloser
	n, at   int64
	ctx     context.Context
	reached func()
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.n >= s.at {
		s.reached()
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	if int64(len(p)) > s.at-s.n {
		p = p[:s.at-s.n]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

func (s *stallReader) Close() error { return s.r.Close() }

func newStallingProxy(t *testing.T, registry string) *stallingProxy {
	u, _ := url.Parse("http://" + registry)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &stallingProxy{stalled: make(chan struct{})}
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.Contains(resp.Request.URL.Path, "/blobs/") && resp.Request.Method == http.MethodGet && resp.ContentLength > 1<<20 {
			resp.Body = &stallReader{r: resp.Body, at: resp.ContentLength / 2, ctx: resp.Request.Context(),
				reached: func() { p.once.Do(func() { close(p.stalled) }) }}
		}
		return nil
	}
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

// TestPullKilledHalfway: a pull killed by SIGKILL in the middle of a layer
// leaves a root that the next command cleans and uses.
func TestPullKilledHalfway(t *testing.T) {
	reg := startRegistry(t)
	root := t.TempDir()
	img := randomImage(t, 8<<20, 1)
	ref := reg + "/e2e/big:v1"
	mustBerth(t, root, "load", "-i", archiveOf(t, ref, img))
	mustBerth(t, root, "push", ref)
	mustBerth(t, root, "rmi", ref)

	proxy := newStallingProxy(t, reg)
	proxyHost := strings.TrimPrefix(proxy.URL, "http://")
	cmd := exec.Command(binary, "--root", root, "pull", proxyHost+"/e2e/big:v1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proxy.stalled:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("pull never reached the middle of the layer")
	}
	// Give berth a moment to write what it received.
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if e, _ := os.ReadDir(filepath.Join(root, "image/tmp")); len(e) == 0 {
		t.Error("the killed pull left no partial blob: it was not killed halfway")
	}

	if out := mustBerth(t, root, "images", "-q"); out != "" {
		t.Errorf("half-pulled image listed: %q", out)
	}
	for _, d := range []string{"image/tmp", "snapshots/tmp"} {
		if e, _ := os.ReadDir(filepath.Join(root, d)); len(e) != 0 {
			t.Errorf("%s not cleaned after the killed pull: %v", d, e)
		}
	}
	mustBerth(t, root, "pull", ref)
	id, _ := img.ConfigName()
	if out := mustBerth(t, root, "images", "-q", "--no-trunc"); out != id.String()+"\n" {
		t.Errorf("images after the second pull: %q", out)
	}
}
