// Package distribution pulls images from registries into the store and
// pushes them back, through go-containerregistry.
package distribution

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultCertsDir holds per-registry CAs as Docker lays them out:
// /etc/docker/certs.d/HOST[:PORT]/ca.crt.
const DefaultCertsDir = "/etc/docker/certs.d"

// Options tune Pull and Push.
type Options struct {
	// Platform to pick from an index; default: this machine's.
	Platform *v1.Platform
	// Insecure is --tls-verify=false: plain HTTP allowed, certificates
	// not checked.
	Insecure bool
	// Keychain gives credentials; default: $DOCKER_CONFIG/config.json
	// (~/.docker/config.json) through authn.DefaultKeychain.
	Keychain authn.Keychain
	// CertsDir overrides DefaultCertsDir.
	CertsDir string
	// Parallel is how many layers move at once (default 3, as Docker).
	Parallel int
	// Progress, if set, gets Docker-like status lines.
	Progress io.Writer
}

func (o *Options) platform() v1.Platform {
	if o.Platform != nil {
		return *o.Platform
	}
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

func (o *Options) parallel() int {
	if o.Parallel > 0 {
		return o.Parallel
	}
	return 3
}

func (o *Options) say(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

func (o *Options) nameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// remoteOptions builds go-containerregistry options for the registry host.
func (o *Options) remoteOptions(host string, extra ...remote.Option) ([]remote.Option, error) {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if o.Insecure {
		tr.TLSClientConfig.InsecureSkipVerify = true
	} else {
		dir := o.CertsDir
		if dir == "" {
			dir = DefaultCertsDir
		}
		pem, err := os.ReadFile(filepath.Join(dir, host, "ca.crt"))
		switch {
		case err == nil:
			pool, perr := x509.SystemCertPool()
			if perr != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("registry %s: no certificate in %s", host, filepath.Join(dir, host, "ca.crt"))
			}
			tr.TLSClientConfig.RootCAs = pool
		case !os.IsNotExist(err):
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
	}
	return append([]remote.Option{remote.WithAuthFromKeychain(kc), remote.WithTransport(tr)}, extra...), nil
}

// PlatformOrDefault is the platform to pick from an index.
func (o *Options) PlatformOrDefault() v1.Platform { return o.platform() }
