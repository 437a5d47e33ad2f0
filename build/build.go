package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-dev/berth/dockerfile"
)

// Options are a build's inputs.
type Options struct {
	Context *Context
	// Dockerfile is its text; DockerfileName how errors name it, and
	// DockerfilePath the context path that its ignore file goes with
	// ("" when it is not in the context).
	Dockerfile     []byte
	DockerfileName string
	DockerfilePath string
	BuildArgs      map[string]string
	Target         string
	NoCache        bool
	Pull           bool
	Labels         map[string]string
	Network        string
	// Platform is --platform (os/arch[/variant]; "": the host's).
	Platform string
	Tags     []string
	// Secrets are --secret's, by id: RUN --mount=type=secret reads
	// them; they go into no layer, config or cache key.
	Secrets map[string][]byte
	// CacheDir holds the cache index ("": no cache kept).
	CacheDir string
	// Progress gets the progress (nil: quiet): plain, or with TTY
	// BuildKit's tty display, redrawn in place (Progress a terminal).
	Progress io.Writer
	TTY      bool
	// Export, when set, takes the result instead of the store: Tags are
	// not used, the image is kept as cache only.
	Export Exporter
	// Jobs is how many steps may run at once (stages that do not need
	// each other run side by side); 0: the number of CPUs.
	Jobs int
}

// Result is what a build made.
type Result struct {
	ID string
	// Ran are the steps that ran ("[2/3] RUN ..."), Cached those that
	// came from the cache.
	Ran, Cached []string
}

// Error is a failed build: the message BuildKit gives after "failed to
// solve:", and where in the Dockerfile it failed.
type Error struct {
	Err      error
	Vertex   string   // "[2/3] RUN exit 3"
	Tail     []string // the step's last lines of output
	Location []parser.Range
	Source   []byte
	Name     string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Report is BuildKit's error block: the step with its last output, the
// Dockerfile lines around it.
func (e *Error) Report(w io.Writer) {
	if e.Vertex != "" {
		fmt.Fprintf(w, "------\n > %s:\n", e.Vertex)
		for _, l := range e.Tail {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w, "------")
	}
	if len(e.Location) > 0 && e.Source != nil {
		lines := strings.Split(string(e.Source), "\n")
		start, end := e.Location[0].Start.Line, e.Location[0].End.Line
		fmt.Fprintf(w, "%s:%d\n--------------------\n", e.Name, start)
		from := max(start-2, 1)
		for i := from; i <= end && i <= len(lines); i++ {
			mark := "    "
			if i >= start {
				mark = ">>> "
			}
			fmt.Fprintf(w, "%4d | %s%s\n", i, mark, lines[i-1])
		}
		fmt.Fprintln(w, "--------------------")
	}
}

type builder struct {
	b      Backend
	o      Options
	df     *dockerfile.File
	cache  *cache
	prog   *progress
	meta   map[string]string // global ARGs (before the first FROM)
	target v1.Platform       // --platform, or the host's
	sched  *sched
	// mu guards res and consumed, which the stages running side by
	// side add to.
	mu  sync.Mutex
	res Result
	// consumed are the build args that an ARG declared.
	consumed map[string]bool
}

// predefinedArgs are Docker's, which need no ARG to be given.
var predefinedArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true, "ALL_PROXY": true, "all_proxy": true,
}

// Build runs the Dockerfile's stages that the target needs and names the
// result.
func Build(ctx context.Context, b Backend, o Options) (Result, error) {
	bd := &builder{b: b, o: o, prog: newProgress(o.Progress, o.TTY), consumed: map[string]bool{}}
	// The display's last frame comes before the caller reports an error.
	defer bd.prog.close()
	if bd.o.DockerfileName == "" {
		bd.o.DockerfileName = "Dockerfile"
	}
	v := bd.prog.vertex("[internal] load build definition from " + bd.o.DockerfileName)
	v.log("transferring dockerfile: %dB done", len(o.Dockerfile))
	df, err := dockerfile.Parse(bytes.NewReader(o.Dockerfile))
	if err != nil {
		v.fail(err)
		return Result{}, bd.locate(err)
	}
	v.done()
	bd.df = df
	for _, w := range df.Warnings {
		bd.prog.printf(" %s\n", w)
	}
	v = bd.prog.vertex("[internal] load .dockerignore")
	name, err := o.Context.LoadIgnore(o.DockerfilePath)
	if err != nil {
		v.fail(err)
		return Result{}, &Error{Err: err}
	}
	if name != "" {
		v.log("transferring context: %s done", name)
	}
	v.done()
	if bd.cache, err = openCache(o.CacheDir); err != nil {
		return Result{}, err
	}
	defer bd.cache.save()
	if err := bd.metaArgs(); err != nil {
		return Result{}, &Error{Err: err}
	}
	target := len(df.Stages) - 1
	if o.Target != "" {
		i, ok := instructions.HasStage(df.Stages, o.Target)
		if !ok {
			return Result{}, &Error{Err: fmt.Errorf("target stage %q could not be found", o.Target)}
		}
		target = i
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bd.sched = newSched(o.Jobs)
	bd.sched.cancel = cancel
	bd.startNeeds(ctx, target)
	img, err := bd.stage(ctx, target)
	// The other stages end (cancelled, if this failed) before the build
	// does: nothing of theirs is left running.
	bd.sched.wg.Wait()
	if fe := bd.sched.firstErr(); fe != nil {
		err = fe
	}
	if err != nil {
		return Result{}, err
	}
	if o.Export != nil {
		v = bd.prog.vertex(o.Export.Vertex())
		if err := o.Export.Export(ctx, img.ID, v.log); err != nil {
			v.fail(err)
			return Result{}, &Error{Err: err}
		}
		v.done()
	} else {
		v = bd.prog.vertex("exporting to image")
		if len(o.Tags) > 0 {
			if err := b.Tag(ctx, img.ID, o.Tags); err != nil {
				v.fail(err)
				return Result{}, &Error{Err: err}
			}
		}
		v.log("writing image %s done", img.ID)
		for _, t := range o.Tags {
			if n, ok := b.(Namer); ok {
				if c, err := n.CanonicalName(t); err == nil {
					t = c
				}
			}
			v.log("naming to %s done", t)
		}
		v.done()
		bd.cache.result(img.ID)
	}
	bd.res.ID = img.ID
	var unused []string
	for k := range o.BuildArgs {
		if !bd.consumed[k] && !predefinedArgs[k] && !isPlatformArg(k) {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		bd.prog.printf("[Warning] One or more build-args %v were not consumed\n", unused)
	}
	return bd.res, nil
}

// locate attaches the line of a parse error to it.
func (bd *builder) locate(err error) error {
	e := &Error{Err: err, Source: bd.o.Dockerfile, Name: bd.o.DockerfileName}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 {
		e.Location = le.Locations[0]
	}
	return e
}

func (bd *builder) metaArgs() error {
	target, err := bd.targetPlatform()
	if err != nil {
		return err
	}
	bd.target = target
	bd.meta = platformArgs(HostPlatform(), target)
	lex := shell.NewLex(bd.df.EscapeToken)
	for _, a := range bd.df.MetaArgs {
		for _, kv := range a.Args {
			bd.consumed[kv.Key] = true
			if v, ok := bd.o.BuildArgs[kv.Key]; ok {
				bd.meta[kv.Key] = v
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := lex.ProcessWord(*kv.Value, dockerfile.Env(envOf(bd.meta)))
			if err != nil {
				return err
			}
			bd.meta[kv.Key] = v
		}
	}
	return nil
}

func envOf(m map[string]string) []string {
	ks := slices.Sorted(maps.Keys(m))
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, k+"="+m[k])
	}
	return out
}

// stageRef finds an earlier stage by name or index.
func (bd *builder) stageRef(name string, before int) (int, bool) {
	if i, ok := instructions.HasStage(bd.df.Stages[:before], name); ok {
		return i, true
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before {
		return n, true
	}
	return 0, false
}

// state is a stage's running state.
type state struct {
	img    Image  // last image made (its config may be behind cfg)
	key    string // cache key of everything so far
	cfg    v1.ConfigFile
	args   map[string]string // ARGs declared in the stage
	cmdSet bool
	dirty  bool // cfg changed since img
	label  string
	n, i   int
}

// buildStage builds stage i (waiting for the stages it needs).
func (bd *builder) buildStage(ctx context.Context, i int) (Image, error) {
	st := bd.df.Stages[i]
	s := &state{args: map[string]string{}}
	s.label = ""
	if len(bd.df.Stages) > 1 {
		s.label = st.Name
		if s.label == "" {
			s.label = "stage-" + strconv.Itoa(i)
		}
		s.label += " "
	}
	s.n = 1
	for _, c := range st.Commands {
		if isVertex(c) {
			s.n++
		}
	}
	s.i = 1
	lex := shell.NewLex(bd.df.EscapeToken)
	base, _, err := lex.ProcessWord(st.BaseName, dockerfile.Env(envOf(bd.meta)))
	if err != nil {
		return Image{}, bd.cmdErr(nil, st.Location, err)
	}
	if base == "" {
		return Image{}, bd.cmdErr(nil, st.Location, errors.New("base name ("+st.BaseName+") should not be blank"))
	}
	plat := bd.target
	if st.Platform != "" {
		p, _, err := lex.ProcessWord(st.Platform, dockerfile.Env(envOf(bd.meta)))
		if err == nil {
			plat, err = ParsePlatform(p)
		}
		if err != nil {
			return Image{}, bd.cmdErr(nil, st.Location, fmt.Errorf("FROM --platform: %w", err))
		}
	}
	if loc, err := noEmulation(plat, st.Commands); err != nil {
		return Image{}, bd.cmdErr(nil, loc, err)
	}
	shown := base
	if n, ok := bd.b.(Namer); ok && !strings.EqualFold(base, "scratch") {
		if c, err := n.CanonicalName(base); err == nil {
			shown = c
		}
	}
	from := fmt.Sprintf("[%s1/%d] FROM %s", s.label, s.n, shown)
	if j, ok := bd.stageRef(base, i); ok && strings.EqualFold(bd.df.Stages[j].Name, base) {
		img, err := bd.stage(ctx, j)
		if err != nil {
			return Image{}, err
		}
		v := bd.prog.vertex(from)
		v.cached()
		s.img, s.cfg, s.key = img, img.Config, stepKey("image", img.ID)
	} else if strings.EqualFold(base, "scratch") {
		s.cfg = v1.ConfigFile{OS: plat.OS, Architecture: plat.Architecture, Variant: plat.Variant, Config: v1.Config{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}}
		s.key = stepKey("scratch", scratchKey(plat))
		s.dirty = true
	} else {
		v := bd.prog.vertex(from)
		pull := "missing"
		if bd.o.Pull {
			pull = "always"
		}
		img, err := bd.base(ctx, base, pull, plat)
		if err != nil {
			v.fail(err)
			return Image{}, bd.cmdErr(nil, st.Location, err)
		}
		v.done()
		s.img, s.cfg, s.key = img, img.Config, stepKey("image", img.ID)
	}
	s.cfg.RootFS = v1.RootFS{}
	// The base's ONBUILD triggers run first, as BuildKit runs them; they
	// are not inherited.
	var cmds []instructions.Command
	for _, t := range s.cfg.Config.OnBuild {
		c, err := dockerfile.ParseInstruction(t)
		if err != nil {
			return Image{}, bd.cmdErr(nil, st.Location, fmt.Errorf("ONBUILD %s: %w", t, err))
		}
		if isVertex(c) {
			s.n++
		}
		cmds = append(cmds, c)
	}
	s.cfg.Config.OnBuild = nil
	if loc, err := noEmulation(plat, cmds); err != nil {
		return Image{}, bd.cmdErr(nil, loc, err)
	}
	for _, c := range append(cmds, st.Commands...) {
		if err := bd.command(ctx, i, s, c); err != nil {
			return Image{}, err
		}
	}
	if i == len(bd.df.Stages)-1 || bd.o.Target != "" && strings.EqualFold(st.Name, bd.o.Target) {
		if len(bd.o.Labels) > 0 {
			if s.cfg.Config.Labels == nil {
				s.cfg.Config.Labels = map[string]string{}
			}
			maps.Copy(s.cfg.Config.Labels, bd.o.Labels)
			s.key = stepKey(s.key, "labels", strings.Join(envOf(bd.o.Labels), "\x00"))
			s.dirty = true
		}
	}
	if s.dirty || s.img.ID == "" {
		if err := bd.step(ctx, s, nil, Step{}); err != nil {
			return Image{}, err
		}
	}
	return s.img, nil
}

// isVertex: the instructions that BuildKit shows as steps.
func isVertex(c instructions.Command) bool {
	switch c.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
		return true
	}
	return false
}

type located interface{ Location() []parser.Range }

func (bd *builder) cmdErr(v *vertex, loc []parser.Range, err error) error {
	e := &Error{Err: err, Location: loc, Source: bd.o.Dockerfile, Name: bd.o.DockerfileName}
	if v != nil {
		e.Vertex, e.Tail = v.name, v.tail
	}
	return e
}

// expandEnv is what $VAR reads in a stage: its ARGs, then its ENV.
func (s *state) expandEnv() []string {
	return append(envOf(s.args), s.cfg.Config.Env...)
}

// runEnv are the ARGs that a RUN sees besides the image's env (an ENV
// of the same name wins).
func (s *state) runEnv() []string {
	var out []string
	for _, kv := range envOf(s.args) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := dockerfile.Env(s.cfg.Config.Env).Get(k); !ok {
			out = append(out, kv)
		}
	}
	return out
}

func (bd *builder) command(ctx context.Context, si int, s *state, c instructions.Command) error {
	var loc []parser.Range
	if l, ok := c.(located); ok {
		loc = l.Location()
	}
	if a, ok := c.(*instructions.ArgCommand); ok {
		return bd.arg(s, a, loc)
	}
	if err := dockerfile.Expand(c, s.expandEnv(), bd.df.EscapeToken); err != nil {
		return bd.cmdErr(nil, loc, err)
	}
	text := strings.TrimSpace(c.(fmt.Stringer).String())
	switch c := c.(type) {
	case *instructions.RunCommand:
		return bd.run(ctx, si, s, c, text, loc)
	case *instructions.CopyCommand:
		for _, src := range c.SourcePaths {
			if isHTTPSource(src) {
				return bd.cmdErr(nil, loc, errors.New("source can't be a URL for COPY"))
			}
		}
		if err := expandInline(&c.SourcesAndDest, s.expandEnv(), bd.df.EscapeToken); err != nil {
			return bd.cmdErr(nil, loc, err)
		}
		return bd.copy(ctx, si, s, text, loc, copyArgs{srcs: c.SourcePaths, inline: c.SourceContents, dest: c.DestPath, chown: c.Chown, chmod: c.Chmod, fromName: c.From,
			exclude: c.ExcludePatterns, parents: c.Parents})
	case *instructions.AddCommand:
		if c.KeepGitDir != nil {
			return bd.cmdErr(nil, loc, errors.New("ADD --keep-git-dir is not supported yet (git sources are not)"))
		}
		if c.Checksum != "" {
			if len(c.SourcePaths) != 1 {
				return bd.cmdErr(nil, loc, errors.New("checksum can't be specified for multiple sources"))
			}
			if !isHTTPSource(c.SourcePaths[0]) && !isGitSource(c.SourcePaths[0]) {
				return bd.cmdErr(nil, loc, errors.New("checksum requires HTTP(S) or Git sources"))
			}
		}
		a := copyArgs{inline: c.SourceContents, dest: c.DestPath, chown: c.Chown, chmod: c.Chmod,
			unpack: c.Unpack == nil || *c.Unpack, checksum: c.Checksum, exclude: c.ExcludePatterns}
		for _, src := range c.SourcePaths {
			switch {
			case isGitSource(src):
				return bd.cmdErr(nil, loc, fmt.Errorf("ADD %s: git sources are not supported yet", src))
			case isHTTPSource(src):
				if c.Unpack != nil && *c.Unpack {
					return bd.cmdErr(nil, loc, fmt.Errorf("ADD --unpack of a URL is not supported yet"))
				}
				a.urls = append(a.urls, src)
			default:
				a.srcs = append(a.srcs, src)
			}
		}
		if err := expandInline(&c.SourcesAndDest, s.expandEnv(), bd.df.EscapeToken); err != nil {
			return bd.cmdErr(nil, loc, err)
		}
		a.inline = c.SourceContents
		return bd.copy(ctx, si, s, text, loc, a)
	case *instructions.WorkdirCommand:
		if err := dockerfile.Apply(&s.cfg.Config, c); err != nil {
			return bd.cmdErr(nil, loc, err)
		}
		s.key = stepKey(s.key, "WORKDIR", s.cfg.Config.WorkingDir)
		s.cfg.History = append(s.cfg.History, v1.History{CreatedBy: "WORKDIR " + s.cfg.Config.WorkingDir + " # buildkit", Comment: "buildkit.dockerfile.v0"})
		v := bd.vertexFor(s, text)
		return bd.layerStep(ctx, s, v, loc, Step{Copies: []Copy{{Dest: s.cfg.Config.WorkingDir}}})
	case *instructions.MaintainerCommand:
		s.cfg.Author = c.Maintainer
	case *instructions.EntrypointCommand:
		cmd := s.cfg.Config.Cmd
		if err := dockerfile.Apply(&s.cfg.Config, c); err != nil {
			return bd.cmdErr(nil, loc, err)
		}
		if s.cmdSet {
			s.cfg.Config.Cmd = cmd
		}
	default:
		if !dockerfile.IsConfig(c) {
			return bd.cmdErr(nil, loc, fmt.Errorf("%s is not supported", strings.ToUpper(c.Name())))
		}
		if err := dockerfile.Apply(&s.cfg.Config, c); err != nil {
			return bd.cmdErr(nil, loc, err)
		}
		if _, ok := c.(*instructions.CmdCommand); ok {
			s.cmdSet = true
		}
	}
	// The key holds the config the instruction left, its variables
	// resolved (the text alone would miss a changed ARG).
	cj, _ := json.Marshal(s.cfg.Config)
	s.key = stepKey(s.key, text, string(cj), s.cfg.Author)
	s.cfg.History = append(s.cfg.History, v1.History{CreatedBy: text, EmptyLayer: true, Comment: "buildkit.dockerfile.v0"})
	s.dirty = true
	return nil
}

// arg declares build args in the stage: --build-arg, else the default,
// else the global ARG's value.
func (bd *builder) arg(s *state, a *instructions.ArgCommand, loc []parser.Range) error {
	lex := shell.NewLex(bd.df.EscapeToken)
	for _, kv := range a.Args {
		bd.mu.Lock()
		bd.consumed[kv.Key] = true
		bd.mu.Unlock()
		v, given := bd.o.BuildArgs[kv.Key]
		switch {
		case given:
		case kv.Value != nil:
			w, _, err := lex.ProcessWord(*kv.Value, dockerfile.Env(s.expandEnv()))
			if err != nil {
				return bd.cmdErr(nil, loc, err)
			}
			v = w
		default:
			mv, ok := bd.meta[kv.Key]
			if !ok {
				// Declared without a value: unset, as in Docker (RUN does
				// not see it, $X expands to nothing).
				continue
			}
			v = mv
		}
		s.args[kv.Key] = v
	}
	return nil
}

func (bd *builder) vertexFor(s *state, text string) *vertex {
	s.i++
	return bd.prog.vertex(fmt.Sprintf("[%s%d/%d] %s", s.label, s.i, s.n, text))
}

func (bd *builder) run(ctx context.Context, si int, s *state, c *instructions.RunCommand, text string, loc []parser.Range) error {
	for _, f := range c.FlagsUsed {
		if f != "network" && f != "mount" {
			return bd.cmdErr(nil, loc, fmt.Errorf("RUN --%s is not supported yet", f))
		}
	}
	args := dockerfile.CommandLine(&s.cfg.Config, c.ShellDependantCmdLine)
	hargs, script := heredocArgs(dockerfile.Shell(&s.cfg.Config), c.ShellDependantCmdLine)
	if hargs != nil {
		args = hargs
	}
	env := s.runEnv()
	network := bd.o.Network
	if slices.Contains(c.FlagsUsed, "network") {
		network = instructions.GetNetwork(c)
	}
	if network == "default" {
		network = ""
	}
	ms, err := bd.mounts(ctx, si, s, c)
	if err != nil {
		return bd.cmdErr(nil, loc, err)
	}
	defer ms.close()
	if script != nil {
		ms.mounts = append(ms.mounts, *script)
		ms.key += "\x00script\x00" + c.Files[0].Data
	}
	createdBy := "RUN " + strings.Join(args, " ")
	if len(env) > 0 {
		createdBy = fmt.Sprintf("RUN |%d %s %s", len(env), strings.Join(env, " "), strings.Join(args, " "))
	}
	s.key = stepKey(s.key, "RUN", strings.Join(args, "\x00"), strings.Join(env, "\x00"), network,
		s.cfg.Config.User, s.cfg.Config.WorkingDir, strings.Join(s.cfg.Config.Env, "\x00"), ms.key)
	s.cfg.History = append(s.cfg.History, v1.History{CreatedBy: createdBy + " # buildkit", Comment: "buildkit.dockerfile.v0"})
	v := bd.vertexFor(s, text)
	// Docker's proxy args reach RUN without an ARG, but neither the
	// history nor the cache key.
	runEnv := append(slices.Clone(s.cfg.Config.Env), env...)
	for _, kv := range envOf(bd.o.BuildArgs) {
		if k, _, _ := strings.Cut(kv, "="); predefinedArgs[k] && s.args[k] == "" {
			runEnv = append(runEnv, kv)
		}
	}
	runEnv = append(runEnv, ms.env...)
	run := &Run{Args: args, Env: runEnv, Network: network, Output: v, Mounts: ms.mounts,
		User: s.cfg.Config.User, WorkDir: s.cfg.Config.WorkingDir}
	return bd.layerStep(ctx, s, v, loc, Step{Run: run})
}

func (bd *builder) copy(ctx context.Context, si int, s *state, text string, loc []parser.Range, a copyArgs) error {
	a.from = bd.o.Context
	var release func()
	if a.fromName != "" {
		img, err := bd.fromImage(ctx, si, a.fromName)
		if err != nil {
			return bd.cmdErr(nil, loc, err)
		}
		dir, rel, err := bd.b.(Mounter).Mount(ctx, img.ID)
		if err != nil {
			return bd.cmdErr(nil, loc, err)
		}
		release = rel
		if a.from, err = OpenImageRoot(dir); err != nil {
			rel()
			return bd.cmdErr(nil, loc, err)
		}
		defer func() { a.from.Close(); release() }()
	}
	if !path.IsAbs(a.dest) {
		d := dockerfile.Workdir(s.cfg.Config.WorkingDir, a.dest)
		if strings.HasSuffix(a.dest, "/") || a.dest == "." {
			d += "/"
		}
		a.dest = d
	}
	v := bd.vertexFor(s, text)
	for _, u := range a.urls {
		rf, err := download(u, a.checksum, bd.downloadDir())
		if err != nil {
			v.fail(err)
			return bd.cmdErr(v, loc, err)
		}
		defer os.Remove(rf.file)
		a.remote = append(a.remote, rf)
	}
	set, err := a.plan()
	if err != nil {
		v.fail(err)
		return bd.cmdErr(v, loc, err)
	}
	s.key = stepKey(s.key, text, set.sum)
	s.cfg.History = append(s.cfg.History, v1.History{CreatedBy: text + " # buildkit", Comment: "buildkit.dockerfile.v0"})
	return bd.layerStep(ctx, s, v, loc, Step{Copies: set.copies})
}

// fromImage is COPY --from's source: an earlier stage, else an image in
// the store (not pulled).
func (bd *builder) fromImage(ctx context.Context, si int, name string) (Image, error) {
	if j, ok := bd.stageRef(name, si); ok {
		return bd.stage(ctx, j)
	}
	if _, ok := instructions.HasStage(bd.df.Stages, name); ok {
		return Image{}, fmt.Errorf("COPY --from=%s: the stage comes after this one", name)
	}
	img, err := bd.b.Base(ctx, name, "never")
	if err != nil {
		return Image{}, fmt.Errorf("COPY --from=%s: no stage or image of that name: %w", name, err)
	}
	return img, nil
}

// layerStep makes (or takes from the cache) the image of a step that
// makes a layer.
func (bd *builder) layerStep(ctx context.Context, s *state, v *vertex, loc []parser.Range, st Step) error {
	if err := bd.step(ctx, s, v, st); err != nil {
		v.flush()
		if isCanceled(ctx, err) {
			v.canceled()
		} else {
			v.fail(err)
		}
		return bd.cmdErr(v, loc, err)
	}
	return nil
}

// step makes the image of the state's config (and the step's layer, if
// any), from the cache when its key is there.
func (bd *builder) step(ctx context.Context, s *state, v *vertex, st Step) error {
	if !bd.o.NoCache {
		if id, ok := bd.cache.get(s.key); ok {
			if img, ok := bd.b.Lookup(ctx, id); ok {
				if v != nil {
					v.cached()
					bd.mu.Lock()
					bd.res.Cached = append(bd.res.Cached, v.name)
					bd.mu.Unlock()
				}
				s.img, s.dirty = img, false
				s.cfg.History = img.Config.History
				return nil
			}
		}
	}
	st.Parent = s.img.ID
	now := time.Now().UTC()
	cf := s.cfg
	cf.Created = v1.Time{Time: now}
	cf.History = slices.Clone(cf.History)
	for i := range cf.History {
		if cf.History[i].Created.IsZero() {
			cf.History[i].Created = v1.Time{Time: now}
		}
	}
	cf.RootFS = v1.RootFS{}
	st.Config = cf
	if !bd.sched.acquire(ctx) {
		return context.Cause(ctx)
	}
	img, err := bd.b.Step(ctx, st)
	bd.sched.release()
	if v != nil {
		v.flush()
	}
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) && st.Run != nil {
			return fmt.Errorf("process %q did not complete successfully: %w", strings.Join(st.Run.Args, " "), ee)
		}
		return err
	}
	if v != nil {
		v.done()
		bd.mu.Lock()
		bd.res.Ran = append(bd.res.Ran, v.name)
		bd.mu.Unlock()
	}
	bd.cache.put(s.key, img.ID)
	s.img, s.dirty = img, false
	s.cfg.History = img.Config.History
	return nil
}

// Namer gives the canonical name of a reference, for the progress
// (docker.io/library/busybox:latest).
type Namer interface {
	CanonicalName(ref string) (string, error)
}

// Mounter gives COPY --from the files of an image: a directory with its
// root file system, read-only for the builder, until release.
type Mounter interface {
	Mount(ctx context.Context, id string) (dir string, release func(), err error)
}

// SortedArgs are --build-arg values as K=V, sorted (for messages).
func SortedArgs(m map[string]string) []string {
	out := envOf(m)
	sort.Strings(out)
	return out
}
