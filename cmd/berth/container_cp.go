package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/inroot"
)

// cp follows Docker's CLI: the engine stats, archives and extracts
// container paths (as the daemon's /containers/ID/archive does), and this
// side decides, from what the source and the destination are, where the
// archive goes and under which name (a file onto a file or into a
// directory; a directory into a directory, or its contents for SRC/.; a
// new destination taking the source's place).

type cpOptions struct {
	archive, followLink, quiet bool
}

func newCpCmd(g *globals) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem\n\n" +
			"Use '-' as the source to read a tar archive from stdin and extract it to a directory destination in a container.\n" +
			"Use '-' as the destination to stream a tar archive of a container source to stdout.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("quiet") {
				// Progress only for a person watching.
				o.quiet = !isTerminal(os.Stderr)
			}
			if err := runCp(cmd, g, o, args[0], args[1]); err != nil {
				return &statusError{125, err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits CONTAINER:PATH; an absolute path, or one whose part
// before ":" starts with ".", is local.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	c, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(c, ".") {
		return "", arg
	}
	return c, p
}

func runCp(cmd *cobra.Command, g *globals, o cpOptions, src, dst string) error {
	if src == "" {
		return errors.New("source can not be empty")
	}
	if dst == "" {
		return errors.New("destination can not be empty")
	}
	srcCtr, srcPath := splitCpArg(src)
	dstCtr, dstPath := splitCpArg(dst)
	switch {
	case srcCtr != "" && dstCtr != "":
		return errors.New("copying between containers is not supported")
	case srcCtr == "" && dstCtr == "":
		return errors.New("must specify at least one container source")
	}
	e, err := g.open(cmd)
	if err != nil {
		return err
	}
	defer e.Close()
	if srcCtr != "" {
		return copyFromContainer(cmd, e, o, srcCtr, ctrPath(srcPath), dstPath)
	}
	return copyToContainer(cmd, e, o, srcPath, dstCtr, ctrPath(dstPath))
}

// ctrPath makes a container path absolute, keeping a trailing "/" or "/.".
func ctrPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return rootContents(p)
}

// rootContents: the root has no name to copy it by; "/" is its contents,
// "/.".
func rootContents(p string) string {
	if filepath.Clean(p) == "/" {
		return "/."
	}
	return p
}

func specifiesCurrentDir(p string) bool { return filepath.Base(p) == "." }
func hasTrailingSep(p string) bool      { return strings.HasSuffix(p, "/") }

// splitDirEntry is the directory and last element of p, "." for a p
// ending in "/." (the directory's contents).
func splitDirEntry(p string) (string, string) {
	c := filepath.Clean(p)
	if specifiesCurrentDir(p) {
		c += "/."
	}
	return filepath.Dir(c), filepath.Base(c)
}

// rebaseName: resolved with p's trailing "/" or "/." put back, and the
// name the archive's entries must take when resolving changed p's last
// element.
func rebaseName(p, resolved string) (string, string) {
	if specifiesCurrentDir(p) && !specifiesCurrentDir(resolved) {
		resolved += "/."
	}
	if hasTrailingSep(p) && !hasTrailingSep(resolved) {
		resolved += "/"
	}
	if filepath.Base(p) != filepath.Base(resolved) {
		return resolved, filepath.Base(p)
	}
	return resolved, ""
}

// localAbs is p made absolute, keeping a trailing "/" or "/.".
func localAbs(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	switch {
	case specifiesCurrentDir(p):
		abs += "/."
	case hasTrailingSep(p):
		abs += "/"
	}
	return rootContents(abs), nil
}

type copyInfo struct {
	path          string
	exists, isDir bool
	rebase        string
}

func copyFromContainer(cmd *cobra.Command, e *engine.Engine, o cpOptions, ref, srcPath, dstPath string) error {
	ctx := cmd.Context()
	if dstPath != "-" {
		var err error
		if dstPath, err = localAbs(dstPath); err != nil {
			return err
		}
		if err := validateOutputPath(dstPath); err != nil {
			return err
		}
	}
	rebase := ""
	if o.followLink {
		st, err := e.StatContainerPath(ref, srcPath)
		if errors.Is(err, engine.ErrNoSuchContainer) {
			return err
		}
		if err == nil && st.Mode&os.ModeSymlink != 0 {
			target := st.LinkTarget
			if !filepath.IsAbs(target) {
				parent, _ := splitDirEntry(srcPath)
				target = filepath.Join(parent, target)
			}
			srcPath, rebase = rebaseName(srcPath, target)
		}
	}

	// The engine writes the archive into a pipe and says what the path is
	// before it does.
	pr, pw := io.Pipe()
	statc := make(chan engine.ContainerStat, 1)
	errc := make(chan error, 1)
	go func() {
		err := e.ArchiveContainerPath(ctx, ref, srcPath, pw, func(st engine.ContainerStat) error {
			statc <- st
			return nil
		})
		pw.CloseWithError(err)
		errc <- err
	}()
	var st engine.ContainerStat
	select {
	case st = <-statc:
	case err := <-errc:
		if err != nil {
			return err
		}
		st = <-statc
	}
	finish := func(err error) error {
		pr.CloseWithError(errors.New("copy stopped"))
		if aerr := <-errc; err == nil {
			err = aerr
		}
		return err
	}
	counted := &countReader{r: pr}
	if dstPath == "-" {
		_, err := io.Copy(cmd.OutOrStdout(), counted)
		return finish(err)
	}
	src := copyInfo{path: srcPath, exists: true, isDir: st.IsDir(), rebase: rebase}
	var content io.Reader = counted
	if src.rebase != "" {
		_, base := splitDirEntry(src.path)
		content = rebaseArchive(content, base, src.rebase)
	}
	err := finish(copyToHost(content, src, dstPath))
	if err == nil && !o.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "Successfully copied %s to %s\n", humanSize(counted.n), dstPath)
	}
	return err
}

// validateOutputPath: the directory of a local destination must exist,
// and the destination be a directory or a regular file if it exists.
func validateOutputPath(p string) error {
	dir := filepath.Dir(filepath.Clean(p))
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("invalid output path: directory %q does not exist", dir)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir() || fi.Mode().IsRegular():
		return nil
	}
	return fmt.Errorf("invalid output path: %q must be a directory or a regular file", p)
}

// destInfo describes a local destination: symlinks at its end are
// followed (the copy lands where they lead); it need not exist, but its
// directory must.
func destInfo(p string) (copyInfo, error) {
	orig := p
	fi, err := os.Lstat(p)
	for n := 0; err == nil && fi.Mode()&os.ModeSymlink != 0; n++ {
		if n > 10 {
			return copyInfo{}, errors.New("too many symlinks in " + orig)
		}
		target, err := os.Readlink(p)
		if err != nil {
			return copyInfo{}, err
		}
		if !filepath.IsAbs(target) {
			parent, _ := splitDirEntry(p)
			target = filepath.Join(parent, target)
		}
		p = target
		fi, err = os.Lstat(p)
		if err != nil {
			break
		}
	}
	if err == nil {
		return copyInfo{path: p, exists: true, isDir: fi.IsDir()}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return copyInfo{}, err
	}
	parent, _ := splitDirEntry(p)
	pfi, err := os.Stat(parent)
	if err != nil {
		return copyInfo{}, err
	}
	if !pfi.IsDir() {
		return copyInfo{}, fmt.Errorf("%s: not a directory", parent)
	}
	return copyInfo{path: p}, nil
}

// prepareCopy decides where the archive of src goes for dst and renames
// its entries when the copy takes dst's name.
func prepareCopy(content io.Reader, src, dst copyInfo) (string, io.Reader, error) {
	dstDir, dstBase := splitDirEntry(dst.path)
	_, srcBase := splitDirEntry(src.path)
	if src.rebase != "" {
		srcBase = src.rebase
	}
	switch {
	case dst.exists && dst.isDir:
		// Into the directory, as the archive names it.
		return dst.path, content, nil
	case dst.exists && src.isDir:
		return "", nil, errors.New("cannot copy directory")
	case dst.exists, src.isDir:
		// Onto the file, or as a new directory: by dst's name.
		return dstDir, rebaseArchive(content, srcBase, dstBase), nil
	case hasTrailingSep(dst.path) || specifiesCurrentDir(dst.path):
		return "", nil, errors.New("no such directory")
	default:
		return dstDir, rebaseArchive(content, srcBase, dstBase), nil
	}
}

func copyToHost(content io.Reader, src copyInfo, dstPath string) error {
	dst, err := destInfo(dstPath)
	if err != nil {
		return err
	}
	dir, archive, err := prepareCopy(content, src, dst)
	if err != nil {
		return err
	}
	// The archive comes from the container: its entries stay below dir,
	// and symlinks it makes are never followed out of dir.
	root, err := inroot.Open(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return root.Extract("/", archive, inroot.ExtractOptions{NoChown: true})
}

func copyToContainer(cmd *cobra.Command, e *engine.Engine, o cpOptions, srcPath, ref, dstPath string) error {
	ctx := cmd.Context()
	if srcPath != "-" {
		var err error
		if srcPath, err = localAbs(srcPath); err != nil {
			return err
		}
	}
	dst := copyInfo{path: dstPath}
	st, err := e.StatContainerPath(ref, dstPath)
	if errors.Is(err, engine.ErrNoSuchContainer) {
		return err
	}
	if err == nil && st.Mode&os.ModeSymlink != 0 {
		target := st.LinkTarget
		if !filepath.IsAbs(target) {
			parent, _ := splitDirEntry(dstPath)
			target = filepath.Join(parent, target)
		}
		dst.path = target
		st, err = e.StatContainerPath(ref, target)
	}
	if err == nil {
		switch {
		case st.Mode&os.ModeDevice != 0:
			return fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file: got a device", ref, dstPath)
		case st.Mode&os.ModeType&^os.ModeDir != 0:
			return fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file: got an irregular file", ref, dstPath)
		}
		dst.exists, dst.isDir = true, st.IsDir()
	}

	var content io.Reader
	var dir string
	if srcPath == "-" {
		if !dst.isDir {
			return fmt.Errorf("destination \"%s:%s\" must be a directory", ref, dstPath)
		}
		content, dir = cmd.InOrStdin(), dst.path
	} else {
		src, err := sourceInfo(srcPath, o.followLink)
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(archiveLocal(pw, src)) }()
		defer pr.Close()
		if dir, content, err = prepareCopy(pr, src, dst); err != nil {
			return err
		}
	}
	counted := &countReader{r: content}
	err = e.ExtractToContainer(ctx, ref, dir, counted, engine.ExtractOptions{CopyUIDGID: o.archive})
	if err == nil && !o.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "Successfully copied %s to %s:%s\n", humanSize(counted.n), ref, dst.path)
	}
	return err
}

// sourceInfo resolves a local source: its parents' symlinks always, its
// own with -L (the archive then takes the name given).
func sourceInfo(p string, follow bool) (copyInfo, error) {
	var resolved, rebase string
	if follow {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return copyInfo{}, err
		}
		resolved, rebase = rebaseName(p, r)
	} else {
		dir, base := filepath.Split(p)
		r, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return copyInfo{}, err
		}
		resolved = strings.TrimSuffix(r, "/") + "/" + base
		if hasTrailingSep(p) && filepath.Base(p) != filepath.Base(resolved) {
			rebase = filepath.Base(p)
		}
	}
	fi, err := os.Lstat(resolved)
	if err != nil {
		return copyInfo{}, err
	}
	return copyInfo{path: resolved, exists: true, isDir: fi.IsDir(), rebase: rebase}, nil
}

// archiveLocal writes the tar of a local source, entries named by its
// last element (or the rebase name).
func archiveLocal(w io.Writer, src copyInfo) error {
	root, err := inroot.Open("/")
	if err != nil {
		return err
	}
	defer root.Close()
	_, base := splitDirEntry(src.path)
	if src.rebase != "" {
		base = src.rebase
	}
	return root.Archive(w, src.path, base)
}

// rebaseArchive renames the entries oldBase and oldBase/... of a tar to
// newBase and newBase/... (hardlink targets too).
func rebaseArchive(r io.Reader, oldBase, newBase string) io.Reader {
	if oldBase == newBase {
		return r
	}
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(r)
		tw := tar.NewWriter(pw)
		rename := func(n string) string {
			if n == oldBase || n == oldBase+"/" || strings.HasPrefix(n, oldBase+"/") {
				return newBase + n[len(oldBase):]
			}
			return n
		}
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			hdr.Name = rename(hdr.Name)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = rename(hdr.Linkname)
			}
			if err := tw.WriteHeader(hdr); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
