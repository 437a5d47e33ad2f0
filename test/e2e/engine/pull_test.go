package engine_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/test/fixture"
)

// The pull policies of run and create (--pull, --platform) against a
// registry of the test's own: Debian's docker-registry on 127.0.0.1 with
// busybox pushed into it, behind a proxy that counts manifest requests.
// Short names reach it only through the test's engine config (--config),
// and every berth command runs with HTTP(S)_PROXY pointed at a trap that
// fails the test if anything tries a registry that is not on loopback.

// pullRegistry runs docker-registry on 127.0.0.1 at a free port, its
// storage in a temporary directory, until the test ends, and pushes the
// test's busybox into it (berth push) as library/busybox:latest (what a
// docker.io mirror serves for "busybox") and busybox:latest (what
// default_registry = HOST makes of it: HOST/busybox, as registry.Qualify
// documents).
func pullRegistry(t *testing.T) string {
	t.Helper()
	addr := fixture.Registry(t)
	// Pushed from a root of its own, with the process-wide empty config:
	// the names are fully qualified.
	src := newHostNetEnv(t, true)
	for _, repo := range []string{"library/busybox", "busybox"} {
		dst := addr + "/" + repo + ":latest"
		src.must("tag", "busybox", dst)
		src.must("push", "-q", "--tls-verify=false", dst)
	}
	return addr
}

// counter is a loopback reverse proxy in front of a registry that counts
// the manifest requests (GET and HEAD) it passes on; stop makes it answer
// 503 to everything, as a registry that went away.
type counter struct {
	*httptest.Server
	mu        sync.Mutex
	manifests int
	down      bool
}

func newCounter(t *testing.T, registry string) *counter {
	t.Helper()
	u, _ := url.Parse("http://" + registry)
	rp := httputil.NewSingleHostReverseProxy(u)
	c := &counter{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		down := c.down
		if strings.Contains(r.URL.Path, "/manifests/") {
			c.manifests++
		}
		c.mu.Unlock()
		if down {
			http.Error(w, "registry down", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *counter) host() string { return strings.TrimPrefix(c.URL, "http://") }

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.manifests
}

func (c *counter) setDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

// trap is the HTTP(S) proxy the berth commands of these tests are given:
// Go never proxies loopback, so only a request for a registry elsewhere
// (docker.io for a short name that escaped the config) reaches it. It
// answers 403 and the test fails.
type trap struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	tr := &trap{}
	tr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.seen = append(tr.seen, r.Method+" "+r.Host+r.URL.Path)
		tr.mu.Unlock()
		http.Error(w, "no public registries in tests", http.StatusForbidden)
	}))
	t.Cleanup(func() {
		tr.Close()
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if len(tr.seen) > 0 {
			t.Errorf("berth tried registries outside the test:\n%s", strings.Join(tr.seen, "\n"))
		}
	})
	return tr
}

// pullEnv is an engine root (empty, or with busybox loaded) whose berth
// commands read the test's config file.
type pullEnv struct {
	*env
	config string
	trap   *trap
}

// registryConfig is a [registry] section for host: the default registry
// of short names, or (mirror) a mirror of docker.io.
func registryConfig(host string, mirror bool) string {
	if mirror {
		return fmt.Sprintf("[registry]\ninsecure_registries = [%q]\n[registry.mirrors]\n\"docker.io\" = [%q]\n", host, host)
	}
	return fmt.Sprintf("[registry]\ndefault_registry = %q\ninsecure_registries = [%q]\n", host, host)
}

// newPullEnv makes the test's engine with config as its berth.toml; an
// empty root unless loaded.
func newPullEnv(t *testing.T, config string, loaded bool) *pullEnv {
	t.Helper()
	// The registry is on the machine's loopback: berth runs there, and
	// its containers get no network (newHostNetEnv).
	e := newHostNetEnv(t, loaded)
	p := &pullEnv{env: e, config: filepath.Join(t.TempDir(), "berth.toml"), trap: newTrap(t)}
	if err := os.WriteFile(p.config, []byte(config+"[network]\ndefault_network = \"none\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// run is berth with the test's config and the trap as proxy.
func (p *pullEnv) run(args ...string) (string, string, int) {
	p.t.Helper()
	cmd := p.cmd(append([]string{"--config", p.config}, args...)...)
	cmd.Env = append(os.Environ(), "HTTP_PROXY="+p.trap.URL, "HTTPS_PROXY="+p.trap.URL,
		"http_proxy="+p.trap.URL, "https_proxy="+p.trap.URL, "NO_PROXY=", "no_proxy=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("berth %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func (p *pullEnv) ok(args ...string) (string, string) {
	p.t.Helper()
	out, errOut, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("berth %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// images lists the root's image names.
func (p *pullEnv) images() []string {
	p.t.Helper()
	out, _ := p.ok("images", "--format", "{{.Repository}}:{{.Tag}}")
	return strings.Fields(out)
}

// containers lists the root's containers.
func (p *pullEnv) containers() []string {
	p.t.Helper()
	out, _ := p.ok("ps", "-aq", "--no-trunc")
	return strings.Fields(out)
}

const notFound = "Unable to find image 'busybox:latest' locally"

// TestPullShortName: `berth run busybox` on an empty root pulls from the
// registry the config names, in both forms, and says so on stderr; the
// second run finds the image.
func TestPullShortName(t *testing.T) {
	reg := pullRegistry(t)
	for _, tc := range []struct {
		name   string
		mirror bool
		image  string // the name the pulled image gets
	}{
		{"DefaultRegistry", false, "/busybox:latest"},
		{"Mirror", true, "busybox:latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCounter(t, reg)
			p := newPullEnv(t, registryConfig(c.host(), tc.mirror), false)
			out, errOut := p.ok("run", "--rm", "busybox", "echo", "hello")
			if strings.TrimSpace(out) != "hello" {
				t.Errorf("stdout %q, want hello", out)
			}
			if !strings.Contains(errOut, notFound) {
				t.Errorf("stderr does not say %q:\n%s", notFound, errOut)
			}
			if c.count() == 0 {
				t.Errorf("no manifest request reached the test's registry")
			}
			want := tc.image
			if !tc.mirror {
				want = c.host() + tc.image
			}
			if imgs := p.images(); len(imgs) != 1 || imgs[0] != want {
				t.Errorf("images %v, want [%s]", imgs, want)
			}
			n := c.count()
			out, errOut = p.ok("run", "--rm", "busybox", "echo", "again")
			if strings.TrimSpace(out) != "again" || strings.Contains(errOut, "Unable to find") {
				t.Errorf("second run: stdout %q, stderr %q", out, errOut)
			}
			if c.count() != n {
				t.Errorf("second run asked the registry for manifests again")
			}
			if ids := p.containers(); len(ids) != 0 {
				t.Errorf("--rm left %v", ids)
			}
		})
	}
}

// TestPullMissing: the default policy, and --pull missing, do not touch
// the registry when the image is there (not even when it is down), for
// run and for create.
func TestPullMissing(t *testing.T) {
	reg := pullRegistry(t)
	c := newCounter(t, reg)
	p := newPullEnv(t, registryConfig(c.host(), false), false)
	p.ok("create", "busybox")
	if c.count() == 0 {
		t.Fatal("create on an empty root did not pull")
	}
	n := c.count()
	for _, args := range [][]string{
		{"run", "--rm", "busybox", "true"},
		{"run", "--rm", "--pull", "missing", "busybox", "true"},
		{"run", "--rm", "--pull=missing", "busybox:latest", "true"},
		{"create", "--pull", "missing", "busybox"},
	} {
		_, errOut := p.ok(args...)
		if strings.Contains(errOut, "Unable to find") {
			t.Errorf("%v: %s", args, errOut)
		}
	}
	c.setDown(true)
	p.ok("run", "--rm", "busybox", "true")
	if c.count() != n {
		t.Errorf("--pull missing with the image present made %d manifest requests", c.count()-n)
	}
}

// pushVariant writes a variant of the registry's busybox to both its
// repositories: another CMD (echo LABEL) and a label, so a container tells which one
// it was made from.
func pushVariant(t *testing.T, reg, cmdLine, label string) v1.Hash {
	t.Helper()
	src, err := name.ParseReference(reg+"/busybox:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Cmd = []string{"sh", "-c", cmdLine}
	cfg.Labels = map[string]string{"variant": label}
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"busybox", "library/busybox"} {
		dst, err := name.ParseReference(reg+"/"+repo+":latest", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(dst, img); err != nil {
			t.Fatal(err)
		}
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPullAlways: --pull always asks the registry even with the image
// present, picks up a new image pushed under the same tag (and the tag
// moves to it), and fails when the registry cannot be reached.
func TestPullAlways(t *testing.T) {
	reg := pullRegistry(t)
	for _, mirror := range []bool{false, true} {
		t.Run(fmt.Sprintf("mirror=%v", mirror), func(t *testing.T) {
			c := newCounter(t, reg)
			p := newPullEnv(t, registryConfig(c.host(), mirror), false)
			p.ok("run", "--rm", "busybox", "true")
			n := c.count()
			out, errOut := p.ok("run", "--rm", "--pull", "always", "busybox", "echo", "same")
			if strings.TrimSpace(out) != "same" {
				t.Errorf("stdout %q", out)
			}
			if c.count() == n {
				t.Errorf("--pull always made no manifest request")
			}
			if strings.Contains(errOut, "Unable to find") {
				t.Errorf("--pull always with the image present says: %s", errOut)
			}

			label := fmt.Sprintf("second-%v", mirror)
			id := pushVariant(t, reg, "echo "+label, label)
			// missing keeps the old one...
			if out, _ := p.ok("run", "--rm", "busybox"); strings.TrimSpace(out) == label {
				t.Errorf("--pull missing ran %q: it pulled the new image", out)
			}
			// ...always takes the new one...
			out, _ = p.ok("run", "--pull", "always", "--name", "second", "busybox")
			if strings.TrimSpace(out) != label {
				t.Errorf("--pull always ran %q, want the new image's CMD", out)
			}
			in := p.inspect("second")
			if in.Config.Labels["variant"] != label {
				t.Errorf("container labels %v, want variant=%s", in.Config.Labels, label)
			}
			imgID, _ := p.ok("inspect", "--format", "{{.Image}}", "second")
			if strings.TrimSpace(imgID) != id.String() {
				t.Errorf("container image %s, want %s", strings.TrimSpace(imgID), id)
			}
			// ...and the name now means the new one.
			out, _ = p.ok("run", "--rm", "--pull", "never", "busybox")
			if strings.TrimSpace(out) != label {
				t.Errorf("after --pull always, busybox runs %q, want the new image", out)
			}

			// always fails when the registry is gone, image or not. (A
			// docker.io mirror that fails is followed by docker.io
			// itself, as in Docker: not here.)
			if mirror {
				return
			}
			c.setDown(true)
			before := p.containers()
			_, errOut, code := p.run("run", "--rm", "--pull", "always", "busybox", "true")
			t.Logf("--pull always, registry down: %s", errOut)
			if code != 125 || errOut == "" {
				t.Errorf("--pull always, registry down: exit %d, %q", code, errOut)
			}
			if after := p.containers(); len(after) != len(before) {
				t.Errorf("a failed --pull always left containers: %v, was %v", after, before)
			}
		})
	}
}

// TestPullNever: --pull never with the image missing fails as Docker
// does (125, "No such image") and changes nothing; with it present it
// runs without asking the registry.
func TestPullNever(t *testing.T) {
	reg := pullRegistry(t)
	c := newCounter(t, reg)
	p := newPullEnv(t, registryConfig(c.host(), false), false)
	for _, cmd := range []string{"run", "create"} {
		_, errOut, code := p.run(cmd, "--pull", "never", "--name", "nope", "busybox", "true")
		t.Logf("%s --pull never: %s", cmd, errOut)
		if code != 125 || !strings.Contains(strings.ToLower(errOut), "no such image") {
			t.Errorf("%s --pull never, no image: exit %d, %q; want 125, no such image", cmd, code, errOut)
		}
		if strings.Contains(errOut, "Unable to find") {
			t.Errorf("%s --pull never says it pulls: %s", cmd, errOut)
		}
	}
	if c.count() != 0 {
		t.Errorf("--pull never made %d manifest requests", c.count())
	}
	if ids := p.containers(); len(ids) != 0 {
		t.Errorf("--pull never left containers %v", ids)
	}
	if imgs := p.images(); len(imgs) != 0 {
		t.Errorf("--pull never left images %v", imgs)
	}
	// The name is still free.
	if _, errOut, code := p.run("run", "--pull", "never", "--name", "nope", "busybox", "true"); code != 125 ||
		strings.Contains(errOut, "in use") {
		t.Errorf("the name of a failed create: exit %d, %q", code, errOut)
	}

	p.ok("pull", "busybox")
	n := c.count()
	c.setDown(true)
	out, _ := p.ok("run", "--rm", "--pull", "never", "busybox", "echo", "local")
	if strings.TrimSpace(out) != "local" || c.count() != n {
		t.Errorf("--pull never with the image: stdout %q, %d manifest requests", out, c.count()-n)
	}
}

// TestPullBadValue: an unknown --pull is Docker's 125 before anything is
// looked up or made.
func TestPullBadValue(t *testing.T) {
	p := newPullEnv(t, "", true)
	for _, cmd := range []string{"run", "create"} {
		for _, v := range []string{"sometimes", "Always", "true"} {
			_, errOut, code := p.run(cmd, "--pull", v, "busybox", "true")
			t.Logf("%s --pull %s: %s", cmd, v, errOut)
			if code != 125 || !strings.Contains(errOut, "pull") {
				t.Errorf("%s --pull %q: exit %d, %q; want 125 naming --pull", cmd, v, code, errOut)
			}
		}
	}
	if ids := p.containers(); len(ids) != 0 {
		t.Errorf("bad --pull left containers %v", ids)
	}
}

// pushIndex writes the registry's busybox as the only entry of an image
// index, linux/amd64, to busybox:multi.
func pushIndex(t *testing.T, reg string) {
	t.Helper()
	src, err := name.ParseReference(reg+"/busybox:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        img,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
	})
	dst, err := name.ParseReference(reg+"/busybox:multi", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(dst, idx); err != nil {
		t.Fatal(err)
	}
}

// TestPullPlatform: --platform linux/amd64 pulls and runs the amd64
// image; linux/arm64, which the registry does not have, is a 125 that
// says so and leaves nothing behind.
func TestPullPlatform(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the test's busybox is amd64 only on amd64 hosts")
	}
	reg := pullRegistry(t)
	pushIndex(t, reg)
	c := newCounter(t, reg)
	cfg := registryConfig(c.host(), false)

	t.Run("amd64", func(t *testing.T) {
		p := newPullEnv(t, cfg, false)
		for _, ref := range []string{"busybox", "busybox:multi"} {
			out, _ := p.ok("run", "--rm", "--platform", "linux/amd64", ref, "echo", "amd64")
			if strings.TrimSpace(out) != "amd64" {
				t.Errorf("%s: stdout %q", ref, out)
			}
		}
	})
	for _, ref := range []string{"busybox:multi", "busybox"} {
		t.Run("arm64/"+ref, func(t *testing.T) {
			if ref == "busybox" {
				// A single-platform manifest (no index) is stored and run
				// whatever --platform asked for (image/distribution's
				// pullFrom checks the platform of index entries only).
			}
			p := newPullEnv(t, cfg, false)
			_, errOut, code := p.run("run", "--rm", "--platform", "linux/arm64", ref, "true")
			t.Logf("%s --platform linux/arm64: %s", ref, errOut)
			if code != 125 || !strings.Contains(errOut, "linux/arm64") {
				t.Errorf("%s --platform linux/arm64: exit %d, %q; want 125 naming linux/arm64", ref, code, errOut)
			}
			if imgs := p.images(); len(imgs) != 0 {
				t.Errorf("%s: a failed pull left images %v", ref, imgs)
			}
			if ids := p.containers(); len(ids) != 0 {
				t.Errorf("%s: a failed pull left containers %v", ref, ids)
			}
		})
	}
	t.Run("LocalOtherPlatform", func(t *testing.T) {
		// The amd64 image is there: asking for arm64 must not run it
		// (Docker pulls then, and here the pull fails).
		p := newPullEnv(t, cfg, false)
		p.ok("pull", "busybox:multi")
		_, errOut, code := p.run("run", "--rm", "--platform", "linux/arm64", "busybox:multi", "true")
		t.Logf("--platform linux/arm64, local amd64: %s", errOut)
		if code != 125 || !strings.Contains(errOut, "linux/arm64") {
			t.Errorf("--platform linux/arm64 with a local amd64 image: exit %d, %q; want 125 naming linux/arm64", code, errOut)
		}
		_, errOut, code = p.run("run", "--rm", "--pull", "never", "--platform", "linux/arm64", "busybox:multi", "true")
		t.Logf("--pull never --platform linux/arm64, local amd64: %s", errOut)
		if code != 125 || !strings.Contains(errOut, "linux/arm64") {
			t.Errorf("--pull never --platform linux/arm64 with a local amd64 image: exit %d, %q", code, errOut)
		}
		if out, _ := p.ok("run", "--rm", "--pull", "never", "--platform", "linux/amd64", "busybox:multi", "echo", "ok"); strings.TrimSpace(out) != "ok" {
			t.Errorf("--pull never --platform linux/amd64: %q", out)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		// v1.ParsePlatform takes "linux/" as OS linux with no
		// architecture; Docker refuses an empty component.
		p := newPullEnv(t, cfg, true)
		_, errOut, code := p.run("run", "--rm", "--platform", "linux/", "busybox", "true")
		if code != 125 || !strings.Contains(errOut, "--platform") {
			t.Errorf("--platform linux/: exit %d, %q", code, errOut)
		}
	})
}
