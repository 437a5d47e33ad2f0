// Package reference parses image references the way Docker users write
// them ("busybox", "library/busybox:1.36", "localhost:5000/app@sha256:…")
// and prints them back in the canonical form the store keys on
// ("docker.io/library/busybox:latest") or the familiar form Docker shows.
package reference

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

const (
	dockerHub      = "docker.io"
	dockerHubIndex = "index.docker.io" // go-containerregistry's spelling
)

// Parse parses a reference; a missing tag means "latest".
func Parse(s string, opts ...name.Option) (name.Reference, error) {
	if s == "" {
		return nil, fmt.Errorf("invalid image reference: empty")
	}
	if s != strings.ToLower(s) && !strings.Contains(s, "@") {
		// Docker refuses upper case repositories; say so plainly.
		repo := s
		if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
			repo = s[:i]
		}
		if repo != strings.ToLower(repo) {
			return nil, fmt.Errorf("invalid image reference %q: repository name must be lowercase", s)
		}
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return ref, nil
}

// Repository returns the canonical repository of ref ("docker.io/library/busybox").
func Repository(ref name.Reference) string {
	reg := ref.Context().RegistryStr()
	if reg == dockerHubIndex {
		reg = dockerHub
	}
	return reg + "/" + ref.Context().RepositoryStr()
}

// String returns the canonical form of ref.
func String(ref name.Reference) string {
	switch r := ref.(type) {
	case name.Tag:
		return Repository(r) + ":" + r.TagStr()
	case name.Digest:
		return Repository(r) + "@" + r.DigestStr()
	}
	return ref.Name()
}

// Normalize parses s and returns its canonical form.
func Normalize(s string) (string, error) {
	ref, err := Parse(s)
	if err != nil {
		return "", err
	}
	return String(ref), nil
}

// Familiar shortens a canonical reference the way Docker shows it:
// "docker.io/library/busybox:latest" → "busybox:latest".
func Familiar(canonical string) string {
	s := strings.TrimPrefix(canonical, dockerHub+"/")
	if s == canonical {
		return canonical
	}
	return strings.TrimPrefix(s, "library/")
}

// SplitTag splits a canonical reference into repository and tag (or
// digest); "<none>" stands for a missing part, as in `docker images`.
func SplitTag(canonical string) (repo, tag string) {
	if i := strings.Index(canonical, "@"); i >= 0 {
		return canonical[:i], canonical[i+1:]
	}
	if i := strings.LastIndex(canonical, ":"); i > strings.LastIndex(canonical, "/") {
		return canonical[:i], canonical[i+1:]
	}
	return canonical, "<none>"
}
