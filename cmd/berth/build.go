package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/engine"
)

type buildFlags struct {
	tags, buildArgs, labels []string
	secrets, outputs        []string
	file, target, iidfile   string
	network, progress       string
	platform                string
	noCache, pull, quiet    bool
	load                    bool
}

func newBuildCmd(g *globals) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, `Name and optionally a tag (format: "name:tag")`)
	fl.StringVarP(&f.file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile")`)
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "Set build-time variables")
	fl.StringVar(&f.target, "target", "", "Set the target build stage to build")
	fl.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
	fl.BoolVar(&f.pull, "pull", false, "Always attempt to pull all referenced images")
	fl.StringArrayVar(&f.labels, "label", nil, "Set metadata for an image")
	fl.StringVar(&f.iidfile, "iidfile", "", "Write the image ID to the file")
	fl.StringVar(&f.network, "network", "default", `Set the networking mode for the "RUN" instructions during build`)
	fl.StringVar(&f.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet"); plain shows the container output`)
	fl.StringVar(&f.platform, "platform", "", `Set target platform for build (format: "os/arch[/variant]")`)
	fl.StringArrayVar(&f.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")`)
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, `Output destination (format: "type=local,dest=path")`)
	fl.BoolVar(&f.load, "load", false, `Shorthand for "--output=type=docker" (the image goes to the store, as without --output)`)
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	return cmd
}

// buildFailed is a build that failed: BuildKit's report is printed, the
// status is docker build's 1.
func buildFailed(w io.Writer, err error) error {
	var be *build.Error
	if errors.As(err, &be) {
		be.Report(w)
	}
	fmt.Fprintf(w, "ERROR: failed to build: failed to solve: %v\n", err)
	return &statusError{1, nil}
}

func runBuild(cmd *cobra.Command, g *globals, f *buildFlags, ctxArg string) error {
	stderr := cmd.ErrOrStderr()
	switch f.network {
	case "default", "none", "host":
	default:
		return &statusError{125, fmt.Errorf("network mode %q not supported by buildkit", f.network)}
	}
	mode, err := progressMode(cmd, f)
	if err != nil {
		return &statusError{125, err}
	}
	args, err := keyValueFlags("--build-arg", f.buildArgs, true)
	if err != nil {
		return &statusError{125, err}
	}
	labels, err := keyValueFlags("--label", f.labels, false)
	if err != nil {
		return &statusError{125, err}
	}
	secrets, err := parseSecrets(f.secrets)
	if err != nil {
		return &statusError{125, err}
	}
	if f.platform != "" {
		if _, err := build.ParsePlatform(f.platform); err != nil {
			return &statusError{125, err}
		}
	}
	for _, t := range f.tags {
		if _, err := engine.NormalizeName(t); err != nil {
			return &statusError{125, fmt.Errorf("invalid tag %q: %w", t, err)}
		}
	}
	out, err := buildOutput(cmd, f)
	if err != nil {
		return &statusError{125, err}
	}
	e, err := g.open(cmd)
	if err != nil {
		return err
	}
	defer e.Close()

	o := build.Options{BuildArgs: args, Labels: labels, Target: f.target, NoCache: f.noCache, Pull: f.pull,
		Network: f.network, Platform: f.platform, Tags: f.tags, CacheDir: e.BuildCacheDir(), Secrets: secrets}
	if mode != "quiet" {
		o.Progress, o.TTY = stderr, mode == "tty"
	}
	dir, df, cleanup, err := prepareContext(cmd, e, f, ctxArg)
	kept := cleanup == nil
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return &statusError{1, nil}
	}
	bctx, err := build.OpenContext(dir)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return &statusError{1, nil}
	}
	defer bctx.Close()
	if kept {
		// A directory the user keeps: its files' digests are kept too,
		// so that a rebuild reads only the files that changed.
		abs, _ := filepath.Abs(dir)
		bctx.UseSumCache(filepath.Join(e.BuildCacheDir(), "sums", fmt.Sprintf("%x.json", sha256.Sum256([]byte(abs)))))
		defer bctx.SaveSums()
	}
	o.Context = bctx
	if df.text == nil {
		b, err := bctx.ReadFile(df.path)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: failed to build: failed to solve: failed to read dockerfile: open %s: no such file or directory\n", df.name)
			return &statusError{1, nil}
		}
		df.text = b
	}
	o.Dockerfile, o.DockerfileName, o.DockerfilePath = df.text, df.name, df.path
	if out.Type != engine.OutputImage {
		// Exported elsewhere: not tagged in the store, as buildx.
		o.Tags, o.Export = nil, e.BuildExporter(out, cmd.OutOrStdout())
	} else {
		o.Tags = append(o.Tags, out.Names...)
	}
	res, err := build.Build(cmd.Context(), e.BuildBackend(), o)
	if err != nil {
		return buildFailed(stderr, err)
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ID), 0o644); err != nil {
			return &statusError{1, fmt.Errorf("--iidfile: %w", err)}
		}
	}
	if f.quiet && out.Dest != "-" {
		// (Not after a tar on stdout.)
		fmt.Fprintln(cmd.OutOrStdout(), res.ID)
	}
	return nil
}

// dockerfileSource is where the Dockerfile comes from: text already read
// (stdin, outside the context), or a context path.
type dockerfileSource struct {
	text []byte
	name string // as errors name it
	path string // in the context; "" when it is not there
}

// prepareContext gives the context directory: CONTEXT itself, or a tar
// (CONTEXT a file, or "-" for stdin) unpacked under the engine root.
func prepareContext(cmd *cobra.Command, e *engine.Engine, f *buildFlags, arg string) (string, dockerfileSource, func(), error) {
	var df dockerfileSource
	var tarIn io.Reader
	dir := arg
	switch fi, err := os.Stat(arg); {
	case arg == "-":
		if f.file == "-" {
			return "", df, nil, errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		br := bufio.NewReaderSize(cmd.InOrStdin(), 1<<16)
		if isTar(br) {
			tarIn = br
		} else {
			// A Dockerfile on stdin, and no context.
			b, err := io.ReadAll(io.LimitReader(br, 4<<20))
			if err != nil {
				return "", df, nil, fmt.Errorf("read stdin: %w", err)
			}
			df = dockerfileSource{text: b, name: "Dockerfile"}
			tarIn = bytes.NewReader(nil)
		}
	case err != nil:
		return "", df, nil, fmt.Errorf("unable to prepare context: path %q not found", arg)
	case !fi.IsDir():
		fh, err := os.Open(arg)
		if err != nil {
			return "", df, nil, fmt.Errorf("unable to prepare context: %w", err)
		}
		defer fh.Close()
		tarIn = fh
	}
	var cleanup func()
	if tarIn != nil {
		tmp := filepath.Join(e.BuildCacheDir(), "tmp")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return "", df, nil, err
		}
		d, err := os.MkdirTemp(tmp, "context-")
		if err != nil {
			return "", df, nil, err
		}
		cleanup = func() { os.RemoveAll(d) }
		if df.text == nil || tarIn != nil {
			if err := build.ExtractContext(tarIn, d); err != nil {
				return "", df, cleanup, fmt.Errorf("unable to prepare context: %w", err)
			}
		}
		dir = d
	}
	if df.text != nil {
		return dir, df, cleanup, nil
	}
	switch {
	case f.file == "-":
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4<<20))
		if err != nil {
			return "", df, cleanup, fmt.Errorf("read stdin: %w", err)
		}
		df = dockerfileSource{text: b, name: "Dockerfile"}
	case f.file != "" && tarIn != nil:
		// In a tar context, -f names a file in the tar.
		df = dockerfileSource{path: f.file, name: filepath.Base(f.file)}
	case f.file != "":
		abs, _ := filepath.Abs(f.file)
		absDir, _ := filepath.Abs(dir)
		if _, err := os.Stat(abs); err != nil && !filepath.IsAbs(f.file) {
			// Not there from here: the context's file of that name, as
			// the classic builder read -f.
			abs = filepath.Join(absDir, f.file)
		}
		if rel, err := filepath.Rel(absDir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			df = dockerfileSource{path: rel, name: filepath.Base(f.file)}
		} else {
			b, err := os.ReadFile(abs)
			if err != nil {
				return "", df, cleanup, fmt.Errorf("failed to read dockerfile: %w", err)
			}
			df = dockerfileSource{text: b, name: filepath.Base(f.file)}
		}
	default:
		df = dockerfileSource{path: "Dockerfile", name: "Dockerfile"}
		if _, err := os.Lstat(filepath.Join(dir, "Dockerfile")); err != nil {
			if _, err := os.Lstat(filepath.Join(dir, "Containerfile")); err == nil {
				df = dockerfileSource{path: "Containerfile", name: "Containerfile"}
			}
		}
	}
	return dir, df, cleanup, nil
}

// isTar peeks whether r starts with a tar header.
func isTar(br *bufio.Reader) bool {
	b, _ := br.Peek(512)
	if len(b) < 512 {
		return false
	}
	_, err := tar.NewReader(bytes.NewReader(b)).Next()
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

// keyValueFlags reads K=V flags; a bare K (withEnv) takes $K, as
// docker's --build-arg does.
func keyValueFlags(flag string, vals []string, withEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range vals {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid %s %q: want KEY=VALUE", flag, kv)
		}
		if !ok {
			if !withEnv {
				v = ""
			} else if ev, set := os.LookupEnv(k); set {
				v = ev
			} else {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}
