package main

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/image/store"
)

// imageFilter is `images --filter`, with Docker's keys and rules:
// several reference= filters match if any does, several label= filters
// must all match, and the different keys must all match.
type imageFilter struct {
	dangling   *bool
	references []string
	before     *time.Time
	since      *time.Time
	labels     [][2]string // key, value ("" value: the key is present)
	hasValue   []bool
}

// parseImageFilters reads KEY=VALUE filter flags; before= and since=
// name images, which must exist.
func parseImageFilters(s *store.Store, args []string) (*imageFilter, error) {
	f := &imageFilter{}
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
			img, err := s.Resolve(v)
			if err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", a, err)
			}
			t := img.Created
			if k == "before" {
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

// images keeps the images that pass the image-level filters.
func (f *imageFilter) images(s *store.Store, imgs []store.Image) ([]store.Image, error) {
	out := make([]store.Image, 0, len(imgs))
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
			ok, err := f.labelsMatch(s, img)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, img)
	}
	return out, nil
}

func (f *imageFilter) labelsMatch(s *store.Store, img store.Image) (bool, error) {
	raw, err := s.ReadBlob(img.ID)
	if err != nil {
		return false, fmt.Errorf("image %s: %w", img.ID, err)
	}
	cf, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
	if err != nil {
		return false, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	for i, l := range f.labels {
		v, ok := cf.Config.Labels[l[0]]
		if !ok || f.hasValue[i] && v != l[1] {
			return false, nil
		}
	}
	return true, nil
}

// rows keeps the rows whose name matches a reference= pattern (Docker
// matches the familiar "repo:tag" and the bare "repo").
func (f *imageFilter) rows(rows []imageRow) []imageRow {
	if len(f.references) == 0 {
		return rows
	}
	var out []imageRow
	for _, r := range rows {
		if r.Repository == "<none>" {
			continue
		}
		for _, p := range f.references {
			full := r.Repository + ":" + r.Tag
			if m, _ := path.Match(p, full); m {
				out = append(out, r)
				break
			}
			if m, _ := path.Match(p, r.Repository); m {
				out = append(out, r)
				break
			}
		}
	}
	return out
}
