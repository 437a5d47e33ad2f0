package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Transport returns the HTTP transport for registry host (HOST[:PORT]).
// insecure skips certificate verification (--tls-verify=false or an
// insecure registry). Otherwise the system roots are trusted plus, as
// Docker does, every *.crt in certsDir/HOST/ (ca.crt by convention), and
// a client certificate is presented when certsDir/HOST/ holds a NAME.cert
// with its NAME.key.
func Transport(host string, insecure bool, certsDir string) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	if certsDir == "" {
		certsDir = DefaultCertsDir
	}
	dir := filepath.Join(certsDir, host)
	if strings.Contains(host, "/") || host == "" || host == "." || host == ".." {
		return nil, fmt.Errorf("registry %q: invalid host", host)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return tr, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry %s: certificates: %w", host, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var pool *x509.CertPool
	for _, n := range names {
		p := filepath.Join(dir, n)
		switch {
		case strings.HasSuffix(n, ".crt"):
			if insecure {
				continue
			}
			pem, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("registry %s: %w", host, err)
			}
			if pool == nil {
				if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
					pool = x509.NewCertPool()
				}
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("registry %s: no PEM certificate in %s", host, p)
			}
		case strings.HasSuffix(n, ".cert"):
			key := strings.TrimSuffix(p, ".cert") + ".key"
			pair, err := tls.LoadX509KeyPair(p, key)
			if err != nil {
				return nil, fmt.Errorf("registry %s: client certificate %s: %w", host, p, err)
			}
			tr.TLSClientConfig.Certificates = append(tr.TLSClientConfig.Certificates, pair)
		}
	}
	if pool != nil {
		tr.TLSClientConfig.RootCAs = pool
	}
	return tr, nil
}
