// Package registry is how Berth reaches registries: the engine's registry
// configuration (default registry for short names, mirrors, insecure
// registries, the certs.d directory), the HTTP transport for one registry
// host (its CA and client certificates, or no verification), logins kept in
// Docker's config.json, and plain-language errors for what registries answer.
//
// The configuration is one JSON file under the engine root,
// ROOT/registries.json; every field is optional and a missing file means
// Docker's defaults:
//
//	{
//	  "default-registry": "docker.io",
//	  "registry-mirrors": {"docker.io": ["mirror.example:5000"]},
//	  "insecure-registries": ["127.0.0.1:5000", "10.0.0.0/8"],
//	  "certs-dir": "/etc/docker/certs.d"
//	}
//
// default-registry qualifies short names ("busybox" → HOST/busybox; for
// docker.io the usual docker.io/library/busybox). registry-mirrors maps a
// registry host to mirror hosts that pulls try first, in order, before the
// registry itself. insecure-registries (host[:port] or CIDR) may be reached
// over plain HTTP and without certificate checks, like --tls-verify=false.
// certs-dir holds HOST[:PORT]/ca.crt (and *.crt, client *.cert/*.key) as
// Docker lays them out; the BERTH_CERTS_DIR environment variable overrides
// it (tests point it at a temporary directory).
//
// The engine reads this file through its own config (engine/config), which
// merges it with the [registry] section of berth.toml.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

const (
	// FileName is the configuration file's name under the engine root.
	FileName = "registries.json"
	// DefaultCertsDir is Docker's per-registry certificate directory.
	DefaultCertsDir = "/etc/docker/certs.d"
	// EnvCertsDir overrides the certificate directory.
	EnvCertsDir = "BERTH_CERTS_DIR"
	// DockerHub is the registry short names resolve to by default.
	DockerHub = "docker.io"
)

// Config is the engine's registry configuration.
type Config struct {
	DefaultRegistry string              `json:"default-registry,omitempty"`
	Mirrors         map[string][]string `json:"registry-mirrors,omitempty"`
	Insecure        []string            `json:"insecure-registries,omitempty"`
	CertsDir        string              `json:"certs-dir,omitempty"`
}

// Load reads ROOT/registries.json; a missing file is the default config.
func Load(root string) (*Config, error) {
	p := filepath.Join(root, FileName)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry config: %w", err)
	}
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	// A misspelt key would silently do nothing: refuse it.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("registry config %s: %w", p, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("registry config %s: %w", p, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	if c.DefaultRegistry != "" {
		if err := CheckHost(c.DefaultRegistry); err != nil {
			return fmt.Errorf("default-registry %w", err)
		}
	}
	for reg, ms := range c.Mirrors {
		if err := CheckHost(reg); err != nil {
			return fmt.Errorf("registry-mirrors key %w", err)
		}
		for _, m := range ms {
			if err := CheckMirror(m); err != nil {
				return fmt.Errorf("mirror of %s %w", reg, err)
			}
		}
	}
	for _, h := range c.Insecure {
		if err := CheckInsecure(h); err != nil {
			return fmt.Errorf("insecure-registries entry %w", err)
		}
	}
	return nil
}

// CheckHost tells whether h names a registry as the configuration does:
// HOST[:PORT], without a scheme or a path. The engine config
// (engine/config) checks its registry keys with these three.
func CheckHost(h string) error {
	if h == "" || strings.ContainsAny(h, "/ \t") || strings.Contains(h, "://") {
		return fmt.Errorf("%q: want HOST[:PORT]", h)
	}
	return nil
}

// CheckMirror checks a mirror: a host, with an optional http(s):// scheme.
func CheckMirror(m string) error { return CheckHost(stripScheme(m)) }

// CheckInsecure checks an insecure-registries entry: a host or a CIDR.
func CheckInsecure(e string) error {
	if _, _, err := net.ParseCIDR(e); err == nil {
		return nil
	}
	return CheckHost(e)
}

// CertsDirPath is where per-registry certificates live: $BERTH_CERTS_DIR,
// else the config's certs-dir, else /etc/docker/certs.d.
func (c *Config) CertsDirPath() string {
	if d := os.Getenv(EnvCertsDir); d != "" {
		return d
	}
	if c != nil && c.CertsDir != "" {
		return c.CertsDir
	}
	return DefaultCertsDir
}

// IsInsecure tells whether host (HOST[:PORT]) is listed as insecure, by
// name or by an address range holding its IP.
func (c *Config) IsInsecure(host string) bool {
	if c == nil {
		return false
	}
	hostOnly := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostOnly = h
	}
	ip := net.ParseIP(hostOnly)
	for _, e := range c.Insecure {
		if e == host || e == hostOnly && !strings.Contains(e, ":") {
			return true
		}
		if _, n, err := net.ParseCIDR(e); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// MirrorsFor lists the mirror hosts for registry host, in the order to try.
func (c *Config) MirrorsFor(host string) []string {
	if c == nil {
		return nil
	}
	ms := c.Mirrors[host]
	if ms == nil && (host == "index.docker.io" || host == "registry-1.docker.io") {
		ms = c.Mirrors[DockerHub]
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, stripScheme(m))
	}
	return out
}

func stripScheme(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	return strings.TrimSuffix(s, "/")
}

// Qualify prefixes a short reference ("busybox", "team/app:v1") with the
// default registry; a reference whose first component is a host (has a
// "." or ":", or is "localhost") is returned as is. With Docker Hub as the
// default, short names are left to the usual docker.io/library rules.
func (c *Config) Qualify(ref string) string {
	if c == nil || c.DefaultRegistry == "" || c.DefaultRegistry == DockerHub {
		return ref
	}
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	return c.DefaultRegistry + "/" + ref
}
