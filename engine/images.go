package engine

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
)

// The image service: the image policy that the CLI and the Docker API
// share (listing and its filters, inspect's shape, history with layer
// sizes, removal and prune with the GC after them). Records are the
// store's.
type (
	Image        = store.Image
	Layer        = store.Layer
	RemoveResult = store.RemoveResult
	GCResult     = store.GCResult
)

// ErrImageNotFound is wrapped by lookups of images that are not there.
var ErrImageNotFound = store.ErrNotFound

// ImageInspect is Docker's `image inspect` shape (the fields Berth knows).
type ImageInspect struct {
	ID           string             `json:"Id"`
	RepoTags     []string           `json:"RepoTags"`
	RepoDigests  []string           `json:"RepoDigests"`
	Created      string             `json:"Created"`
	Author       string             `json:"Author,omitempty"`
	Architecture string             `json:"Architecture"`
	Variant      string             `json:"Variant,omitempty"`
	Os           string             `json:"Os"`
	Size         int64              `json:"Size"`
	Config       v1.Config          `json:"Config"`
	RootFS       ImageInspectRootFS `json:"RootFS"`
	Metadata     map[string]any     `json:"Metadata"`
	Descriptor   ImageDescriptor    `json:"Descriptor"`
	History      []v1.History       `json:"History,omitempty"`
}

// ImageInspectRootFS lists an image's layer diffIDs.
type ImageInspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// ImageDescriptor is the manifest an image was stored from.
type ImageDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// config reads an image's config blob.
func (e *Engine) config(img Image) (*v1.ConfigFile, error) {
	raw, err := e.images.ReadBlob(img.ID)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	return cf, nil
}

// InspectImage resolves ref and describes the image as Docker does.
func (e *Engine) InspectImage(ref string) (ImageInspect, error) {
	rec, err := e.images.Resolve(ref)
	if err != nil {
		return ImageInspect{}, err
	}
	cf, err := e.config(rec)
	if err != nil {
		return ImageInspect{}, fmt.Errorf("image %s: %w", ref, err)
	}
	j := ImageInspect{
		ID: rec.ID.String(), RepoTags: Familiar(rec.Names), RepoDigests: Familiar(rec.RepoDigests),
		Created: cf.Created.Time.UTC().Format(time.RFC3339Nano), Author: cf.Author,
		Architecture: cf.Architecture, Variant: cf.Variant, Os: cf.OS, Size: rec.Size(),
		Config: cf.Config, RootFS: ImageInspectRootFS{Type: "layers", Layers: []string{}}, History: cf.History,
		Metadata:   map[string]any{"LastTagTime": rec.Stored.Format(time.RFC3339Nano)},
		Descriptor: ImageDescriptor{MediaType: rec.ManifestMediaType, Digest: rec.Manifest.String(), Size: rec.ManifestSize},
	}
	for _, d := range cf.RootFS.DiffIDs {
		j.RootFS.Layers = append(j.RootFS.Layers, d.String())
	}
	return j, nil
}

// Familiar turns canonical names into the short forms Docker prints
// ("busybox:latest"), sorted; never nil.
func Familiar(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, reference.Familiar(n))
	}
	sort.Strings(out)
	return out
}

// HistoryEntry is one step of an image's history with the size of the
// layer it made (unpacked, as Docker shows it; 0 for an empty layer).
type HistoryEntry struct {
	ID         string // the image ID on the newest entry, "" on the others
	Created    time.Time
	CreatedBy  string
	Comment    string
	Size       int64
	EmptyLayer bool
}

// ImageHistory is the history of ref, newest first. An image whose config
// has no history gets one entry per layer.
func (e *Engine) ImageHistory(ref string) ([]HistoryEntry, error) {
	rec, err := e.images.Resolve(ref)
	if err != nil {
		return nil, err
	}
	cf, err := e.config(rec)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", ref, err)
	}
	hist := cf.History
	if len(hist) == 0 {
		for range rec.Layers {
			hist = append(hist, v1.History{Created: cf.Created})
		}
	}
	out := make([]HistoryEntry, len(hist))
	layer := 0
	for i, h := range hist {
		ent := HistoryEntry{Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if !h.EmptyLayer {
			if layer < len(rec.Layers) {
				ent.Size = e.layerSize(rec.Layers[layer])
			}
			layer++
		}
		out[len(hist)-1-i] = ent
	}
	if len(out) > 0 {
		out[0].ID = rec.ID.String()
	}
	return out, nil
}

// layerSize is the unpacked size of a layer (regular files and symlinks);
// the compressed size when the layer is not unpacked.
func (e *Engine) layerSize(l Layer) int64 {
	var n int64
	err := filepath.WalkDir(e.images.Snapshots().Path(l.DiffID), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return l.Size
	}
	return n
}

// ImageFilter is `images --filter` with Docker's keys and rules: several
// reference= filters match if any does, several label= filters must all
// match, and the different keys must all match.
type ImageFilter struct {
	dangling   *bool
	references []string
	before     *time.Time
	since      *time.Time
	labels     [][2]string // key, value
	hasValue   []bool
}

// ParseImageFilters reads KEY=VALUE filters; before= and since= name
// images, which must exist.
func (e *Engine) ParseImageFilters(args []string) (*ImageFilter, error) {
	f := &ImageFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || v == "" && k != "label" {
			return nil, fmt.Errorf("invalid filter %q: want KEY=VALUE", a)
		}
		switch strings.ToLower(k) {
		case "dangling":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("invalid filter %q: dangling takes true or false", a)
			}
			if f.dangling != nil && *f.dangling != b {
				return nil, fmt.Errorf("invalid filter %q: conflicts with an earlier dangling filter", a)
			}
			f.dangling = &b
		case "reference":
			if _, err := path.Match(v, ""); err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", a, err)
			}
			f.references = append(f.references, v)
		case "before", "since":
			img, err := e.images.Resolve(v)
			if err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", a, err)
			}
			t := img.Created
			if strings.ToLower(k) == "before" {
				f.before = &t
			} else {
				f.since = &t
			}
		case "label":
			lk, lv, has := strings.Cut(v, "=")
			if lk == "" {
				return nil, fmt.Errorf("invalid filter %q: label needs a key", a)
			}
			f.labels = append(f.labels, [2]string{lk, lv})
			f.hasValue = append(f.hasValue, has)
		default:
			return nil, fmt.Errorf("invalid filter %q: unknown key %q (berth knows dangling, reference, before, since, label)", a, k)
		}
	}
	return f, nil
}

// ListImages is every image (newest first) that passes f (nil: all);
// with reference= filters an image keeps only the names that match, and
// images left without one are dropped, as in Docker.
func (e *Engine) ListImages(f *ImageFilter) ([]Image, error) {
	imgs, err := e.images.Images()
	if err != nil || f == nil {
		return imgs, err
	}
	out := imgs[:0]
	for _, img := range imgs {
		if f.dangling != nil && (len(img.Names) == 0) != *f.dangling {
			continue
		}
		if f.before != nil && !img.Created.Before(*f.before) {
			continue
		}
		if f.since != nil && !img.Created.After(*f.since) {
			continue
		}
		if len(f.labels) > 0 {
			ok, err := e.labelsMatch(f, img)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		if len(f.references) > 0 {
			if img.Names = f.matchNames(img.Names); len(img.Names) == 0 {
				continue
			}
		}
		out = append(out, img)
	}
	return out, nil
}

func (e *Engine) labelsMatch(f *ImageFilter, img Image) (bool, error) {
	cf, err := e.config(img)
	if err != nil {
		return false, err
	}
	for i, l := range f.labels {
		v, ok := cf.Config.Labels[l[0]]
		if !ok || f.hasValue[i] && v != l[1] {
			return false, nil
		}
	}
	return true, nil
}

// matchNames keeps the canonical names whose familiar "repo:tag" or bare
// "repo" matches a reference= pattern.
func (f *ImageFilter) matchNames(names []string) []string {
	var out []string
	for _, n := range names {
		repo, tag := reference.SplitTag(n)
		repo = reference.Familiar(repo)
		for _, p := range f.references {
			if m, _ := path.Match(p, repo+":"+tag); m {
				out = append(out, n)
				break
			}
			if m, _ := path.Match(p, repo); m {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// RemoveImages is `rmi`: each ref in turn, in one transaction; then a GC
// takes the content nothing uses any more. errs[i] is ref i's refusal.
func (e *Engine) RemoveImages(refs []string, force bool) (res []RemoveResult, errs []error, err error) {
	// The IDs first, for the untag events (a result names what it untagged).
	imgs := make([]*Image, len(refs))
	for i, r := range refs {
		if img, err := e.images.Resolve(r); err == nil {
			imgs[i] = &img
		}
	}
	res, errs, err = e.images.RemoveMany(refs, force)
	if err != nil {
		return nil, nil, err
	}
	for i, r := range res {
		if i < len(imgs) {
			e.emitRemoved(imgs[i], r)
		}
	}
	if _, gerr := e.GC(); gerr != nil {
		err = gerr
	}
	return res, errs, err
}

// PruneReport says what PruneImages removed.
type PruneReport struct {
	Deleted  []v1.Hash
	Untagged []string
	GCResult
}

// PruneImages is `image prune`: the images without a name (all with all)
// that no container uses, then a GC.
func (e *Engine) PruneImages(all bool) (PruneReport, error) {
	var rep PruneReport
	res, err := e.images.Prune(all)
	if err != nil {
		return rep, err
	}
	for _, r := range res {
		rep.Deleted = append(rep.Deleted, r.Deleted...)
		e.emitRemoved(nil, r)
		rep.Untagged = append(rep.Untagged, r.Untagged...)
	}
	rep.GCResult, err = e.GC()
	return rep, err
}

// Tidy removes what a failed pull, load or import left unreferenced
// (layers unpacked before a later one failed): the default lease goes
// first, so that its content is no longer kept.
func (e *Engine) Tidy() {
	if e.lease.Release() == nil {
		_, _ = e.GC()
	}
}

// emitRemoved emits an rmi's or a prune's events: untag for each name
// taken from the image (img, read before the removal, when known),
// delete for each image gone. Blobs go at the GC after this, so the
// labels can still be read.
func (e *Engine) emitRemoved(img *Image, r RemoveResult) {
	id := ""
	if img != nil {
		id = img.ID.String()
	} else if len(r.Deleted) == 1 {
		id = r.Deleted[0].String()
	}
	for _, n := range r.Untagged {
		e.emitImage("untag", id, reference.Familiar(n), img)
	}
	for _, d := range r.Deleted {
		e.emitImage("delete", d.String(), d.String(), img)
	}
}
