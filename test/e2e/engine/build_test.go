package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildCtx writes a build context: file name -> content (a name ending
// in "/" is a directory; "->target" content makes a symlink).
func buildCtx(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// build runs berth build with --progress plain and returns the progress
// (stderr), failing the test on a non-zero exit.
func (e *env) build(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.berth(append([]string{"build", "--progress", "plain", "--network", "none"}, args...)...)
	if code != 0 {
		e.t.Fatalf("berth build %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return errOut
}

// TestBuildBasic: a Dockerfile with ARG, ENV, WORKDIR, COPY and RUN
// builds an image whose container sees the files and the output.
func TestBuildBasic(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `FROM busybox
ARG GREETING=hello
ENV APP=/app
WORKDIR $APP
COPY a.txt sub/ ./
RUN echo "$GREETING from $(pwd)" > out.txt && cat out.txt
CMD ["cat", "/app/out.txt", "/app/a.txt", "/app/b.txt"]
`,
		"a.txt":     "A\n",
		"sub/b.txt": "B\n",
	})
	progress := e.build("-t", "basic", "--build-arg", "GREETING=hi", dir)
	for _, want := range []string{"[1/4] FROM busybox", "[2/4] WORKDIR $APP", "[3/4] COPY a.txt sub/ ./", "[4/4] RUN echo", " hi from /app", "DONE", "naming to basic"} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}
	if got := e.must("run", "--rm", "basic"); got != "hi from /app\nA\nB" {
		t.Errorf("run: %q", got)
	}
}

// TestBuildCache: a rebuild with nothing changed runs nothing and gives
// the same image; touch alone re-runs nothing; a changed file re-runs the
// steps from its COPY on; --no-cache runs everything.
func TestBuildCache(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY one /one\nRUN cat /one > /copy1\nCOPY two /two\nRUN cat /one /two > /both\nENV DONE=1\n",
		"one":        "1\n",
		"two":        "2\n",
	})
	ran := func(progress string) []string {
		var out []string
		lines := strings.Split(progress, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "#") && strings.Contains(l, "/") && strings.Contains(l, "] ") && !strings.Contains(l, "[internal]") && !strings.Contains(l, "FROM") {
				name := l[strings.Index(l, "] ")+2:]
				for _, m := range lines[i+1:] {
					if strings.HasSuffix(m, " CACHED") {
						break
					}
					if strings.Contains(m, " DONE ") {
						out = append(out, name)
						break
					}
				}
			}
		}
		return out
	}
	iid := filepath.Join(t.TempDir(), "iid")
	first := ran(e.build("--iidfile", iid, "-t", "c", dir))
	if len(first) != 4 {
		t.Fatalf("first build ran %q", first)
	}
	id1, _ := os.ReadFile(iid)
	if again := ran(e.build("--iidfile", iid, "-t", "c", dir)); len(again) != 0 {
		t.Errorf("rebuild ran %q", again)
	}
	id2, _ := os.ReadFile(iid)
	if string(id1) != string(id2) || !strings.HasPrefix(string(id1), "sha256:") {
		t.Errorf("rebuild gave %s, then %s", id1, id2)
	}
	// Times are not content.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "one"), later, later)
	if r := ran(e.build("-t", "c", dir)); len(r) != 0 {
		t.Errorf("after touch, ran %q", r)
	}
	os.WriteFile(filepath.Join(dir, "two"), []byte("2b\n"), 0o644)
	if r := ran(e.build("-t", "c", dir)); strings.Join(r, "|") != "COPY two /two|RUN cat /one /two > /both" {
		t.Errorf("after a change of two, ran %q", r)
	}
	if got := e.must("run", "--rm", "c", "cat", "/both"); got != "1\n2b" {
		t.Errorf("/both: %q", got)
	}
	if r := ran(e.build("--no-cache", "-t", "c", dir)); len(r) != 4 {
		t.Errorf("--no-cache ran %q", r)
	}
	if q := e.must("build", "-q", "--network", "none", dir); !strings.HasPrefix(q, "sha256:") || strings.Contains(q, "\n") {
		t.Errorf("-q printed %q", q)
	}
}
