package engine

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/engine/spec"
)

// resolveMounts turns the mount requests of a create into the binds and
// tmpfs mounts of the spec: -v's bind sources are made when missing,
// volumes are created on first use and filled from the image, the
// mounts of --volumes-from containers are added, and the image's VOLUME
// paths that nothing covers get anonymous volumes, as Docker does. made
// lists the volumes created here, for the caller to remove on failure.
func (e *Engine) resolveMounts(o CreateOptions, img *v1.ConfigFile, rootfs string) (out []spec.Mount, made []string, err error) {
	taken := map[string]bool{}
	add := func(m spec.Mount) {
		taken[path.Clean(m.Destination)] = true
		out = append(out, m)
	}
	volume := func(m spec.Mount) error {
		anon := m.Source == ""
		v, created, err := e.CreateVolume(VolumeCreateOptions{Name: m.Source, Anonymous: anon})
		if err != nil {
			return fmt.Errorf("volume for %s: %w", m.Destination, err)
		}
		if created {
			made = append(made, v.Name)
		}
		if !m.NoCopy {
			if err := e.FillVolume(v, rootfs, m.Destination); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
		m.Type, m.Source = spec.MountBind, v.Mountpoint
		m.Options = slices.Clone(m.Options)
		if anon {
			m.Options = append(m.Options, anonymousOption)
		}
		add(m)
		return nil
	}
	for i, list := range [][]spec.Mount{o.Binds, o.Spec.Mounts} {
		for _, m := range list {
			if taken[path.Clean(m.Destination)] {
				return out, made, fmt.Errorf("duplicate mount point: %s", m.Destination)
			}
			switch m.Type {
			case spec.MountVolume:
				if err := volume(m); err != nil {
					return out, made, err
				}
			case spec.MountBind:
				if _, err := os.Lstat(m.Source); errors.Is(err, os.ErrNotExist) {
					if i == 1 {
						return out, made, fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
					}
					if err := os.MkdirAll(m.Source, 0o755); err != nil {
						return out, made, fmt.Errorf("bind source %s: %w", m.Source, err)
					}
				}
				add(m)
			default:
				add(m)
			}
		}
	}
	for _, ref := range o.VolumesFrom {
		name, mode, _ := strings.Cut(ref, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return out, made, fmt.Errorf("invalid --volumes-from %q: mode must be ro or rw", ref)
		}
		src, err := e.LookupContainer(name)
		if err != nil {
			return out, made, fmt.Errorf("--volumes-from %s: %w", name, err)
		}
		for _, mp := range src.Mounts {
			if taken[mp.Destination] {
				continue
			}
			m := spec.Mount{Type: spec.MountBind, Source: mp.Source, Destination: mp.Destination,
				ReadOnly: !mp.RW, Propagation: mp.Propagation}
			if mp.Type == "volume" {
				m.Propagation = ""
			}
			switch mode {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			}
			add(m)
		}
	}
	for dst := range o.Spec.Tmpfs {
		taken[path.Clean(dst)] = true
	}
	if img != nil {
		for _, dst := range slices.Sorted(maps.Keys(img.Config.Volumes)) {
			d := path.Clean(dst)
			if !path.IsAbs(d) || d == "/" || taken[d] {
				continue // Generate reports a bad VOLUME path
			}
			if err := volume(spec.Mount{Type: spec.MountVolume, Destination: d}); err != nil {
				return out, made, err
			}
		}
	}
	return out, made, nil
}
