package image_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/crypto/bcrypt"
)

// registrySetup is how startRegistryWith configures docker-registry.
type registrySetup struct {
	// certFile/keyFile turn on TLS.
	certFile, keyFile string
	// htpasswd turns on basic auth with this htpasswd file.
	htpasswd string
	// token turns on bearer token auth (YAML lines under auth.token).
	token string
}

// startRegistryWith runs docker-registry on 127.0.0.1 at a free port with
// its config and storage in a temporary directory, stopped at test end.
func startRegistryWith(t *testing.T, rs registrySetup) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), addr)
	if rs.certFile != "" {
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", rs.certFile, rs.keyFile)
	}
	switch {
	case rs.htpasswd != "":
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-e2e\n    path: %s\n", rs.htpasswd)
	case rs.token != "":
		cfg += "auth:\n  token:\n" + rs.token
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	scheme := "http"
	client := &http.Client{Timeout: 2 * time.Second}
	if rs.certFile != "" {
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := client.Get(scheme + "://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			// 401: up, asking for credentials.
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not start: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "berth e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverCert issues a certificate for 127.0.0.1 and writes it and its key
// into dir.
func (ca *testCA) serverCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// isolate points the credentials file and the certs.d directory of every
// berth the test runs at fresh temporary directories.
func isolate(t *testing.T) (dockerConfig, certsDir string) {
	t.Helper()
	dockerConfig, certsDir = t.TempDir(), t.TempDir()
	t.Setenv("DOCKER_CONFIG", dockerConfig)
	t.Setenv("BERTH_CERTS_DIR", certsDir)
	return dockerConfig, certsDir
}

// pushRandom loads a random image named ref into a fresh root and pushes
// it (with extra push flags); it returns the image ID.
func pushRandom(t *testing.T, ref string, flags ...string) string {
	t.Helper()
	root := t.TempDir()
	img := randomImage(t, 2048, 1)
	mustBerth(t, root, "load", "-i", archiveOf(t, ref, img))
	mustBerth(t, root, append(append([]string{"push"}, flags...), ref)...)
	id, _ := img.ConfigName()
	return id.String()
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	t.Logf("error as expected: %v", err)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func TestRegistryTLS(t *testing.T) {
	_, certsDir := isolate(t)
	ca := newTestCA(t)
	certFile, keyFile := ca.serverCert(t, t.TempDir())
	reg := startRegistryWith(t, registrySetup{certFile: certFile, keyFile: keyFile})
	ref := reg + "/e2e/tls:v1"

	// No CA: verification fails with an x509 error naming the image.
	root := t.TempDir()
	img := randomImage(t, 2048, 1)
	id, _ := img.ConfigName()
	mustBerth(t, root, "load", "-i", archiveOf(t, ref, img))
	_, err := berth(t, root, "push", ref)
	wantErr(t, err, "push "+ref, "x509", "--tls-verify=false", filepath.Join(certsDir, reg, "ca.crt"))

	// --tls-verify=false works without the CA.
	mustBerth(t, root, "push", "--tls-verify=false", ref)
	other := t.TempDir()
	_, err = berth(t, other, "pull", ref)
	wantErr(t, err, "pull "+ref, "x509")
	mustBerth(t, other, "pull", "--tls-verify=false", ref)
	if out := mustBerth(t, other, "images", "-q", "--no-trunc"); out != id.String()+"\n" {
		t.Errorf("images after pull --tls-verify=false: %q", out)
	}

	// With the CA in certs.d/HOST:PORT/ca.crt, verification passes.
	if err := os.MkdirAll(filepath.Join(certsDir, reg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certsDir, reg, "ca.crt"), ca.certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	third := t.TempDir()
	mustBerth(t, third, "pull", ref)
	mustBerth(t, third, "tag", ref, reg+"/e2e/tls:v2")
	mustBerth(t, third, "push", reg+"/e2e/tls:v2")

	// A CA file that holds no certificate is a clear error too.
	if err := os.WriteFile(filepath.Join(certsDir, reg, "ca.crt"), []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = berth(t, t.TempDir(), "pull", ref)
	wantErr(t, err, "no PEM certificate", "ca.crt")
}

// TestRegistryConfigInsecure: a registry listed in ROOT/registries.json as
// insecure is reached without its CA and without --tls-verify=false.
func TestRegistryConfigInsecure(t *testing.T) {
	isolate(t)
	ca := newTestCA(t)
	certFile, keyFile := ca.serverCert(t, t.TempDir())
	reg := startRegistryWith(t, registrySetup{certFile: certFile, keyFile: keyFile})
	ref := reg + "/e2e/insecure:v1"
	id := pushRandom(t, ref, "--tls-verify=false")

	root := t.TempDir()
	writeRegistries(t, root, map[string]any{"insecure-registries": []string{reg}})
	mustBerth(t, root, "pull", ref)
	if out := mustBerth(t, root, "images", "-q", "--no-trunc"); out != id+"\n" {
		t.Errorf("images: %q", out)
	}
	// An address range works too.
	root2 := t.TempDir()
	writeRegistries(t, root2, map[string]any{"insecure-registries": []string{"127.0.0.0/8"}})
	mustBerth(t, root2, "pull", ref)

	// A misspelt key is refused rather than ignored.
	root3 := t.TempDir()
	writeRegistries(t, root3, map[string]any{"insecure-registry": []string{reg}})
	_, err := berth(t, root3, "pull", ref)
	wantErr(t, err, "registries.json", "insecure-registry")
}

// TestRegistryConfigTOML: the engine config's [registry] section works as
// registries.json does, and both files apply together.
func TestRegistryConfigTOML(t *testing.T) {
	isolate(t)
	ca := newTestCA(t)
	certFile, keyFile := ca.serverCert(t, t.TempDir())
	reg := startRegistryWith(t, registrySetup{certFile: certFile, keyFile: keyFile})
	plain := startRegistryWith(t, registrySetup{})
	id := pushRandom(t, reg+"/e2e/toml:v1", "--tls-verify=false")
	shortID := pushRandom(t, plain+"/e2e/short:v1")

	// berth.toml lists the TLS registry as insecure; registries.json
	// names the default registry for short names.
	conf := filepath.Join(t.TempDir(), "berth.toml")
	doc := fmt.Sprintf("[registry]\ninsecure_registries = [%q]\n", reg)
	if err := os.WriteFile(conf, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_CONFIG", conf)
	root := t.TempDir()
	writeRegistries(t, root, map[string]any{"default-registry": plain})
	mustBerth(t, root, "pull", reg+"/e2e/toml:v1")
	mustBerth(t, root, "pull", "e2e/short:v1")
	out := mustBerth(t, root, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	for _, want := range []string{reg + "/e2e/toml:v1 " + id, plain + "/e2e/short:v1 " + shortID} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("images lacks %q:\n%s", want, out)
		}
	}
	out = mustBerth(t, root, "info", "--format", `{{.Registry.DefaultRegistry}} {{.Source "registry.default_registry"}}`)
	if want := plain + " file " + filepath.Join(root, "registries.json") + "\n"; out != want {
		t.Errorf("info: %q, want %q", out, want)
	}

	// Without the TOML file the TLS registry is refused again.
	t.Setenv("BERTH_CONFIG", os.DevNull)
	if _, err := berth(t, t.TempDir(), "pull", reg+"/e2e/toml:v1"); err == nil {
		t.Error("pull from a registry with an unknown CA worked without insecure_registries")
	}

	// A misspelt key is refused, naming the file, line and key.
	if err := os.WriteFile(conf, []byte("[registry]\ninsecure_registry = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_CONFIG", conf)
	_, err := berth(t, root, "pull", reg+"/e2e/toml:v1")
	wantErr(t, err, conf+":2:1: registry.insecure_registry: unknown key")
}

func writeRegistries(t *testing.T, root string, cfg map[string]any) {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "registries.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryDefaultAndMirror: short names go to the default registry; a
// mirror is tried first and the registry itself when the mirror fails.
func TestRegistryDefaultAndMirror(t *testing.T) {
	isolate(t)
	origin := startRegistryWith(t, registrySetup{})
	mirror := startRegistryWith(t, registrySetup{})

	// busybox on the default registry.
	bbID := pushRandom(t, origin+"/busybox:latest")
	root := t.TempDir()
	writeRegistries(t, root, map[string]any{
		"default-registry": origin,
		"registry-mirrors": map[string][]string{origin: {mirror}},
	})
	out := mustBerth(t, root, "pull", "busybox")
	if !strings.Contains(out, "Mirror "+mirror+" failed") {
		t.Errorf("pull did not try the mirror first: %q", out)
	}
	if out := mustBerth(t, root, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); out != origin+"/busybox:latest "+bbID[7:19]+"\n" {
		t.Errorf("images after pull busybox: %q", out)
	}

	// The short name finds what the pull stored under the default
	// registry's name, in every command that takes an image; tags made
	// with short names are qualified the same way.
	if out := mustBerth(t, root, "image", "inspect", "--format", "{{.Id}}", "busybox"); out != bbID+"\n" {
		t.Errorf("inspect busybox: %q", out)
	}
	mustBerth(t, root, "tag", "busybox", "mine:v1")
	if out := mustBerth(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=*/mine"); out != origin+"/mine:v1\n" {
		t.Errorf("tag busybox mine:v1 made %q", out)
	}
	mustBerth(t, root, "history", "busybox")
	if out := mustBerth(t, root, "rmi", "mine:v1"); !strings.Contains(out, "Untagged: "+origin+"/mine:v1") {
		t.Errorf("rmi mine:v1 said %q", out)
	}

	// An image only the mirror has comes from the mirror, named after
	// the registry that was asked for.
	mirroredID := pushRandom(t, mirror+"/e2e/mirrored:v1")
	out = mustBerth(t, root, "pull", origin+"/e2e/mirrored:v1")
	if strings.Contains(out, "failed") {
		t.Errorf("pull through the mirror: %q", out)
	}
	if out := mustBerth(t, root, "image", "inspect", "--format", "{{.Id}}", origin+"/e2e/mirrored:v1"); out != mirroredID+"\n" {
		t.Errorf("mirrored image: %q", out)
	}
	// Push goes to the registry, never to a mirror; short names too.
	mustBerth(t, root, "tag", origin+"/e2e/mirrored:v1", "pushed:v1")
	mustBerth(t, root, "push", "pushed:v1", "short:v1")
	resp, err := http.Get("http://" + origin + "/v2/short/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("push short:v1 did not reach the default registry: %s", resp.Status)
	}
}

// newHtpasswd writes an htpasswd file (bcrypt, as docker-registry needs).
func newHtpasswd(t *testing.T, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(user+":"+string(h)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type dockerConfigFile struct {
	Auths map[string]struct {
		Auth string `json:"auth"`
	} `json:"auths"`
}

func readDockerConfig(t *testing.T, dir string) (dockerConfigFile, os.FileMode) {
	t.Helper()
	var cf dockerConfigFile
	p := filepath.Join(dir, "config.json")
	fi, err := os.Stat(p)
	if os.IsNotExist(err) {
		return cf, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatalf("config.json: %v\n%s", err, b)
	}
	return cf, fi.Mode().Perm()
}

// loginFlow runs the login/logout checks against a registry that wants
// user:password (basic or token auth).
func loginFlow(t *testing.T, reg, user, password string) {
	dockerConfig, _ := isolate(t)
	ref := reg + "/e2e/private:v1"
	root := t.TempDir()
	img := randomImage(t, 2048, 1)
	id, _ := img.ConfigName()
	mustBerth(t, root, "load", "-i", archiveOf(t, ref, img))

	// Without credentials: a clear 401 naming the image.
	_, err := berth(t, root, "push", ref)
	wantErr(t, err, "push "+ref, "401", "berth login "+reg)

	// A wrong password: refused, config untouched.
	_, err = berth(t, root, "login", "-u", user, "-p", "wrong", reg)
	wantErr(t, err, "login "+reg, "incorrect username or password")
	if _, mode := readDockerConfig(t, dockerConfig); mode != 0 {
		t.Fatalf("a failed login wrote config.json")
	}

	cmd := exec.Command(binary, "--root", root, "login", "-u", user, "--password-stdin", "http://"+reg+"/")
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Login Succeeded") {
		t.Fatalf("login: %v: %s", err, out)
	}
	cf, mode := readDockerConfig(t, dockerConfig)
	if mode != 0o600 {
		t.Errorf("config.json mode %o, want 600", mode)
	}
	if got, want := cf.Auths[reg].Auth, base64.StdEncoding.EncodeToString([]byte(user+":"+password)); got != want {
		t.Errorf("auths[%s].auth = %q, want %q (all: %+v)", reg, got, want, cf.Auths)
	}
	before, _ := os.ReadFile(filepath.Join(dockerConfig, "config.json"))
	// A wrong password later leaves the good login alone.
	_, err = berth(t, root, "login", "-u", user, "-p", "wrong", reg)
	wantErr(t, err, "incorrect username or password")
	if after, _ := os.ReadFile(filepath.Join(dockerConfig, "config.json")); !bytes.Equal(before, after) {
		t.Errorf("a failed login changed config.json:\n%s\n%s", before, after)
	}

	mustBerth(t, root, "push", ref)
	other := t.TempDir()
	mustBerth(t, other, "pull", ref)
	if out := mustBerth(t, other, "images", "-q", "--no-trunc"); out != id.String()+"\n" {
		t.Errorf("images after an authenticated pull: %q", out)
	}

	if out := mustBerth(t, root, "logout", reg); !strings.Contains(out, "Removing login credentials for "+reg) {
		t.Errorf("logout said %q", out)
	}
	if cf, _ := readDockerConfig(t, dockerConfig); len(cf.Auths) != 0 {
		t.Errorf("logout left %+v", cf.Auths)
	}
	if out := mustBerth(t, root, "logout", reg); !strings.Contains(out, "Not logged in") {
		t.Errorf("second logout said %q", out)
	}
	_, err = berth(t, t.TempDir(), "pull", ref)
	wantErr(t, err, "pull "+ref, "401")
}

func TestRegistryHtpasswd(t *testing.T) {
	reg := startRegistryWith(t, registrySetup{htpasswd: newHtpasswd(t, "berth", "s3cret pass")})
	loginFlow(t, reg, "berth", "s3cret pass")
}

// faultProxy is a loopback reverse proxy in front of a registry that
// answers some requests itself.
func faultProxy(t *testing.T, registry string, fault func(w http.ResponseWriter, r *http.Request) bool) string {
	u, _ := url.Parse("http://" + registry)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestRegistryFaults(t *testing.T) {
	isolate(t)
	reg := startRegistryWith(t, registrySetup{})
	pushRandom(t, reg+"/e2e/fault:v1")
	manifests := func(code int) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "/manifests/") {
				return false
			}
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="berth-e2e"`)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"errors":[{"code":"UNKNOWN","message":"injected %d"}]}`, code)
			return true
		}
	}
	tests := []struct {
		code int
		want []string
	}{
		{http.StatusUnauthorized, []string{"authentication required", "401", "berth login"}},
		{http.StatusInternalServerError, []string{"server error", "500", "injected 500"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			proxy := faultProxy(t, reg, manifests(tc.code))
			root := t.TempDir()
			ref := proxy + "/e2e/fault:v1"
			_, err := berth(t, root, "pull", ref)
			wantErr(t, err, append([]string{"pull " + ref}, tc.want...)...)
			assertEmptyStore(t, root)
		})
	}

	// The connection closed in the middle of a blob: the pull fails
	// naming the image and leaves nothing behind.
	cut := faultProxy(t, reg, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			return false
		}
		resp, err := http.Get("http://" + reg + r.URL.Path)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.ContentLength < 1024 {
			return false // the config: let it through
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.CopyN(w, resp.Body, resp.ContentLength/2)
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	})
	t.Run("closed-mid-blob", func(t *testing.T) {
		root := t.TempDir()
		ref := cut + "/e2e/fault:v1"
		_, err := berth(t, root, "pull", ref)
		wantErr(t, err, "pull "+ref, "unexpected EOF")
		assertEmptyStore(t, root)
	})
	// A 500 on a blob upload fails the push, naming the image.
	proxy := faultProxy(t, reg, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			http.Error(w, "injected", http.StatusInternalServerError)
			return true
		}
		return false
	})
	root := t.TempDir()
	ref := proxy + "/e2e/fault-push:v1"
	mustBerth(t, root, "load", "-i", archiveOf(t, ref, randomImage(t, 1024, 1)))
	_, err := berth(t, root, "push", ref)
	wantErr(t, err, "push "+ref, "500")
}

// tokenFront is a loopback front for docker-registry with token auth: it
// serves a small Docker token service at /token (checks basic
// credentials, signs JWTs, ES256 with an x5c chain, granting what was
// asked for) and proxies the rest to the registry. The token service sits
// on the registry's own host:port because go-containerregistry refuses
// token realms on other loopback addresses.
func tokenFront(t *testing.T, user, password string) string {
	t.Helper()
	ca := newTestCA(t)
	certFile := filepath.Join(t.TempDir(), "token.crt")
	if err := os.WriteFile(certFile, ca.certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	token := func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
			return
		}
		var access []map[string]any
		for _, scope := range r.URL.Query()["scope"] {
			parts := strings.Split(scope, ":")
			if len(parts) == 3 {
				access = append(access, map[string]any{"type": parts[0], "name": parts[1], "actions": strings.Split(parts[2], ",")})
			}
		}
		now := time.Now()
		header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(ca.cert.Raw)}})
		claims, _ := json.Marshal(map[string]any{
			"iss": "berth-e2e-issuer", "sub": u, "aud": r.URL.Query().Get("service"),
			"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
			"jti": fmt.Sprint(now.UnixNano()), "access": access,
		})
		signing := b64(header) + "." + b64(claims)
		sum := sha256.Sum256([]byte(signing))
		rr, ss, err := ecdsa.Sign(rand.Reader, ca.key, sum[:])
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sig := make([]byte, 64)
		rr.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
		tok := signing + "." + b64(sig)
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
	}
	var proxy http.Handler = http.NotFoundHandler()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			token(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	reg := startRegistryWith(t, registrySetup{token: fmt.Sprintf(
		"    realm: %s/token\n    service: berth-e2e\n    issuer: berth-e2e-issuer\n    rootcertbundle: %s\n", front.URL, certFile)})
	u, _ := url.Parse("http://" + reg)
	proxy = httputil.NewSingleHostReverseProxy(u)
	return strings.TrimPrefix(front.URL, "http://")
}

func TestRegistryToken(t *testing.T) {
	loginFlow(t, tokenFront(t, "berth", "t0ken-pass"), "berth", "t0ken-pass")
}

// recordingProxy fronts the registry and keeps "METHOD PATH?QUERY" of
// every request it forwards, with the status the registry answered.
type recordingProxy struct {
	mu   sync.Mutex
	seen []string
}

func (p *recordingProxy) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.seen
	p.seen = nil
	return s
}

func startRecordingProxy(t *testing.T, registry string) (*recordingProxy, string) {
	p := &recordingProxy{}
	u, _ := url.Parse("http://" + registry)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		p.mu.Lock()
		p.seen = append(p.seen, fmt.Sprintf("%s %s?%s %d", r.Method, r.URL.Path, r.URL.RawQuery, resp.StatusCode))
		p.mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return p, strings.TrimPrefix(srv.URL, "http://")
}

// uploads are the blob upload requests among seen: sessions started
// (POST), and data sent (PATCH, PUT of a blob).
func uploads(seen []string) (posts, data []string) {
	for _, s := range seen {
		switch {
		case strings.HasPrefix(s, "POST ") && strings.Contains(s, "/blobs/uploads/"):
			posts = append(posts, s)
		case (strings.HasPrefix(s, "PATCH ") || strings.HasPrefix(s, "PUT ")) && strings.Contains(s, "/blobs/uploads/"):
			data = append(data, s)
		}
	}
	return posts, data
}

// TestRegistryPushMissingAndMount: push sends only the blobs the
// registry lacks, and asks it to mount blobs another repository of the
// same registry holds instead of sending them.
func TestRegistryPushMissingAndMount(t *testing.T) {
	isolate(t)
	reg := startRegistryWith(t, registrySetup{})
	rec, proxy := startRecordingProxy(t, reg)
	root := t.TempDir()
	src := proxy + "/e2e/src:v1"
	base := randomImage(t, 4096, 3)
	mustBerth(t, root, "load", "-i", archiveOf(t, src, base))

	mustBerth(t, root, "push", src)
	if posts, data := uploads(rec.take()); len(posts) != 4 || len(data) < 4 {
		t.Errorf("first push: %d sessions, %d data requests; want 4 blobs (3 layers, config) sent:\n%s", len(posts), len(data), strings.Join(posts, "\n"))
	}
	mustBerth(t, root, "push", src)
	if posts, data := uploads(rec.take()); len(posts)+len(data) != 0 {
		t.Errorf("second push of the same image uploaded: %v %v", posts, data)
	}

	// Same image, other repository of the registry: every layer mounted.
	dst := proxy + "/e2e/dst:v1"
	mustBerth(t, root, "tag", src, dst)
	out := mustBerth(t, root, "push", dst)
	posts, data := uploads(rec.take())
	t.Logf("push %s:\n%s\nuploads:\n%s", dst, out, strings.Join(append(posts, data...), "\n"))
	mounts := 0
	for _, p := range posts {
		if strings.Contains(p, "mount=sha256") && strings.Contains(p, "from=e2e%2Fsrc") && strings.HasSuffix(p, " 201") {
			mounts++
		}
	}
	if mounts < 3 {
		t.Errorf("push to another repository mounted %d blobs, want the 3 layers:\n%s", mounts, strings.Join(posts, "\n"))
	}
	if len(data) > 2 {
		t.Errorf("push to another repository sent data: %v", data)
	}
	if strings.Count(out, "Mounted from e2e/src") < 3 && !strings.Contains(out, "Mounted from "+proxy+"/e2e/src") {
		t.Errorf("push did not say the layers were mounted:\n%s", out)
	}

	// A new image on top: only its own layer travels, the rest is mounted.
	more, err := mutate.AppendLayers(base, randomLayer(t, 4096))
	if err != nil {
		t.Fatal(err)
	}
	third := proxy + "/e2e/third:v1"
	root2 := t.TempDir()
	mustBerth(t, root2, "pull", src)
	mustBerth(t, root2, "load", "-i", archiveOf(t, third, more))
	rec.take()
	mustBerth(t, root2, "push", third)
	posts, _ = uploads(rec.take())
	var sent, mounted int
	for _, p := range posts {
		if strings.HasSuffix(p, " 201") && strings.Contains(p, "mount=") {
			mounted++
		} else {
			sent++
		}
	}
	if mounted != 3 || sent != 2 {
		t.Errorf("push of image with one new layer: %d mounted, %d sent; want 3 and 2 (new layer, config):\n%s", mounted, sent, strings.Join(posts, "\n"))
	}
}
