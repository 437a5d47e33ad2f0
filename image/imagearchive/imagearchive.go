// Package imagearchive is `load` and `save`: images to and from
// docker-archive tarballs (`docker save` format) and OCI image layouts.
package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/image/distribution"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/archive"
)

// Formats of Save.
const (
	FormatDockerArchive = "docker-archive"
	FormatOCIDir        = "oci-dir"
	// FormatOCIArchive is an OCI layout in a tarball (Podman's oci-archive).
	FormatOCIArchive = "oci-archive"
)

// Annotations naming an image in an OCI layout's index.json.
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerdRef = "io.containerd.image.name"
)

// Loaded is one image Load stored, with the names it got.
type Loaded struct {
	Image store.Image
	Names []string
}

// Load stores the images of a docker-archive tarball, an OCI layout
// directory, or a tarball of an OCI layout, found at path.
func Load(ctx context.Context, s *store.Store, path string, opts distribution.Options) ([]Loaded, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if fi.IsDir() {
		return loadLayout(ctx, s, path, opts)
	}
	names, err := tarNames(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	switch {
	case names["manifest.json"]:
		return loadDockerArchive(ctx, s, path, opts)
	case names["oci-layout"] && names["index.json"]:
		// Unpack with the layer extractor: the archive is as untrusted as
		// any layer.
		tmp, err := os.MkdirTemp(filepath.Join(s.Root(), "image", "tmp"), "load-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		dir := filepath.Join(tmp, "layout")
		if err := archive.Extract(f, dir, archive.Options{NoChown: true, Whiteouts: archive.WhiteoutApply}); err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		return loadLayout(ctx, s, dir, opts)
	}
	return nil, fmt.Errorf("load %s: neither a docker-archive (no manifest.json) nor an OCI layout (no index.json)", path)
}

func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		names[filepath.Clean(h.Name)] = true
	}
}

func loadDockerArchive(ctx context.Context, s *store.Store, path string, opts distribution.Options) ([]Loaded, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var out []Loaded
	for i, d := range m {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return out, fmt.Errorf("load %s: image %d: %w", path, i, err)
			}
			tag = &t
		} else if len(m) > 1 {
			return out, fmt.Errorf("load %s: image %d has no tag and the archive holds several", path, i)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return out, fmt.Errorf("load %s: %w", path, err)
		}
		l, err := store1(ctx, s, img, d.RepoTags, opts)
		if err != nil {
			return out, fmt.Errorf("load %s: %w", path, err)
		}
		out = append(out, l)
	}
	return out, nil
}

func store1(ctx context.Context, s *store.Store, img v1.Image, names []string, opts distribution.Options) (Loaded, error) {
	rec, err := distribution.FetchImage(ctx, s, img, opts)
	if err != nil {
		return Loaded{}, err
	}
	var canon []string
	for _, n := range names {
		c, err := reference.Normalize(n)
		if err != nil {
			return Loaded{}, err
		}
		canon = append(canon, c)
	}
	if err := s.PutImage(rec, canon...); err != nil {
		return Loaded{}, err
	}
	return Loaded{Image: rec, Names: canon}, nil
}

func loadLayout(ctx context.Context, s *store.Store, dir string, opts distribution.Options) ([]Loaded, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	var out []Loaded
	for _, d := range im.Manifests {
		var img v1.Image
		switch {
		case d.MediaType.IsImage():
			img, err = idx.Image(d.Digest)
		case d.MediaType.IsIndex():
			var child v1.ImageIndex
			if child, err = idx.ImageIndex(d.Digest); err == nil {
				img, err = pickFromIndex(child, opts)
			}
		default:
			continue
		}
		if err != nil {
			return out, fmt.Errorf("load %s: %w", dir, err)
		}
		var names []string
		for _, k := range []string{annotationContainerdRef, annotationRefName} {
			// A bare tag ("latest") in ref.name names nothing we can use.
			if n := d.Annotations[k]; n != "" {
				if _, err := name.NewTag(n, name.StrictValidation); err == nil {
					names = append(names, n)
					break
				}
			}
		}
		l, err := store1(ctx, s, img, names, opts)
		if err != nil {
			return out, fmt.Errorf("load %s: %w", dir, err)
		}
		out = append(out, l)
	}
	return out, nil
}

func pickFromIndex(idx v1.ImageIndex, opts distribution.Options) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	want := opts.PlatformOrDefault()
	for _, d := range im.Manifests {
		if d.Platform != nil && d.MediaType.IsImage() && d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for platform %s", want.String())
}

// Save writes the images refs name to w (docker-archive, oci-archive) or,
// for FormatOCIDir, into the new directory dest.
func Save(s *store.Store, refs []string, format string, w io.Writer, dest string) error {
	var imgs []namedImage
	for _, r := range refs {
		rec, err := s.Resolve(r)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		img, err := distribution.Image(s, rec)
		if err != nil {
			return fmt.Errorf("save %s: %w", r, err)
		}
		n := ""
		if c, err := reference.Normalize(r); err == nil && contains(rec.Names, c) {
			n = c
		} else if len(rec.Names) > 0 && !isID(r, rec) {
			n = rec.Names[0]
		}
		imgs = append(imgs, namedImage{img, n})
	}
	return write(s, imgs, format, w, dest)
}

// SaveNamed writes the image id resolves to under each of names (none:
// by its ID), names the store need not hold: a build's --output
// exports its image named by -t without tagging it in the store.
func SaveNamed(s *store.Store, id string, names []string, format string, w io.Writer) error {
	rec, err := s.Resolve(id)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	img, err := distribution.Image(s, rec)
	if err != nil {
		return fmt.Errorf("save %s: %w", id, err)
	}
	var imgs []namedImage
	for _, n := range names {
		c, err := reference.Normalize(n)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		imgs = append(imgs, namedImage{img, c})
	}
	if len(imgs) == 0 {
		imgs = []namedImage{{img, ""}}
	}
	return write(s, imgs, format, w, "")
}

func write(s *store.Store, imgs []namedImage, format string, w io.Writer, dest string) error {
	switch format {
	case "", FormatDockerArchive:
		m := map[name.Reference]v1.Image{}
		for _, n := range imgs {
			if n.name == "" {
				d, _ := n.img.Digest()
				ref, err := name.NewDigest("sha256-image@" + d.String())
				if err != nil {
					return err
				}
				m[ref] = n.img
				continue
			}
			t, err := name.NewTag(n.name)
			if err != nil {
				return err
			}
			m[t] = n.img
		}
		if err := tarball.MultiRefWrite(m, w); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		return nil
	case FormatOCIArchive:
		tmp, err := os.MkdirTemp(filepath.Join(s.Root(), "image", "tmp"), "save-")
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir := filepath.Join(tmp, "layout")
		if err := writeLayout(dir, imgs); err != nil {
			return err
		}
		if err := tarTree(dir, w); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		return nil
	case FormatOCIDir:
		return writeLayout(dest, imgs)
	}
	return fmt.Errorf("save: unknown format %q (want %s, %s or %s)", format, FormatDockerArchive, FormatOCIArchive, FormatOCIDir)
}

type namedImage struct {
	img  v1.Image
	name string // canonical name:tag, or "" when saved by ID
}

// writeLayout writes imgs as a new OCI layout at dest, each image named in
// index.json by the annotations containerd and Podman read.
func writeLayout(dest string, imgs []namedImage) error {
	p, err := layout.Write(dest, empty.Index)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	for _, n := range imgs {
		var o []layout.Option
		if n.name != "" {
			o = append(o, layout.WithAnnotations(map[string]string{annotationRefName: n.name, annotationContainerdRef: n.name}))
		}
		img, err := withOCIMediaTypes(n.img)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		if err := p.AppendImage(img, o...); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	return nil
}

// ociTypes maps Docker schema 2 media types to their OCI equivalents.
var ociTypes = map[types.MediaType]types.MediaType{
	types.DockerManifestSchema2:   types.OCIManifestSchema1,
	types.DockerConfigJSON:        types.OCIConfigJSON,
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
}

// withOCIMediaTypes returns img with a manifest in OCI media types, as
// podman save and skopeo write OCI layouts: image-spec tools (umoci)
// refuse a Docker schema 2 manifest in a layout. Only the manifest is
// rewritten; config and layer blobs are the same bytes, so the image ID
// (config digest) is kept, while the manifest digest changes.
func withOCIMediaTypes(img v1.Image) (v1.Image, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	changed := false
	conv := func(mt *types.MediaType) {
		if o, ok := ociTypes[*mt]; ok {
			*mt, changed = o, true
		}
	}
	conv(&m.MediaType)
	conv(&m.Config.MediaType)
	for i := range m.Layers {
		conv(&m.Layers[i].MediaType)
	}
	if !changed {
		return img, nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	d, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &ociImage{Image: img, manifest: m, raw: raw, digest: d, size: size}, nil
}

// ociImage is an image seen through another manifest for the same blobs.
type ociImage struct {
	v1.Image
	manifest *v1.Manifest
	raw      []byte
	digest   v1.Hash
	size     int64
}

func (i *ociImage) MediaType() (types.MediaType, error) { return i.manifest.MediaType, nil }
func (i *ociImage) Manifest() (*v1.Manifest, error)     { return i.manifest.DeepCopy(), nil }
func (i *ociImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *ociImage) Digest() (v1.Hash, error)            { return i.digest, nil }
func (i *ociImage) Size() (int64, error)                { return i.size, nil }

// tarTree writes the regular files and directories under dir to w as a
// tarball with paths relative to dir.
func tarTree(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if d.IsDir() {
			hdr.Name += "/"
			return tw.WriteHeader(hdr)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", rel)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isID(ref string, rec store.Image) bool {
	return len(ref) >= 4 && (ref == rec.ID.String() || (len(ref) <= 64 && rec.ID.Hex[:len(ref)] == ref))
}
