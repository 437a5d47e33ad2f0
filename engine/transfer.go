package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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

// ParsePlatform reads os/arch[/variant] as pulls and imports take it.
func ParsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, err
	}
	// go-containerregistry takes "linux/" as an empty architecture;
	// Docker refuses empty parts.
	parts := strings.Split(s, "/")
	if len(parts) > 3 || p.OS == "" || p.Architecture == "" || slices.Contains(parts, "") {
		return nil, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	return p, nil
}

// withRegistries gives o the engine's registry config when it has none.
func (e *Engine) withRegistries(o TransferOptions) TransferOptions {
	if o.Registries == nil {
		o.Registries = e.registries
	}
	return o
}

// PullImage fetches ref from its registry and names the image after it;
// o without Registries uses the engine's (Options.Registries).
func (e *Engine) PullImage(ctx context.Context, ref string, o TransferOptions) (Image, error) {
	o = e.withRegistries(o)
	img, err := distribution.Pull(ctx, e.Images(), ref, o)
	if err != nil {
		e.Tidy()
		return img, err
	}
	// Docker's pull event is about the name pulled, not the image ID.
	name := e.familiarName(o.Registries.Qualify, ref)
	e.emitImage("pull", name, stripTag(name), &img)
	return img, nil
}

// PushImage uploads the local image to dest (its own name if ""); o
// without Registries uses the engine's.
func (e *Engine) PushImage(ctx context.Context, local, dest string, o TransferOptions) error {
	o = e.withRegistries(o)
	if err := distribution.Push(ctx, e.Images(), local, dest, o); err != nil {
		return err
	}
	var img *Image
	if rec, err := e.images.Resolve(local); err == nil {
		img = &rec
	}
	if dest == "" {
		dest = local
	}
	name := e.familiarName(o.Registries.Qualify, dest)
	e.emitImage("push", name, stripTag(name), img)
	return nil
}

// LoadImages stores the images of a docker-archive or OCI layout (a
// tarball or a directory) at path.
func (e *Engine) LoadImages(ctx context.Context, path string) ([]LoadedImage, error) {
	loaded, err := imagearchive.Load(ctx, e.Images(), path, distribution.Options{})
	if err != nil {
		e.Tidy()
		return loaded, err
	}
	for _, l := range loaded {
		e.emitImage("load", l.Image.ID.String(), firstName(l.Names, l.Image.ID.String()), &l.Image)
	}
	return loaded, nil
}

// LoadImageStream is LoadImages of an archive read from r (stdin, a
// request body): archives are read more than once, so r is spooled to
// the root's tmp dir first. Errors name the stream ("stdin") in
// parentheses, never the spool file.
func (e *Engine) LoadImageStream(ctx context.Context, r io.Reader, name string) ([]LoadedImage, error) {
	f, err := os.CreateTemp(filepath.Join(e.root, "image", "tmp"), "stdin-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("load: read %s: %w", name, err)
	}
	loaded, err := e.LoadImages(ctx, f.Name())
	if err != nil {
		err = errors.New(strings.ReplaceAll(err.Error(), f.Name(), "("+name+")"))
	}
	return loaded, err
}

// SaveImagesToFile is SaveImages into the file path: written beside it
// and renamed into place, so that a failed save leaves no partial archive
// (and an earlier file at path stays as it was).
func (e *Engine) SaveImagesToFile(refs []string, format, path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	err = e.SaveImages(refs, format, f, "")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// SaveImages writes refs as an archive of format to w, or for
// FormatOCIDir into the directory dir.
func (e *Engine) SaveImages(refs []string, format string, w io.Writer, dir string) error {
	if err := imagearchive.Save(e.Images(), refs, format, w, dir); err != nil {
		return err
	}
	for _, r := range refs {
		if img, err := e.images.Resolve(r); err == nil {
			e.emitImage("save", img.ID.String(), e.familiarName(nil, r), &img)
		}
	}
	return nil
}

// ImportImage makes an image of one layer from a root filesystem tarball
// and names it ref (unnamed if "").
func (e *Engine) ImportImage(ctx context.Context, r io.Reader, ref string, o ImportOptions) (Image, error) {
	img, err := importer.Import(ctx, e.Images(), r, ref, o)
	if err != nil {
		e.Tidy()
		return img, err
	}
	name := img.ID.String()
	if ref != "" {
		name = e.familiarName(nil, ref)
	}
	e.emitImage("import", img.ID.String(), name, &img)
	return img, nil
}

// TagImage gives the image src resolves to the name dst.
func (e *Engine) TagImage(src, dst string) error {
	if err := e.images.Tag(src, dst); err != nil {
		return err
	}
	if img, err := e.images.Resolve(dst); err == nil {
		e.emitImage("tag", img.ID.String(), e.familiarName(nil, dst), &img)
	}
	return nil
}

// SplitName splits a canonical name into repository and tag or digest
// ("<none>" for a missing part).
func SplitName(canonical string) (repo, tag string) { return reference.SplitTag(canonical) }

// MatchImageName is the match of a REPOSITORY[:TAG] argument (`images
// busybox`) against a familiar repository and a tag: a repository given
// in any form matches its familiar one; no tag matches every tag.
func MatchImageName(arg string) func(familiarRepo, tag string) bool {
	repo, tag := arg, ""
	if i := strings.LastIndex(arg, ":"); i > strings.LastIndex(arg, "/") {
		repo, tag = arg[:i], arg[i+1:]
	}
	if c, err := reference.Normalize(repo); err == nil {
		r, _ := reference.SplitTag(c)
		repo = reference.Familiar(r)
	}
	return func(r, t string) bool { return r == repo && (tag == "" || t == tag) }
}

// NormalizeName is the canonical form of an image name ("busybox" →
// "docker.io/library/busybox:latest").
func NormalizeName(name string) (string, error) { return reference.Normalize(name) }

// familiarName is ref as Docker's image events name it: qualified as the
// engine qualifies short names (qualify, else the store's), shown in its
// familiar form ("busybox:latest"); ref itself if it does not parse.
func (e *Engine) familiarName(qualify func(string) string, ref string) string {
	if qualify == nil {
		qualify = e.shortNames
	}
	q := ref
	if qualify != nil {
		q = qualify(ref)
	}
	canon, err := reference.Normalize(q)
	if err != nil {
		return ref
	}
	return reference.Familiar(canon)
}

// firstName is the familiar form of names[0], or def without names.
func firstName(names []string, def string) string {
	if len(names) == 0 {
		return def
	}
	return reference.Familiar(names[0])
}
