package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// dockerHubKey is the key Docker stores Docker Hub credentials under.
const dockerHubKey = "https://index.docker.io/v1/"

// ServerKey turns what a user gives `login` ("https://reg:5000/v2/",
// "reg:5000", "docker.io") into the key of config.json's "auths" (and the
// host to talk to): HOST[:PORT], or Docker's key for Docker Hub.
func ServerKey(server string) (key, host string, err error) {
	h := stripScheme(strings.TrimSpace(server))
	h, _, _ = strings.Cut(h, "/")
	if h == "" {
		return "", "", fmt.Errorf("invalid registry %q", server)
	}
	switch h {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return dockerHubKey, "index.docker.io", nil
	}
	if _, err := name.NewRegistry(h, name.StrictValidation); err != nil {
		return "", "", fmt.Errorf("invalid registry %q: %w", server, err)
	}
	return h, h, nil
}

// CheckLogin asks registry host whether user and password are good: it
// pings /v2/, goes through the registry's auth challenge (Basic, or a
// Bearer token exchange) and requests /v2/ with the credentials.
func CheckLogin(ctx context.Context, host, user, password string, insecure bool, rt http.RoundTripper) error {
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nopts...)
	if err != nil {
		return fmt.Errorf("login %s: %w", host, err)
	}
	ch, err := transport.Ping(ctx, reg, rt)
	if err != nil {
		return fmt.Errorf("login %s: %w", host, err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	tr, err := transport.NewWithContext(ctx, reg, auth, rt, nil)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusUnauthorized {
		// The token service refused the credentials.
		return fmt.Errorf("login %s: unauthorized: incorrect username or password (%v)", host, err)
	}
	if err != nil {
		return fmt.Errorf("login %s: %w", host, err)
	}
	scheme := "https"
	if ch.Insecure {
		scheme = "http"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+host+"/v2/", nil)
	if err != nil {
		return fmt.Errorf("login %s: %w", host, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("login %s: %w", host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("login %s: unauthorized: incorrect username or password", host)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return fmt.Errorf("login %s: %w", host, err)
	}
	return nil
}

// SaveLogin records the credentials for key in $DOCKER_CONFIG/config.json
// (~/.docker/config.json): Docker's "auths" entry with a base64 "auth", or
// the credential helper config.json names. The file is written to a
// temporary file with mode 0600 and renamed into place.
func SaveLogin(key, user, password string) (file string, err error) {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return "", fmt.Errorf("login: docker config: %w", err)
	}
	err = cf.GetCredentialsStore(key).Store(types.AuthConfig{ServerAddress: key, Username: user, Password: password})
	if err != nil {
		return "", fmt.Errorf("login: save credentials in %s: %w", cf.Filename, err)
	}
	return cf.Filename, nil
}

// RemoveLogin drops the credentials for key; found says whether there
// were any.
func RemoveLogin(key string) (found bool, err error) {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return false, fmt.Errorf("logout: docker config: %w", err)
	}
	store := cf.GetCredentialsStore(key)
	if ac, err := store.Get(key); err != nil || (ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "") {
		return false, nil
	}
	if err := store.Erase(key); err != nil {
		return true, fmt.Errorf("logout: remove credentials from %s: %w", cf.Filename, err)
	}
	return true, nil
}
