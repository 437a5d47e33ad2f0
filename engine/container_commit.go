package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/dockerfile"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/runtime/oci"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/archive"
)

// CommitOptions are `commit`'s flags.
type CommitOptions struct {
	Author  string
	Comment string
	// Changes are Dockerfile instructions applied to the new config.
	Changes []string
	// Pause freezes a running container for the time of the commit.
	Pause bool
	// Ref names the new image ("" leaves it unnamed).
	Ref string
}

// commitInstructions are those Docker's commit takes in --change.
var commitInstructions = map[string]bool{
	"CMD": true, "ENTRYPOINT": true, "ENV": true, "EXPOSE": true, "LABEL": true, "ONBUILD": true,
	"STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true, "HEALTHCHECK": true,
}

// parseCommitChanges applies --change to an empty config, as Docker does
// before merging the container's config below it.
func parseCommitChanges(changes []string) (v1.Config, error) {
	var cfg v1.Config
	for _, c := range changes {
		instr, _, _ := strings.Cut(strings.TrimSpace(c), " ")
		if !commitInstructions[strings.ToUpper(instr)] {
			return cfg, fmt.Errorf("%s is not a valid change command", instr)
		}
		cmd, err := dockerfile.ParseChange(c, cfg.Env)
		if err != nil {
			return cfg, err
		}
		if err := dockerfile.Apply(&cfg, cmd); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// CommitContainer makes an image of the container: its image's layers
// plus a new one holding what the container changed (the snapshot's
// diff), and a config that is the container's with --change on top. A
// running container is paused meanwhile unless told not to.
func (e *Engine) CommitContainer(ctx context.Context, ref string, o CommitOptions) (Image, error) {
	changed, err := parseCommitChanges(o.Changes)
	if err != nil {
		return Image{}, err
	}
	if o.Ref != "" {
		c, err := reference.Normalize(o.Ref)
		if err != nil {
			return Image{}, err
		}
		if strings.Contains(c, "@") {
			return Image{}, fmt.Errorf("invalid reference format: %q: a commit is named by a tag, not a digest", o.Ref)
		}
	}
	c, release, err := e.lockedContainer(ref)
	if err != nil {
		return Image{}, err
	}
	defer release()
	done, err := e.intend(opCommit, c.ID)
	if err != nil {
		return Image{}, err
	}
	defer done()
	parent, err := e.images.Resolve(c.Image)
	if err != nil {
		return Image{}, fmt.Errorf("commit %s: image %s: %w", shortID(c.ID), c.Image, err)
	}
	pcfg, err := e.config(parent)
	if err != nil {
		return Image{}, err
	}
	if o.Pause && c.State == StateRunning {
		resume, err := e.pauseForCommit(ctx, &c)
		if err != nil {
			return Image{}, err
		}
		defer resume()
		killPoint("commit-paused")
	}
	img, err := e.commit(c, parent, pcfg, changed, o)
	if err != nil {
		e.Tidy()
		return Image{}, fmt.Errorf("commit %s: %w", shortID(c.ID), err)
	}
	attrs := map[string]string{"comment": o.Comment, "imageID": img.ID.String(), "imageRef": ""}
	if o.Ref != "" {
		if c, err := reference.Normalize(o.Ref); err == nil {
			attrs["imageRef"] = reference.Familiar(c)
		}
	}
	e.emitContainer(&c, "commit", attrs)
	return img, nil
}

// pauseForCommit freezes a running container and returns what thaws it;
// one the user paused stays paused. The commit's intent says "paused"
// first: were the commit killed before it resumed the container, the
// next berth command repairs the intent by thawing it (intents.go).
func (e *Engine) pauseForCommit(ctx context.Context, c *Container) (func(), error) {
	rt, err := e.ociRuntime(c)
	if err != nil {
		return nil, err
	}
	e.noteIntent(opCommit, c.ID, intentPaused)
	switch err := rt.Pause(ctx, c.ID); {
	case err == nil:
		return func() { rt.Resume(context.WithoutCancel(ctx), c.ID) }, nil
	case errors.Is(err, oci.ErrPaused):
		e.unnoteIntent(opCommit, c.ID)
		return func() {}, nil
	default:
		e.unnoteIntent(opCommit, c.ID)
		return nil, fmt.Errorf("commit %s: pause: %w", shortID(c.ID), err)
	}
}

func (e *Engine) commit(c Container, parent Image, pcfg *v1.ConfigFile, changed v1.Config, o CommitOptions) (Image, error) {
	l, err := e.commitLayer(c, parent)
	if err != nil {
		return Image{}, err
	}
	now := time.Now().UTC()
	cf := v1.ConfigFile{
		Architecture: pcfg.Architecture, OS: pcfg.OS, OSVersion: pcfg.OSVersion, Variant: pcfg.Variant,
		Created: v1.Time{Time: now}, Author: o.Author, Container: c.ID,
		Config: commitConfig(changed, c.Config, pcfg.Config),
		RootFS: v1.RootFS{Type: "layers", DiffIDs: append(append([]v1.Hash(nil), pcfg.RootFS.DiffIDs...), l.DiffID)},
		History: append(append([]v1.History(nil), pcfg.History...), v1.History{
			Created: v1.Time{Time: now}, Author: o.Author, Comment: o.Comment,
			CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "),
		}),
	}
	var names []string
	if o.Ref != "" {
		names = append(names, o.Ref)
	}
	return e.writeImage(parent, &l, cf, names)
}

// commitLayer makes the container's changes a layer: gzipped into the
// blob store and, unpacked, into the layer store (a new committed chain
// on the image's), in one pass. The layer's media type follows the
// parent's manifest.
func (e *Engine) commitLayer(c Container, parent Image) (Layer, error) {
	st := e.Images()
	snaps, err := e.Snapshots()
	if err != nil {
		return Layer{}, err
	}
	layerType := types.DockerLayer
	if parent.ManifestMediaType == string(types.OCIManifestSchema1) {
		layerType = types.OCILayer
	}
	w, err := st.NewBlobWriter()
	if err != nil {
		return Layer{}, err
	}
	defer w.Abort()
	l, err := snaps.Commit(c.Snapshot, w, snapshot.DiffOptions{Compression: archive.Gzip})
	if err != nil {
		return Layer{}, err
	}
	killPoint("commit-layer")
	if err := w.Commit(l.Digest, l.Size); err != nil {
		return Layer{}, err
	}
	killPoint("commit-blob")
	// Pinned now (GC may not sweep it before the image names it); gone
	// means a GC came between the unpack and the pin.
	if !st.HasLayer(l.DiffID) {
		return Layer{}, fmt.Errorf("layer %s was collected before it was recorded: commit again", l.DiffID)
	}
	return Layer{Digest: l.Digest, DiffID: l.DiffID, Size: l.Size, MediaType: string(layerType)}, nil
}

// writeImage records an image of the parent's layers plus l (nil: none)
// with the config file cf (whose rootfs it must already list) under
// names.
func (e *Engine) writeImage(parent Image, l *Layer, cf v1.ConfigFile, names []string) (Image, error) {
	st := e.Images()
	oci := parent.ManifestMediaType == string(types.OCIManifestSchema1)
	rawConfig, err := json.Marshal(cf)
	if err != nil {
		return Image{}, err
	}
	configDigest, err := st.PutBlob(rawConfig)
	if err != nil {
		return Image{}, err
	}
	killPoint("commit-config")
	layers := append([]Layer(nil), parent.Layers...)
	if l != nil {
		layers = append(layers, *l)
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(rawConfig)), Digest: configDigest}}
	if oci {
		m.MediaType, m.Config.MediaType = types.OCIManifestSchema1, types.OCIConfigJSON
	}
	for _, pl := range layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(pl.MediaType), Size: pl.Size, Digest: pl.Digest})
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return Image{}, err
	}
	manifestDigest, err := st.PutBlob(rawManifest)
	if err != nil {
		return Image{}, err
	}
	rec := Image{ID: configDigest, Manifest: manifestDigest, ManifestMediaType: string(m.MediaType),
		ManifestSize: int64(len(rawManifest)), Created: cf.Created.Time, Layers: layers}
	killPoint("commit-manifest")
	if err := st.PutImage(rec, names...); err != nil {
		return Image{}, err
	}
	killPoint("commit-recorded")
	return rec, nil
}

// commitConfig is Docker's merge for commit: what --change set, then the
// container's config for what it left unset (environment, labels, ports
// and volumes are merged key by key, --change winning).
func commitConfig(changed v1.Config, ctr ContainerConfig, img v1.Config) v1.Config {
	cfg := changed
	if cfg.User == "" {
		cfg.User = ctr.User
	}
	for p := range img.ExposedPorts {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[p] = struct{}{}
	}
	for _, kv := range ctr.Env {
		k, _, _ := strings.Cut(kv, "=")
		found := false
		for _, u := range cfg.Env {
			if uk, _, _ := strings.Cut(u, "="); uk == k {
				found = true
				break
			}
		}
		if !found {
			cfg.Env = append(cfg.Env, kv)
		}
	}
	for k, v := range ctr.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = ctr.Cmd
		}
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = ctr.Entrypoint
		}
	}
	if cfg.Healthcheck == nil {
		cfg.Healthcheck = img.Healthcheck
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ctr.WorkingDir
	}
	for v := range ctr.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	if len(cfg.OnBuild) == 0 {
		cfg.OnBuild = img.OnBuild
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ctr.StopSignal
	}
	if cfg.Shell == nil {
		cfg.Shell = img.Shell
	}
	cfg.Hostname, cfg.Domainname = ctr.Hostname, ctr.Domainname
	return cfg
}
