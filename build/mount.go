package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-dev/berth/dockerfile"
)

// Mount is a RUN --mount as the backend makes it: nothing of it goes
// into the step's layer, not even the target that the mount needed made.
type Mount struct {
	Type     string // cache, bind, tmpfs, secret
	Target   string // absolute
	ReadOnly bool
	// Tar writes a bind's files (from the context, a stage or an
	// image), unpacked into a directory of the step's only, so that
	// rw writes are discarded with it; for a cache, the files a new
	// cache starts with (--mount from=). File, when set, is the one
	// file of the bind (a file source).
	Tar  func(w io.Writer) error
	File string
	// CacheID names the cache's directory (BuildKit's id, the target by
	// default); Sharing is shared, private or locked.
	CacheID string
	Sharing string
	// Mode, UID, GID of a new cache directory or of a secret's file.
	Mode     fs.FileMode
	UID, GID int
	Size     int64  // tmpfs: bytes, 0: the kernel's default
	Data     []byte // secret: its content
}

// mountSet is a RUN's mounts, what they add to its cache key, the
// secrets it gets as environment, and what to release after the step.
type mountSet struct {
	mounts  []Mount
	key     string
	env     []string
	release []func()
}

func (ms *mountSet) close() {
	for _, r := range ms.release {
		r()
	}
}

// mounts resolves a RUN's --mount flags.
func (bd *builder) mounts(ctx context.Context, si int, s *state, c *instructions.RunCommand) (*mountSet, error) {
	ms := &mountSet{}
	h := sha256.New()
	for _, m := range instructions.GetMounts(c) {
		bm, err := bd.mount(ctx, si, s, m, ms, h)
		if err != nil {
			ms.close()
			return nil, err
		}
		if bm != nil {
			ms.mounts = append(ms.mounts, *bm)
		}
	}
	if len(instructions.GetMounts(c)) > 0 {
		ms.key = hex.EncodeToString(h.Sum(nil))
	}
	return ms, nil
}

func (bd *builder) mount(ctx context.Context, si int, s *state, m *instructions.Mount, ms *mountSet, h io.Writer) (*Mount, error) {
	target := m.Target
	if target != "" && !path.IsAbs(target) {
		target = dockerfile.Workdir(s.cfg.Config.WorkingDir, target)
	}
	bm := &Mount{Type: string(m.Type), Target: path.Clean(target), ReadOnly: m.ReadOnly}
	if target != "" && bm.Target == "/" {
		return nil, fmt.Errorf("--mount type=%s: cannot mount over the root directory", m.Type)
	}
	if m.Mode != nil {
		if *m.Mode > 0o7777 {
			return nil, fmt.Errorf("--mount mode=%o: not a file mode", *m.Mode)
		}
		bm.Mode = fs.FileMode(*m.Mode)
	}
	if m.UID != nil {
		bm.UID = int(*m.UID)
	}
	if m.GID != nil {
		bm.GID = int(*m.GID)
	}
	fmt.Fprintf(h, "%s\x00%s\x00%t\x00%o\x00%d\x00%d\x00", bm.Type, bm.Target, bm.ReadOnly, bm.Mode, bm.UID, bm.GID)
	switch m.Type {
	case instructions.MountTypeSecret:
		id := m.CacheID
		if id == "" {
			id = m.Source
		}
		if id == "" {
			id = path.Base(target)
		}
		env := ""
		if m.Env != nil {
			env = *m.Env
		}
		fmt.Fprintf(h, "secret\x00%s\x00%s\x00%t\x00", id, env, m.Required)
		data, ok := bd.o.Secrets[id]
		if !ok {
			if m.Required {
				return nil, fmt.Errorf("secret %s: not found", id)
			}
			return nil, nil
		}
		if env != "" {
			ms.env = append(ms.env, env+"="+string(data))
			if m.Target == "" {
				return nil, nil
			}
		}
		if m.Target == "" {
			bm.Target = "/run/secrets/" + id
		}
		if m.Mode == nil {
			bm.Mode = 0o400
		}
		bm.Data, bm.ReadOnly = data, true
		return bm, nil
	case instructions.MountTypeTmpfs:
		if target == "" {
			return nil, fmt.Errorf("--mount type=tmpfs: a target is required")
		}
		bm.Size = m.SizeLimit
		fmt.Fprintf(h, "tmpfs\x00%d\x00", bm.Size)
		return bm, nil
	case instructions.MountTypeCache:
		if target == "" {
			return nil, fmt.Errorf("--mount type=cache: a target is required")
		}
		bm.CacheID = m.CacheID
		if bm.CacheID == "" {
			bm.CacheID = bm.Target
		}
		bm.Sharing = string(m.CacheSharing)
		if bm.Sharing == "" {
			bm.Sharing = string(instructions.MountSharingShared)
		}
		if m.Mode == nil {
			bm.Mode = 0o755
		}
		fmt.Fprintf(h, "cache\x00%s\x00%s\x00", bm.CacheID, bm.Sharing)
		if m.From != "" {
			if err := bd.mountSource(ctx, si, m, bm, ms, h); err != nil {
				return nil, err
			}
		}
		return bm, nil
	case instructions.MountTypeBind:
		if target == "" {
			return nil, fmt.Errorf("--mount type=bind: a target is required")
		}
		if err := bd.mountSource(ctx, si, m, bm, ms, h); err != nil {
			return nil, err
		}
		return bm, nil
	}
	return nil, fmt.Errorf("RUN --mount type=%s is not supported", m.Type)
}

// mountSource gives a bind (or a cache's seed) its files: Source of the
// context, or of the stage or image From, with their digest in the key.
func (bd *builder) mountSource(ctx context.Context, si int, m *instructions.Mount, bm *Mount, ms *mountSet, h io.Writer) error {
	src := bd.o.Context
	if m.From != "" {
		img, err := bd.fromImage(ctx, si, m.From)
		if err != nil {
			return err
		}
		dir, rel, err := bd.b.(Mounter).Mount(ctx, img.ID)
		if err != nil {
			return err
		}
		ms.release = append(ms.release, rel)
		if src, err = OpenImageRoot(dir); err != nil {
			return err
		}
		ms.release = append(ms.release, func() { src.Close() })
		fmt.Fprintf(h, "from\x00%s\x00", img.ID)
	}
	rel, err := cleanRel(strings.TrimPrefix(path.Clean("/"+m.Source), "/"))
	if err != nil || rel == "" {
		rel = "."
	}
	fi, err := src.root.Stat(src.resolve(rel))
	if err != nil {
		return fmt.Errorf("--mount source=%s: %w", m.Source, statErr(rel, err))
	}
	name := "."
	if !fi.IsDir() {
		name = path.Base(rel)
		bm.File = name
	}
	es, err := src.entries(rel, name)
	if err != nil {
		return err
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	fmt.Fprintf(h, "source\x00%s\x00", rel)
	hh := sha256.New()
	if err := src.sumEntries(hh, es); err != nil {
		return err
	}
	h.Write(hh.Sum(nil))
	bm.Tar = func(w io.Writer) error { return src.writeTar(w, es, nil) }
	return nil
}
