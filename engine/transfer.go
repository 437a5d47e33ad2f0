package engine

import (
	"context"
	"io"

	"github.com/berth-dev/berth/image/distribution"
	"github.com/berth-dev/berth/image/imagearchive"
	"github.com/berth-dev/berth/image/importer"
	"github.com/berth-dev/berth/image/progress"
	"github.com/berth-dev/berth/image/reference"
)

// Moving images in and out, through the engine's store and lease: what a
// failed pull, load or import left is removed again (Tidy).
type (
	// TransferOptions: registries, TLS, platform and progress of a pull
	// or push.
	TransferOptions = distribution.Options
	// ImportOptions: changes, message and platform of an import.
	ImportOptions = importer.Options
	// LoadedImage is one image a load stored, with its names.
	LoadedImage = imagearchive.Loaded
	// ProgressRenderer shows transfers (bars on a terminal, lines else).
	ProgressRenderer = progress.Renderer
)

// Archive formats of SaveImages.
const (
	FormatDockerArchive = imagearchive.FormatDockerArchive
	FormatOCIArchive    = imagearchive.FormatOCIArchive
	FormatOCIDir        = imagearchive.FormatOCIDir
)

// NewProgress is the progress renderer for w (nothing when quiet).
func NewProgress(w io.Writer, quiet bool) ProgressRenderer { return progress.New(w, quiet) }

// FamiliarName is the short form Docker prints of a canonical name.
func FamiliarName(canonical string) string { return reference.Familiar(canonical) }

// PullImage fetches ref from its registry and names the image after it.
func (e *Engine) PullImage(ctx context.Context, ref string, o TransferOptions) (Image, error) {
	img, err := distribution.Pull(ctx, e.Images(), ref, o)
	if err != nil {
		e.Tidy()
	}
	return img, err
}

// PushImage uploads the local image to dest (its own name if "").
func (e *Engine) PushImage(ctx context.Context, local, dest string, o TransferOptions) error {
	return distribution.Push(ctx, e.Images(), local, dest, o)
}

// LoadImages stores the images of a docker-archive or OCI layout (a
// tarball or a directory) at path.
func (e *Engine) LoadImages(ctx context.Context, path string) ([]LoadedImage, error) {
	loaded, err := imagearchive.Load(ctx, e.Images(), path, distribution.Options{})
	if err != nil {
		e.Tidy()
	}
	return loaded, err
}

// SaveImages writes refs as an archive of format to w, or for
// FormatOCIDir into the directory dir.
func (e *Engine) SaveImages(refs []string, format string, w io.Writer, dir string) error {
	return imagearchive.Save(e.Images(), refs, format, w, dir)
}

// ImportImage makes an image of one layer from a root filesystem tarball
// and names it ref (unnamed if "").
func (e *Engine) ImportImage(ctx context.Context, r io.Reader, ref string, o ImportOptions) (Image, error) {
	img, err := importer.Import(ctx, e.Images(), r, ref, o)
	if err != nil {
		e.Tidy()
	}
	return img, err
}

// TagImage gives the image src resolves to the name dst.
func (e *Engine) TagImage(src, dst string) error { return e.images.Tag(src, dst) }

// SplitName splits a canonical name into repository and tag or digest
// ("<none>" for a missing part).
func SplitName(canonical string) (repo, tag string) { return reference.SplitTag(canonical) }

// NormalizeName is the canonical form of an image name ("busybox" →
// "docker.io/library/busybox:latest").
func NormalizeName(name string) (string, error) { return reference.Normalize(name) }
