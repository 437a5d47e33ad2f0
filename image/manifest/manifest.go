// Package manifest parses and checks image manifests and indexes (OCI
// and Docker schema 2) as they come from a registry or an archive: the
// bytes are untrusted, so every field the puller relies on is checked
// here and any problem is a clear error, never a panic.
package manifest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// MaxSize bounds a manifest or index, as registries do (4 MiB).
const MaxSize = 4 << 20

// Parsed is a checked manifest: exactly one of Image and Index is set.
type Parsed struct {
	MediaType types.MediaType
	Image     *v1.Manifest
	Index     *v1.IndexManifest
}

// ErrUnsupported is wrapped by errors about media types Berth cannot use.
var ErrUnsupported = errors.New("unsupported manifest media type")

// head is what is read before choosing how to parse.
type head struct {
	SchemaVersion *int64          `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	// Docker schema 1 has these instead of a media type.
	FSLayers json.RawMessage `json:"fsLayers"`
	// Guessing the kind of an untyped document (OCI makes mediaType
	// optional).
	Manifests json.RawMessage `json:"manifests"`
	Config    json.RawMessage `json:"config"`
}

// Parse checks data as a manifest or index of mediaType (the registry's
// Content-Type or the descriptor's media type; empty: taken from data).
func Parse(mediaType types.MediaType, data []byte) (*Parsed, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("manifest is %d bytes, more than the %d allowed", len(data), MaxSize)
	}
	var h head
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	if mediaType == types.DockerManifestSchema1 || mediaType == types.DockerManifestSchema1Signed ||
		h.MediaType == types.DockerManifestSchema1 || h.MediaType == types.DockerManifestSchema1Signed ||
		(h.SchemaVersion != nil && *h.SchemaVersion == 1) || h.FSLayers != nil {
		return nil, fmt.Errorf("%w: Docker schema 1 manifests are deprecated and not supported; push the image again with a current client", ErrUnsupported)
	}
	if h.SchemaVersion == nil {
		return nil, errors.New("manifest has no schemaVersion")
	}
	if *h.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: schemaVersion %d", ErrUnsupported, *h.SchemaVersion)
	}
	mt := mediaType
	switch {
	case mt == "":
		mt = h.MediaType
	case h.MediaType != "" && h.MediaType != mt:
		// OCI: the field, when present, must match the descriptor.
		return nil, fmt.Errorf("manifest says it is %q but was served as %q", h.MediaType, mt)
	}
	if mt == "" {
		// An OCI document without a media type: its shape decides.
		switch {
		case h.Manifests != nil && h.Config == nil:
			mt = types.OCIImageIndex
		case h.Config != nil && h.Manifests == nil:
			mt = types.OCIManifestSchema1
		default:
			return nil, errors.New("manifest has no mediaType and is neither an image manifest nor an index")
		}
	}
	p := &Parsed{MediaType: mt}
	switch mt {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		m, err := v1.ParseManifest(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", mt, err)
		}
		if err := checkImage(mt, m); err != nil {
			return nil, err
		}
		p.Image = m
	case types.OCIImageIndex, types.DockerManifestList:
		im, err := v1.ParseIndexManifest(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", mt, err)
		}
		if err := checkIndex(im); err != nil {
			return nil, err
		}
		p.Index = im
	default:
		return nil, fmt.Errorf("%w %q (want an OCI or Docker schema 2 image manifest or index)", ErrUnsupported, mt)
	}
	return p, nil
}

func checkImage(mt types.MediaType, m *v1.Manifest) error {
	if err := checkDescriptor("config", m.Config); err != nil {
		return err
	}
	if m.Config.MediaType != "" && !m.Config.MediaType.IsConfig() && mt == types.DockerManifestSchema2 {
		return fmt.Errorf("config has media type %q, not an image config", m.Config.MediaType)
	}
	for i, l := range m.Layers {
		what := fmt.Sprintf("layer %d", i)
		if err := checkDescriptor(what, l); err != nil {
			return err
		}
		if !IsLayer(l.MediaType) {
			return fmt.Errorf("%s (%s): unsupported layer media type %q", what, l.Digest, l.MediaType)
		}
	}
	return nil
}

// IsLayer tells whether a layer media type is a tar stream Berth unpacks
// (plain, gzip or zstd; OCI or Docker; distributable or not).
func IsLayer(mt types.MediaType) bool {
	return mt.IsLayer() || strings.Contains(string(mt), "tar")
}

func checkIndex(im *v1.IndexManifest) error {
	if len(im.Manifests) == 0 {
		return errors.New("index lists no manifests")
	}
	for i, d := range im.Manifests {
		what := fmt.Sprintf("index entry %d", i)
		if err := checkDescriptor(what, d); err != nil {
			return err
		}
		if d.MediaType == "" {
			return fmt.Errorf("%s (%s) has no mediaType", what, d.Digest)
		}
	}
	return nil
}

func checkDescriptor(what string, d v1.Descriptor) error {
	if err := CheckDigest(d.Digest); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s (%s): negative size %d", what, d.Digest, d.Size)
	}
	return nil
}

// CheckDigest accepts sha256 digests (the only kind the store keeps)
// with 64 lower-case hex digits: a digest names files in the store.
func CheckDigest(h v1.Hash) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("unsupported digest %q (only sha256)", h.String())
	}
	if len(h.Hex) != 64 || strings.ToLower(h.Hex) != h.Hex {
		return fmt.Errorf("malformed digest %q", h.String())
	}
	if _, err := hex.DecodeString(h.Hex); err != nil {
		return fmt.Errorf("malformed digest %q", h.String())
	}
	return nil
}
