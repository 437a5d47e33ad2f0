package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Explain puts what went wrong with registry host in plain words before
// the underlying error (which stays in the chain): an untrusted
// certificate, missing or refused credentials, a server error.
// certsDir is where a CA for host would go; errors it cannot explain come
// back unchanged.
func Explain(err error, host, certsDir string) error {
	if err == nil {
		return nil
	}
	var (
		unknown  x509.UnknownAuthorityError
		verify   *tls.CertificateVerificationError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		terr     *transport.Error
	)
	switch {
	case errors.As(err, &unknown) || errors.As(err, &verify) || errors.As(err, &invalid):
		return fmt.Errorf("registry %s: TLS certificate not trusted (x509); put its CA in %s or use --tls-verify=false: %w",
			host, filepath.Join(certsDir, host, "ca.crt"), err)
	case errors.As(err, &hostname):
		return fmt.Errorf("registry %s: TLS certificate is not valid for this name (x509): %w", host, err)
	case errors.As(err, &terr):
		switch code := terr.StatusCode; {
		case code == http.StatusUnauthorized:
			return fmt.Errorf("registry %s: authentication required or credentials refused (401); run `berth login %s`: %w", host, host, err)
		case code == http.StatusForbidden:
			return fmt.Errorf("registry %s: access denied (403): %w", host, err)
		case code == http.StatusTooManyRequests:
			return fmt.Errorf("registry %s: too many requests (429), try again later: %w", host, err)
		case code >= 500:
			return fmt.Errorf("registry %s: server error (%d %s): %w", host, code, http.StatusText(code), err)
		}
	}
	return err
}
