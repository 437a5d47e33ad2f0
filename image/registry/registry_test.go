package registry

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name, file string
		wantErr    string
	}{
		{"missing", "", ""},
		{"full", `{"default-registry":"reg:5000","registry-mirrors":{"docker.io":["https://m:1/"]},"insecure-registries":["a:1","10.0.0.0/8"],"certs-dir":"/x"}`, ""},
		{"unknown key", `{"mirrors":{}}`, `unknown field "mirrors"`},
		{"bad host", `{"default-registry":"http://reg"}`, "want HOST[:PORT]"},
		{"bad mirror", `{"registry-mirrors":{"r":["a b"]}}`, "mirror of r"},
		{"bad insecure", `{"insecure-registries":["a/b"]}`, "insecure-registries"},
		{"not json", `{`, "registries.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				os.WriteFile(filepath.Join(root, FileName), []byte(tc.file), 0o644)
			}
			_, err := Load(root)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Load = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	c := &Config{
		DefaultRegistry: "reg:5000",
		Mirrors:         map[string][]string{"docker.io": {"https://m1:1/", "m2"}, "reg:5000": {"m3"}},
		Insecure:        []string{"a:1", "plain", "10.0.0.0/8"},
	}
	qualify := map[string]string{
		"busybox":                  "reg:5000/busybox",
		"busybox:1.36":             "reg:5000/busybox:1.36",
		"team/app@sha256:abc":      "reg:5000/team/app@sha256:abc",
		"other.io/app":             "other.io/app",
		"localhost/app":            "localhost/app",
		"127.0.0.1:5000/app:v1":    "127.0.0.1:5000/app:v1",
		"docker.io/library/alpine": "docker.io/library/alpine",
	}
	for in, want := range qualify {
		if got := c.Qualify(in); got != want {
			t.Errorf("Qualify(%q) = %q, want %q", in, got, want)
		}
	}
	var nilc *Config
	if nilc.Qualify("busybox") != "busybox" || (&Config{DefaultRegistry: "docker.io"}).Qualify("busybox") != "busybox" {
		t.Error("default Qualify changed a short name")
	}
	insecure := map[string]bool{"a:1": true, "a:2": false, "plain": true, "plain:80": true, "10.1.2.3:5000": true, "11.0.0.1": false, "b": false}
	for h, want := range insecure {
		if got := c.IsInsecure(h); got != want {
			t.Errorf("IsInsecure(%q) = %v", h, got)
		}
	}
	if nilc.IsInsecure("a:1") {
		t.Error("nil config: insecure")
	}
	if got := fmt.Sprint(c.MirrorsFor("index.docker.io")); got != "[m1:1 m2]" {
		t.Errorf("MirrorsFor(index.docker.io) = %s", got)
	}
	if got := fmt.Sprint(c.MirrorsFor("reg:5000")); got != "[m3]" {
		t.Errorf("MirrorsFor(reg:5000) = %s", got)
	}
	if len(c.MirrorsFor("x")) != 0 || len(nilc.MirrorsFor("x")) != 0 {
		t.Error("mirrors for an unlisted registry")
	}
	t.Setenv(EnvCertsDir, "")
	if nilc.CertsDirPath() != DefaultCertsDir || (&Config{CertsDir: "/c"}).CertsDirPath() != "/c" {
		t.Error("CertsDirPath defaults")
	}
	t.Setenv(EnvCertsDir, "/env")
	if (&Config{CertsDir: "/c"}).CertsDirPath() != "/env" {
		t.Error("BERTH_CERTS_DIR does not win")
	}
}

func TestServerKey(t *testing.T) {
	tests := []struct{ in, key, host, err string }{
		{"reg:5000", "reg:5000", "reg:5000", ""},
		{"https://reg:5000/v2/", "reg:5000", "reg:5000", ""},
		{"http://127.0.0.1:1/", "127.0.0.1:1", "127.0.0.1:1", ""},
		{"docker.io", dockerHubKey, "index.docker.io", ""},
		{"https://index.docker.io/v1/", dockerHubKey, "index.docker.io", ""},
		{"", "", "", "invalid registry"},
		{"bad host!", "", "", "invalid registry"},
	}
	for _, tc := range tests {
		key, host, err := ServerKey(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ServerKey(%q) err = %v", tc.in, err)
			}
			continue
		}
		if err != nil || key != tc.key || host != tc.host {
			t.Errorf("ServerKey(%q) = %q, %q, %v", tc.in, key, host, err)
		}
	}
}

func TestExplain(t *testing.T) {
	req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "https", Host: "r", Path: "/v2/"}}
	tests := []struct {
		err  error
		want string
	}{
		{&transport.Error{StatusCode: 401, Request: req}, "authentication required"},
		{&transport.Error{StatusCode: 403, Request: req}, "access denied"},
		{&transport.Error{StatusCode: 503, Request: req}, "server error (503"},
		{&transport.Error{StatusCode: 404, Request: req}, "unexpected status code 404"},
		{errors.New("plain"), "plain"},
	}
	for _, tc := range tests {
		got := Explain(fmt.Errorf("wrapped: %w", tc.err), "r", "/certs")
		if !strings.Contains(got.Error(), tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("Explain(%v) = %v, want %q", tc.err, got, tc.want)
		}
	}
	if Explain(nil, "r", "") != nil {
		t.Error("Explain(nil) != nil")
	}
}

func TestTransport(t *testing.T) {
	dir := t.TempDir()
	tr, err := Transport("none:1", false, dir)
	if err != nil || tr.TLSClientConfig.RootCAs != nil || tr.TLSClientConfig.InsecureSkipVerify {
		t.Fatalf("no certs dir: %v", err)
	}
	if tr, _ := Transport("none:1", true, dir); !tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("insecure transport verifies")
	}
	os.MkdirAll(filepath.Join(dir, "bad:1"), 0o755)
	os.WriteFile(filepath.Join(dir, "bad:1", "ca.crt"), []byte("junk"), 0o644)
	if _, err := Transport("bad:1", false, dir); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("junk ca.crt: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "cl:1"), 0o755)
	os.WriteFile(filepath.Join(dir, "cl:1", "client.cert"), []byte("junk"), 0o644)
	if _, err := Transport("cl:1", false, dir); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("client cert without key: %v", err)
	}
	for _, h := range []string{"", "..", "a/b"} {
		if _, err := Transport(h, false, dir); err == nil {
			t.Errorf("Transport(%q) accepted", h)
		}
	}
}
