package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is the build context: a directory read through os.Root, so
// that no path or symlink in it reaches outside, less what the ignore
// file excludes.
type Context struct {
	root *os.Root
	pm   *patternmatcher.PatternMatcher
	// image is the directory when the context is an image's root (COPY
	// --from): its symlinks resolve inside it, absolute ones too.
	image string
	sums  *sumCache // nil: every file read for its digest
}

// OpenImageRoot opens an image's root file system as a COPY --from
// source.
func OpenImageRoot(dir string) (*Context, error) {
	c, err := OpenContext(dir)
	if err != nil {
		return nil, err
	}
	c.image = dir
	return c, nil
}

// resolve is the path to read for the source rel: rel itself in a build
// context (os.Root refuses links out of it), rel with its symlinks
// resolved inside the root in an image.
func (c *Context) resolve(rel string) string {
	if c.image == "" {
		return rel
	}
	p, err := securejoin.SecureJoin(c.image, rel)
	if err != nil {
		return rel
	}
	r, err := filepath.Rel(c.image, p)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return rel
	}
	return filepath.ToSlash(r)
}

// OpenContext opens the directory dir as a context.
func OpenContext(dir string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: path %q not found", dir)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: %q is not a directory", dir)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	return &Context{root: r}, nil
}

// Close releases the context's directory.
func (c *Context) Close() error { return c.root.Close() }

// ReadFile reads a file of the context (the Dockerfile, the ignore
// file), not subject to the ignore patterns.
func (c *Context) ReadFile(name string) ([]byte, error) {
	name, err := cleanRel(name)
	if err != nil {
		return nil, err
	}
	f, err := c.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 4<<20))
}

// LoadIgnore reads the ignore file that goes with the Dockerfile df (a
// context path, "" when it is outside the context) as BuildKit and
// Podman find it: DF.dockerignore next to it, else .dockerignore, else
// .containerignore at the root. It returns the name read ("" for none).
func (c *Context) LoadIgnore(df string) (string, error) {
	var names []string
	if df != "" {
		names = append(names, df+".dockerignore", df+".containerignore")
	}
	names = append(names, ".dockerignore", ".containerignore")
	for _, n := range names {
		b, err := c.ReadFile(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", n, err)
		}
		pats, err := ignorefile.ReadAll(strings.NewReader(string(b)))
		if err != nil {
			return "", fmt.Errorf("read %s: %w", n, err)
		}
		pm, err := patternmatcher.New(pats)
		if err != nil {
			return "", fmt.Errorf("%s: %w", n, err)
		}
		c.pm = pm
		return n, nil
	}
	return "", nil
}

// Ignored says whether the context path p (relative, cleaned) is left
// out.
func (c *Context) Ignored(p string) bool {
	if c.pm == nil || p == "." {
		return false
	}
	ok, err := c.pm.MatchesOrParentMatches(filepath.ToSlash(p))
	return err == nil && ok
}

// cleanRel makes a context path relative and clean, refusing one that
// climbs out ("../x").
func cleanRel(p string) (string, error) {
	c := path.Clean("/" + filepath.ToSlash(p))
	orig := path.Clean(filepath.ToSlash(p))
	if orig == ".." || strings.HasPrefix(orig, "../") {
		return "", fmt.Errorf("%s: %w", p, ErrOutsideContext)
	}
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

// ErrOutsideContext is wrapped by errors of paths outside the context.
var ErrOutsideContext = errors.New("outside of the build context")

// ExtractContext unpacks a context tar (stdin, a file) into dir, which
// must be empty: regular files, directories, symlinks and hard links
// only, every name confined to dir (os.Root refuses the rest).
func ExtractContext(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read context tar: %w", err)
		}
		name, err := cleanRel(hdr.Name)
		if err != nil {
			return fmt.Errorf("context tar: entry %q: %w", hdr.Name, ErrOutsideContext)
		}
		if name == "." {
			continue
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("context tar: %s: %w", hdr.Name, err)
			}
		}
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, mode|0o700); err != nil {
				return fmt.Errorf("context tar: %s: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
			if err != nil {
				return fmt.Errorf("context tar: %s: %w", hdr.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("context tar: %s: %w", hdr.Name, err)
			}
			_ = root.Chmod(name, mode)
		case tar.TypeSymlink:
			// Kept as a link; whether it may be followed is decided when
			// it is read, through the root.
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("context tar: %s: %w", hdr.Name, err)
			}
		case tar.TypeLink:
			target, err := cleanRel(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("context tar: link %q: %w", hdr.Name, err)
			}
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("context tar: %s: %w", hdr.Name, err)
			}
		default:
			// Devices, fifos: not build input.
			continue
		}
		_ = root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	}
}
