package engine

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	units "github.com/docker/go-units"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/engine/inroot"
	"github.com/berth-dev/berth/image/imagearchive"
)

// The exporters of `build --output`, as buildx names them.
const (
	OutputImage  = "image"
	OutputOCI    = "oci"
	OutputDocker = "docker"
	OutputTar    = "tar"
	OutputLocal  = "local"
)

// BuildOutput is where a build's result goes: the store (OutputImage),
// or exported to Dest ("-": stdout) and then not tagged in the store.
type BuildOutput struct {
	Type  string
	Dest  string
	Names []string // name=, as -t: the image's (or the tarball's) names
}

// ParseBuildOutput reads one --output value as buildx does: CSV
// key=value pairs (type=, dest=, name=, several names quoted:
// "name=a,b"), or the short forms "-" (a tar on stdout) and "DIR"
// (type=local).
func ParseBuildOutput(s string) (BuildOutput, error) {
	if s == "" {
		return BuildOutput{}, errors.New("invalid --output: empty value")
	}
	if !strings.Contains(s, "=") {
		if s == "-" {
			return BuildOutput{Type: OutputTar, Dest: "-"}, nil
		}
		return BuildOutput{Type: OutputLocal, Dest: s}, nil
	}
	// CSV, as buildx reads it: "name=a,b" in quotes is one field.
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return BuildOutput{}, fmt.Errorf("invalid --output %q: %w", s, err)
	}
	var o BuildOutput
	for _, kv := range fields {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("invalid --output %q: %q is not key=value", s, kv)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "name":
			for _, n := range strings.Split(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					o.Names = append(o.Names, n)
				}
			}
		default:
			return o, fmt.Errorf("invalid --output %q: unsupported attribute %q", s, k)
		}
	}
	switch o.Type {
	case OutputImage:
		if o.Dest != "" {
			return o, fmt.Errorf("invalid --output %q: type=image takes no dest", s)
		}
	case OutputDocker:
		if o.Dest == "" {
			// buildx's docker exporter with no dest loads the image
			// into the engine: here, the store.
			o.Type = OutputImage
		}
	case OutputOCI, OutputTar:
		if o.Dest == "" {
			// As buildx: stdout, which the caller refuses when it is a
			// terminal.
			o.Dest = "-"
		}
	case OutputLocal:
		if o.Dest == "" || o.Dest == "-" {
			return o, fmt.Errorf("invalid --output %q: type=local needs dest=DIRECTORY", s)
		}
	case "":
		return o, fmt.Errorf("invalid --output %q: no type= (want image, oci, docker, tar or local)", s)
	default:
		return o, fmt.Errorf("invalid --output %q: unknown type %q (want image, oci, docker, tar or local)", s, o.Type)
	}
	for _, n := range o.Names {
		if _, err := NormalizeName(n); err != nil {
			return o, fmt.Errorf("invalid --output %q: name %q: %w", s, n, err)
		}
	}
	return o, nil
}

// CheckBuildOutput refuses, before the build, a destination the export
// could not write: a local dest that is not a directory, a file dest in
// a directory that is not there or that is a directory itself.
func CheckBuildOutput(o BuildOutput) error {
	if o.Type == OutputImage || o.Dest == "-" {
		return nil
	}
	fi, err := os.Stat(o.Dest)
	if o.Type == OutputLocal {
		if err == nil && !fi.IsDir() {
			return fmt.Errorf("--output: %s is not a directory", o.Dest)
		}
		return nil
	}
	if err == nil && fi.IsDir() {
		return fmt.Errorf("--output: %s is a directory; type=%s writes a file", o.Dest, o.Type)
	}
	if fi, err := os.Stat(filepath.Dir(o.Dest)); err != nil || !fi.IsDir() {
		return fmt.Errorf("--output: directory %s does not exist", filepath.Dir(o.Dest))
	}
	return nil
}

// BuildExporter is the build.Exporter of o (not OutputImage): it writes
// the built image to o.Dest, stdout being "-".
func (e *Engine) BuildExporter(o BuildOutput, stdout io.Writer) build.Exporter {
	return &buildExporter{e: e, o: o, stdout: stdout}
}

type buildExporter struct {
	e      *Engine
	o      BuildOutput
	stdout io.Writer
}

// Vertex is BuildKit's name of the exporter's step.
func (x *buildExporter) Vertex() string {
	switch x.o.Type {
	case OutputOCI:
		return "exporting to oci image format"
	case OutputDocker:
		return "exporting to docker image format"
	case OutputTar:
		return "exporting to client tarball"
	}
	return "exporting to client directory"
}

// Export writes image id as the output says. A file is written beside
// its dest and renamed into place, so a failed export leaves none.
func (x *buildExporter) Export(ctx context.Context, id string, log func(string, ...any)) error {
	e, o := x.e, x.o
	if o.Type == OutputLocal {
		n, err := e.exportLocal(ctx, id, o.Dest)
		if err != nil {
			return err
		}
		log("copying files %s done", units.HumanSize(float64(n)))
		return nil
	}
	write := func(w io.Writer) error {
		switch o.Type {
		case OutputOCI:
			return imagearchive.SaveNamed(e.Images(), id, o.Names, FormatOCIArchive, ctxWriter{ctx, w})
		case OutputDocker:
			return imagearchive.SaveNamed(e.Images(), id, o.Names, FormatDockerArchive, ctxWriter{ctx, w})
		case OutputTar:
			return e.withImageRoot(ctx, id, func(r *inroot.Root) error { return r.ArchiveTree(ctxWriter{ctx, w}) })
		}
		return fmt.Errorf("--output: unknown type %q", o.Type)
	}
	if o.Type != OutputTar {
		log("exporting config %s done", id)
	}
	if o.Dest == "-" {
		cw := &countWriter{w: x.stdout}
		if err := write(cw); err != nil {
			return fmt.Errorf("--output type=%s: %w", o.Type, err)
		}
		log("sending tarball %s done", units.HumanSize(float64(cw.n)))
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(o.Dest), "."+filepath.Base(o.Dest)+".tmp-")
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	defer os.Remove(f.Name())
	cw := &countWriter{w: f}
	err = write(cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), o.Dest)
	}
	if err != nil {
		return fmt.Errorf("--output type=%s: %w", o.Type, err)
	}
	log("sending tarball %s done", units.HumanSize(float64(cw.n)))
	return nil
}

// countWriter counts what goes through it (the progress's sizes).
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// exportLocal writes the image's files into dir. The tar of the image's
// root is unpacked by inroot, which resolves every name and symlink
// inside dir: an image's absolute or ../ symlinks cannot make it write
// outside dir.
func (e *Engine) exportLocal(ctx context.Context, id, dir string) (int64, error) {
	_, statErr := os.Lstat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("--output: %w", err)
	}
	dst, err := inroot.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("--output: %w", err)
	}
	defer dst.Close()
	var n int64
	err = e.withImageRoot(ctx, id, func(r *inroot.Root) error {
		pr, pw := io.Pipe()
		cw := &countWriter{w: pw}
		go func() { pw.CloseWithError(r.ArchiveTree(ctxWriter{ctx, cw})) }()
		err := dst.Extract("/", pr, inroot.ExtractOptions{})
		pr.CloseWithError(errors.New("extraction ended"))
		if err == nil {
			n = cw.n
		}
		return err
	})
	if err != nil {
		if statErr != nil {
			// The directory is ours: nothing half-made is left.
			os.RemoveAll(dir)
		}
		return 0, fmt.Errorf("--output type=local: %w", err)
	}
	return n, nil
}

// withImageRoot gives fn the root file system of image id: a container
// of it, never started, removed after.
func (e *Engine) withImageRoot(ctx context.Context, id string, fn func(r *inroot.Root) error) error {
	o := CreateOptions{Image: id, Pull: PullNever, KeepMounted: true, LogDriver: "none",
		Network: NetworkRequest{Networks: []string{"none"}}}
	o.Spec.EntrypointSet = true
	o.Spec.Cmd = []string{"/nonexistent-build-step"}
	c, err := e.CreateContainer(ctx, o)
	if err != nil {
		return err
	}
	defer e.RemoveContainer(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true})
	return e.withRoot(c.ID, func(_ *Container, r *ctrRoot) error { return fn(r.rootfs) })
}
