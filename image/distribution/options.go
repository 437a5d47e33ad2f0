// Package distribution pulls images from registries into the store and
// pushes them back, through go-containerregistry.
package distribution

import (
	"fmt"
	"io"
	"net/http"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/image/progress"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/registry"
)

// DefaultCertsDir holds per-registry CAs as Docker lays them out:
// /etc/docker/certs.d/HOST[:PORT]/ca.crt.
const DefaultCertsDir = registry.DefaultCertsDir

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
	// CertsDir overrides the registry config's certs dir (itself
	// $BERTH_CERTS_DIR or DefaultCertsDir).
	CertsDir string
	// Registries is the engine's registry config (default registry,
	// mirrors, insecure registries); nil means Docker's defaults.
	Registries *registry.Config
	// Parallel is how many layers move at once (default 3, as Docker).
	Parallel int
	// Progress, if set, gets Docker-like status lines.
	Progress io.Writer
	// Layers, if set, is told how each layer's bytes move (progress
	// bars); it then also gets the per-layer final status lines.
	Layers progress.Reporter

	// wrapTransport, set by Push for its own copy of the options, sees
	// every request (to learn which blobs the registry mounted).
	wrapTransport func(http.RoundTripper) http.RoundTripper
}

// layerDone ends a layer's progress: through Layers when set, else as a
// status line.
func (o *Options) layerDone(d v1.Hash, status string) {
	if o.Layers != nil {
		o.Layers.Done(shortID(d), status)
		return
	}
	o.say("%s: %s", shortID(d), status)
}

func shortID(d v1.Hash) string {
	if len(d.Hex) > 12 {
		return d.Hex[:12]
	}
	return d.Hex
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

// insecure tells whether host may be reached over plain HTTP without
// certificate checks: --tls-verify=false, or an insecure registry in the
// engine's registry config.
func (o *Options) insecure(host string) bool {
	return o.Insecure || o.Registries.IsInsecure(host)
}

func (o *Options) certsDir() string {
	if o.CertsDir != "" {
		return o.CertsDir
	}
	return o.Registries.CertsDirPath()
}

// parse parses ref, allowing plain HTTP when its registry is insecure.
func (o *Options) parse(ref string) (name.Reference, error) {
	r, err := reference.Parse(ref, o.nameOptions()...)
	if err != nil || o.Insecure || !o.insecure(r.Context().RegistryStr()) {
		return r, err
	}
	return reference.Parse(ref, name.Insecure)
}

// explain puts a registry error in plain words (see registry.Explain).
func (o *Options) explain(err error, host string) error {
	return registry.Explain(err, host, o.certsDir())
}

// remoteOptions builds go-containerregistry options for the registry host.
func (o *Options) remoteOptions(host string, extra ...remote.Option) ([]remote.Option, error) {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	tr, err := registry.Transport(host, o.insecure(host), o.certsDir())
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper = tr
	if o.wrapTransport != nil {
		rt = o.wrapTransport(tr)
	}
	return append([]remote.Option{remote.WithAuthFromKeychain(kc), remote.WithTransport(rt)}, extra...), nil
}

// PlatformOrDefault is the platform to pick from an index.
func (o *Options) PlatformOrDefault() v1.Platform { return o.platform() }
