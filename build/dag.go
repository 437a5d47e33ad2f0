package build

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-dev/berth/dockerfile"
)

// The scheduler: every stage is built at most once (a future that the
// stages using it wait on), the stages that the target needs are all
// started at once so that independent ones run side by side, and the
// steps that do work (Backend.Step) are limited to Options.Jobs at a
// time. Waiting on another stage holds no slot, so a stage that waits
// cannot starve the one it waits for. The first failure cancels the
// rest: their steps see the context end, their containers are removed
// by the backend, and Build returns once they all have.

// sched is the scheduler's state of one build.
type sched struct {
	mu      sync.Mutex
	futures map[int]*future
	slots   chan struct{}
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	err     error // the first failure
}

type future struct {
	done chan struct{}
	img  Image
	err  error
}

func newSched(jobs int) *sched {
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	return &sched{futures: map[int]*future{}, slots: make(chan struct{}, jobs)}
}

// acquire takes a step slot (false: the build was cancelled meanwhile).
func (s *sched) acquire(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *sched) release() { <-s.slots }

// fail records a stage's failure and cancels the others. A cancellation
// that the failure caused is not the build's error.
func (s *sched) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
	s.cancel()
}

func (s *sched) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// stage is stage i's image: built here if no one has started it, else
// the result of the goroutine that did.
func (bd *builder) stage(ctx context.Context, i int) (Image, error) {
	s := bd.sched
	s.mu.Lock()
	f, started := s.futures[i]
	if !started {
		f = &future{done: make(chan struct{})}
		s.futures[i] = f
	}
	s.mu.Unlock()
	if started {
		<-f.done
		return f.img, f.err
	}
	f.img, f.err = bd.buildStage(ctx, i)
	if f.err != nil {
		s.fail(f.err)
	}
	close(f.done)
	return f.img, f.err
}

// startNeeds starts, each in its own goroutine, the stages that the
// target needs (by the references that can be read before building:
// FROM <stage>, COPY --from, RUN --mount from=, with the global ARGs);
// the ones found only while building (a reference made of a stage's
// own ARG, an ONBUILD trigger's) are built when reached.
func (bd *builder) startNeeds(ctx context.Context, target int) {
	for _, j := range bd.needs(target) {
		if j == target {
			continue
		}
		bd.sched.wg.Go(func() { _, _ = bd.stage(ctx, j) })
	}
}

// needs are the stages that stage target needs, itself included, in
// their order in the Dockerfile.
func (bd *builder) needs(target int) []int {
	seen := map[int]bool{}
	var walk func(i int)
	walk = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		for _, j := range bd.deps(i) {
			walk(j)
		}
	}
	walk(target)
	var out []int
	for i := range bd.df.Stages {
		if seen[i] {
			out = append(out, i)
		}
	}
	return out
}

// deps are the earlier stages that stage i names directly.
func (bd *builder) deps(i int) []int {
	st := bd.df.Stages[i]
	lex := shell.NewLex(bd.df.EscapeToken)
	env := dockerfile.Env(envOf(bd.meta))
	var out []int
	ref := func(name string, byIndex bool) {
		if strings.Contains(name, "$") {
			w, _, err := lex.ProcessWord(name, env)
			if err != nil || strings.Contains(w, "$") {
				return
			}
			name = w
		}
		if j, ok := bd.stageRef(name, i); ok && (byIndex || strings.EqualFold(bd.df.Stages[j].Name, name)) {
			out = append(out, j)
		}
	}
	ref(st.BaseName, false)
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From != "" {
				ref(c.From, true)
			}
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(c) {
				if m.From != "" {
					ref(m.From, true)
				}
			}
		}
	}
	return out
}

// isCanceled: err is the build's context ending (another stage failed,
// or the build was interrupted).
func isCanceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, ctx.Err()))
}
