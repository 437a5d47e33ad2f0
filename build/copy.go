package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
)

// entry is one file of a COPY's sources: its context path, and its name
// in the tar (relative to the copy's Dest).
type entry struct {
	ctx  string
	name string
	fi   fs.FileInfo
	link string
	// data is a heredoc's content (inline), not read from the context.
	data   []byte
	inline bool
	// host is a downloaded file (ADD URL), sum its digest.
	host string
	sum  []byte
}

// copySet is what one COPY or ADD puts in: copies in order, and the
// digest of their content for the cache key.
type copySet struct {
	copies []Copy
	sum    string
}

// hasMeta says whether a source is a glob.
func hasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// matchSources expands a source (a context path, maybe a glob) into the
// context paths it names. The sources are checked to be in the context.
func (c *Context) matchSources(src string) ([]string, error) {
	if strings.HasPrefix(path.Clean(src), "../") || path.Clean(src) == ".." {
		return nil, fmt.Errorf("forbidden path outside the build context: %s", src)
	}
	rel, err := cleanRel(src)
	if err != nil {
		return nil, fmt.Errorf("forbidden path outside the build context: %s", src)
	}
	if !hasMeta(rel) {
		if c.Ignored(rel) {
			return nil, fmt.Errorf("%q: not found", "/"+strings.TrimPrefix(rel, "."))
		}
		if _, err := c.root.Stat(c.resolve(rel)); err != nil {
			return nil, statErr(src, err)
		}
		return []string{rel}, nil
	}
	if _, err := path.Match(rel, ""); err != nil {
		return nil, fmt.Errorf("invalid glob %q: %w", src, err)
	}
	var out []string
	err = fs.WalkDir(c.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if ok, _ := path.Match(rel, p); ok && !c.Ignored(p) {
			out = append(out, p)
		}
		// A pattern of n components matches no deeper path.
		if d.IsDir() && strings.Count(p, "/") >= strings.Count(rel, "/") {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: not found", "/"+rel)
	}
	return out, nil
}

func statErr(src string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%q: not found", "/"+strings.TrimPrefix(path.Clean("/"+src), "/"))
	}
	if strings.Contains(err.Error(), "escapes") {
		return fmt.Errorf("forbidden path outside the build context: %s (a symlink leads out)", src)
	}
	return fmt.Errorf("%s: %w", src, err)
}

// entries lists a source: a file (a top-level symlink followed, in the
// context) as itself, a directory as its contents below it, with their
// symlinks kept as links.
func (c *Context) entries(rel, name string) ([]entry, error) {
	rel = c.resolve(rel)
	fi, err := c.root.Stat(rel)
	if err != nil {
		return nil, statErr(rel, err)
	}
	if !fi.IsDir() {
		return []entry{{ctx: rel, name: name, fi: fi}}, nil
	}
	var out []entry
	err = fs.WalkDir(c.root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == rel {
			return nil
		}
		if c.Ignored(p) {
			if d.IsDir() && (c.pm == nil || !c.pm.Exclusions()) {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := c.root.Lstat(p)
		if err != nil {
			return err
		}
		if m := fi.Mode(); !m.IsRegular() && !m.IsDir() && m&fs.ModeSymlink == 0 {
			return nil // sockets, fifos, devices: not build input
		}
		e := entry{ctx: p, name: path.Join(name, strings.TrimPrefix(p, rel+"/")), fi: fi}
		if rel == "." {
			e.name = path.Join(name, p)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if e.link, err = c.root.Readlink(p); err != nil {
				return err
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read context %s: %w", rel, err)
	}
	return out, nil
}

// sumEntries adds the entries' names, types, modes, link targets and
// contents (never their times) to h.
func (c *Context) sumEntries(h hash.Hash, es []entry) error {
	for _, e := range es {
		fmt.Fprintf(h, "%s\x00%o\x00%s\x00", e.name, uint32(e.fi.Mode()), e.link)
		if e.inline {
			h.Write(inlineDigest(e.data))
		} else if e.host != "" {
			h.Write(e.sum)
		} else if e.fi.Mode().IsRegular() {
			sum, err := c.fileDigest(e)
			if err != nil {
				return fmt.Errorf("read %s: %w", e.ctx, err)
			}
			h.Write(sum)
		}
		h.Write([]byte{0})
	}
	return nil
}

// writeTar writes the entries as a tar, chmod (when set) giving their
// permissions.
func (c *Context) writeTar(w io.Writer, es []entry, chmod chmodFn) error {
	tw := tar.NewWriter(w)
	for _, e := range es {
		hdr, err := tar.FileInfoHeader(e.fi, e.link)
		if err != nil {
			return err
		}
		hdr.Name = e.name
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if e.fi.IsDir() {
			hdr.Name += "/"
		}
		if chmod != nil && e.fi.Mode()&fs.ModeSymlink == 0 {
			hdr.Mode = int64(unixMode(chmod(e.fi.Mode(), e.fi.IsDir())))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.inline {
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		} else if e.host != "" {
			f, err := os.Open(e.host)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("read %s: %w", e.host, err)
			}
		} else if e.fi.Mode().IsRegular() {
			f, err := c.root.Open(e.ctx)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("read %s: %w", e.ctx, err)
			}
		}
	}
	return tw.Close()
}

// copyArgs are a COPY's or ADD's resolved arguments.
type copyArgs struct {
	srcs     []string
	dest     string // absolute, WORKDIR applied
	chown    string
	chmod    string
	unpack   bool                         // ADD: local archives are unpacked
	inline   []instructions.SourceContent // heredocs: COPY <<EOF
	remote   []*remoteFile                // ADD URL, downloaded
	urls     []string                     // ADD URL, to download
	checksum string                       // ADD --checksum
	exclude  []string                     // --exclude, as .dockerignore's patterns
	parents  bool                         // COPY --parents
	from     *Context
	fromName string
}

// plan turns a COPY into the copies the backend makes, and their digest.
func (a copyArgs) plan() (copySet, error) {
	chmod, err := parseChmod(a.chmod)
	if err != nil {
		return copySet{}, err
	}
	ctx := a.from
	excluded, err := excluder(a.exclude)
	if err != nil {
		return copySet{}, err
	}
	var rels []string
	keep := map[string]string{} // --parents: the path a source keeps under dest
	for _, s := range a.srcs {
		m, err := ctx.matchSources(s)
		if err != nil {
			return copySet{}, err
		}
		pivot := "."
		if parent, _, ok := strings.Cut(s, "/./"); ok {
			if pivot, err = cleanRel(parent); err != nil {
				return copySet{}, err
			}
		}
		for _, rel := range m {
			if excluded(rel, rel) {
				continue
			}
			rels = append(rels, rel)
			if k, ok := strings.CutPrefix(rel, pivot+"/"); ok && pivot != "." {
				keep[rel] = k
			} else {
				keep[rel] = rel
			}
		}
	}
	destDir := strings.HasSuffix(a.dest, "/") || strings.HasSuffix(a.dest, "/.") || a.parents
	if len(rels)+len(a.inline)+len(a.remote) > 1 && !destDir {
		return copySet{}, errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	dest := path.Clean(a.dest)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%t\x00%q\x00", dest, a.chown, a.chmod, a.parents, a.exclude)
	var set copySet
	for _, rel := range rels {
		fi, err := ctx.root.Stat(ctx.resolve(rel))
		if err != nil {
			return copySet{}, statErr(rel, err)
		}
		if a.unpack && fi.Mode().IsRegular() {
			if ok, err := ctx.isArchive(ctx.resolve(rel)); err != nil {
				return copySet{}, err
			} else if ok {
				es := []entry{{ctx: ctx.resolve(rel), name: "archive", fi: fi}}
				fmt.Fprintf(h, "unpack\x00")
				if err := ctx.sumEntries(h, es); err != nil {
					return copySet{}, err
				}
				set.copies = append(set.copies, Copy{Dest: dest, Chown: a.chown, Tar: ctx.archiveTar(ctx.resolve(rel))})
				continue
			}
		}
		var es []entry
		cp := Copy{Chown: a.chown}
		switch {
		case a.parents:
			cp.Dest = dest
			es, err = ctx.entries(rel, keep[rel])
		case fi.IsDir():
			cp.Dest = dest
			es, err = ctx.entries(rel, ".")
		case destDir:
			cp.Dest = dest
			es, err = ctx.entries(rel, path.Base(rel))
		default:
			// A file to a path: its parent is the copy's directory,
			// unless the path is a directory in the image.
			cp.Dest = path.Dir(dest)
			es, err = ctx.entries(rel, path.Base(dest))
			if err == nil {
				into := []entry{es[0]}
				into[0].name = path.Base(rel)
				cp.IfDir = dest
				cp.Alt = &Copy{Dest: dest, Chown: a.chown, Tar: func(w io.Writer) error { return ctx.writeTar(w, into, chmod) }}
			}
		}
		if err != nil {
			return copySet{}, err
		}
		if len(a.exclude) > 0 {
			es = slices.DeleteFunc(es, func(e entry) bool { return excluded(e.ctx, strings.TrimPrefix(e.name, "./")) })
		}
		sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
		if err := ctx.sumEntries(h, es); err != nil {
			return copySet{}, err
		}
		cp.Tar = func(w io.Writer) error { return ctx.writeTar(w, es, chmod) }
		set.copies = append(set.copies, cp)
	}
	for _, rf := range a.remote {
		e := entry{name: rf.name, fi: rf.fi, host: rf.file, sum: rf.sum}
		cp := Copy{Chown: a.chown, Dest: dest}
		if !destDir {
			// A file to a path, or into the directory that it names.
			cp.Dest, e.name = path.Dir(dest), path.Base(dest)
			into := []entry{e}
			into[0].name = rf.name
			cp.IfDir = dest
			cp.Alt = &Copy{Dest: dest, Chown: a.chown, Tar: func(w io.Writer) error { return ctx.writeTar(w, into, chmod) }}
		}
		es := []entry{e}
		fmt.Fprintf(h, "url\x00%s\x00%d\x00", rf.url, rf.fi.mtime.Unix())
		if err := ctx.sumEntries(h, es); err != nil {
			return copySet{}, err
		}
		cp.Tar = func(w io.Writer) error { return ctx.writeTar(w, es, chmod) }
		set.copies = append(set.copies, cp)
	}
	for _, in := range a.inline {
		cp := Copy{Chown: a.chown, Dest: dest}
		name := path.Base(path.Clean("/" + in.Path))
		if !destDir {
			cp.Dest, name = path.Dir(dest), path.Base(dest)
		}
		es := []entry{inlineEntry(name, in.Data)}
		fmt.Fprintf(h, "inline\x00")
		if err := ctx.sumEntries(h, es); err != nil {
			return copySet{}, err
		}
		cp.Tar = func(w io.Writer) error { return ctx.writeTar(w, es, chmod) }
		set.copies = append(set.copies, cp)
	}
	set.sum = hex.EncodeToString(h.Sum(nil))
	return set, nil
}

// isArchive says whether a context file is a tar, plain or compressed
// (gzip, bzip2, zstd), which ADD unpacks.
func (c *Context) isArchive(rel string) (bool, error) {
	f, err := c.root.Open(rel)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return false, nil
	}
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}

// archiveTar streams the archive's tar, decompressed.
func (c *Context) archiveTar(rel string) func(io.Writer) error {
	return func(w io.Writer) error {
		f, err := c.root.Open(rel)
		if err != nil {
			return err
		}
		defer f.Close()
		r, err := decompress(f)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		return err
	}
}

func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return br, nil
}

// excluder matches --exclude patterns (as .dockerignore's) against a
// file's context path and its path under the copy's destination.
func excluder(patterns []string) (func(ctxPath, name string) bool, error) {
	if len(patterns) == 0 {
		return func(string, string) bool { return false }, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("--exclude: %w", err)
	}
	return func(ctxPath, name string) bool {
		for _, p := range []string{ctxPath, name} {
			if ok, _ := pm.MatchesOrParentMatches(p); ok {
				return true
			}
		}
		return false
	}, nil
}
