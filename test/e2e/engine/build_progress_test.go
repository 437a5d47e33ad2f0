package engine_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// buildOnTTY runs berth build with its stderr on a terminal (a pty of
// 100x40) and gives what the terminal got (newlines without the pty's
// carriage returns), stdout and the exit status.
func (e *env) buildOnTTY(args ...string) (string, string, int) {
	e.t.Helper()
	b := e.startOnTTY(args...)
	return b.wait()
}

// ttyBuild is a berth build running with its stderr on a pty.
type ttyBuild struct {
	e      *env
	cmd    *exec.Cmd
	ptmx   *os.File
	mu     sync.Mutex
	term   bytes.Buffer
	stdout bytes.Buffer
	copied chan struct{}
}

func (e *env) startOnTTY(args ...string) *ttyBuild {
	e.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ptmx.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		e.t.Fatal(err)
	}
	b := &ttyBuild{e: e, ptmx: ptmx, copied: make(chan struct{})}
	b.cmd = e.cmd(append([]string{"build", "--network", "none"}, args...)...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, tty
	if err := b.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	tty.Close()
	go func() {
		// Ends with EIO once berth has closed the terminal.
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			b.mu.Lock()
			b.term.Write(buf[:n])
			b.mu.Unlock()
			if err != nil {
				break
			}
		}
		close(b.copied)
	}()
	return b
}

// seen is what the terminal got so far.
func (b *ttyBuild) seen() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.term.String()
}

func (b *ttyBuild) wait() (string, string, int) {
	b.e.t.Helper()
	err := b.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.e.t.Fatal(err)
	}
	select {
	case <-b.copied:
	case <-time.After(10 * time.Second):
		b.e.t.Fatal("the terminal's output did not end")
	}
	return strings.ReplaceAll(b.seen(), "\r\n", "\n"), b.stdout.String(), code
}

// frames splits a tty display's output into its frames (each starts by
// hiding the cursor).
func frames(out string) []string {
	f := strings.Split(out, "\x1b[?25l")
	return f[1:]
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

// TestBuildProgressTTY: on a terminal the progress is BuildKit's tty
// display: redrawn frames, the running step's last lines, and a last
// frame with every step, its time, CACHED marks and FINISHED.
func TestBuildProgressTTY(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY a.txt /a.txt\nRUN for i in 1 2 3 4 5 6 7 8; do echo line$i; sleep 0.15; done\nRUN echo second\n",
		"a.txt":      "A\n",
	})
	steps := []string{
		`[internal] load build definition from Dockerfile`,
		`=> transferring dockerfile: `,
		`[internal] load .dockerignore`,
		`[1/4] FROM docker.io/library/busybox:latest`,
		`[2/4] COPY a.txt /a.txt`,
		`[3/4] RUN for i in 1 2 3 4 5 6 7 8; do echo line$i; sleep 0.15; done`,
		`[4/4] RUN echo second`,
		`exporting to image`,
		`=> writing image sha256:`,
		`=> naming to docker.io/library/shown:latest`,
	}
	check := func(out string, redrawn bool) {
		t.Helper()
		fs := frames(out)
		if len(fs) == 0 || redrawn && (len(fs) < 3 || !regexp.MustCompile(`\x1b\[\d+A`).MatchString(out)) {
			t.Fatalf("%d frames, no redraw:\n%q", len(fs), out)
		}
		last := ansiRE.ReplaceAllString(fs[len(fs)-1], "")
		lines := strings.Split(strings.TrimSuffix(last, "\n"), "\n")
		if !regexp.MustCompile(`^\[\+\] Building \d+\.\d+s \(7/7\) FINISHED$`).MatchString(lines[0]) {
			t.Errorf("last frame's header %q\n%s", lines[0], last)
		}
		if len(lines) != 1+len(steps) {
			t.Fatalf("last frame:\n%s", last)
		}
		for i, want := range steps {
			l := lines[i+1]
			if !strings.HasPrefix(l, " => "+want) || !regexp.MustCompile(` \d+\.\ds$`).MatchString(l) || len(l) != 99 {
				t.Errorf("last frame's line %d %q, want %q with a time at column 99", i+1, l, want)
			}
		}
	}
	// auto on a terminal is tty.
	out, stdout, code := e.buildOnTTY("-t", "shown", dir)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, out)
	}
	check(out, true)
	// The running step's output shows while it runs (its last lines),
	// in blue once done.
	if !strings.Contains(out, " => => # line3\x1b[K") || !strings.Contains(out, "\x1b[34m => [2/4] COPY a.txt /a.txt") {
		t.Errorf("no running output or colors:\n%q", out)
	}
	// A rebuild shows the cache hits.
	out, _, code = e.buildOnTTY("--progress", "tty", "-t", "shown", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	steps = append(steps[:4:4], "CACHED "+steps[4], "CACHED "+steps[5], "CACHED "+steps[6], steps[7], steps[8], steps[9])
	check(out, false)

	// A failure: the step in red as ERROR, then BuildKit's report.
	bad := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo oops; exit 3\n"})
	out, _, code = e.buildOnTTY(bad)
	fs := frames(out)
	last := fs[len(fs)-1]
	if code != 1 || !strings.Contains(last, "\x1b[31m => ERROR [2/2] RUN echo oops; exit 3") ||
		!strings.Contains(last, "------\n > [2/2] RUN echo oops; exit 3:\n") || !strings.Contains(last, " oops\n") ||
		!strings.Contains(last, "ERROR: failed to build: failed to solve: process \"/bin/sh -c echo oops; exit 3\" did not complete successfully: exit code: 3") {
		t.Errorf("exit %d; last frame:\n%s", code, last)
	}

	// Interrupted: the running step CANCELED in the last frame, the
	// cursor shown again, the build's container gone.
	slow := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started; sleep 60\n"})
	b := e.startOnTTY(slow)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(b.seen(), "# started") {
		if time.Now().After(deadline) {
			b.cmd.Process.Kill()
			t.Fatalf("the step did not start:\n%q", b.seen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.cmd.Process.Signal(syscall.SIGINT)
	out, _, code = b.wait()
	fs = frames(out)
	last = fs[len(fs)-1]
	if code == 0 || !strings.Contains(last, " => CANCELED [2/2] RUN echo started; sleep 60") || !strings.Contains(last, "\x1b[J\x1b[?25h") || strings.Count(out, "\x1b[?25l") != strings.Count(out, "\x1b[?25h") {
		t.Errorf("interrupted: exit %d; last frame:\n%q", code, last)
	}
	if ps := e.must("ps", "-a", "-q"); ps != "" {
		t.Errorf("containers left: %s", ps)
	}

	// -q on a terminal: no display, the id on stdout.
	out, stdout, code = e.buildOnTTY("-q", dir)
	if code != 0 || out != "" || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(stdout) {
		t.Errorf("-q: exit %d, stdout %q, terminal %q", code, stdout, out)
	}
}

// TestBuildProgressPlain: without a terminal auto is plain, tty is
// refused, $BUILDKIT_PROGRESS is the default, -q prints the id alone.
func TestBuildProgressPlain(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi\n"})
	run := func(env string, args ...string) (string, string, int) {
		t.Helper()
		cmd := e.cmd(append([]string{"build", "--network", "none"}, args...)...)
		if env != "" {
			cmd.Env = append(cmd.Environ(), env)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	for _, c := range []struct {
		env  string
		args []string
	}{{"", nil}, {"", []string{"--progress", "auto"}}, {"BUILDKIT_PROGRESS=plain", nil}, {"BUILDKIT_PROGRESS=tty", []string{"--progress", "plain"}}} {
		stdout, stderr, code := run(c.env, append(c.args, dir)...)
		if code != 0 || stdout != "" || !strings.HasPrefix(stderr, "\n#1 [internal] load build definition from Dockerfile\n") ||
			!strings.Contains(stderr, "\n#4 [2/2] RUN echo hi\n") || strings.Contains(stderr, "\x1b") {
			t.Errorf("%s %v: exit %d, stdout %q, stderr:\n%s", c.env, c.args, code, stdout, stderr)
		}
	}
	for _, c := range []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"--progress", "tty"}, "Error: --progress tty: stderr is not a terminal (use --progress plain)\n"},
		{"BUILDKIT_PROGRESS=tty", nil, "Error: --progress tty: stderr is not a terminal (use --progress plain)\n"},
		{"", []string{"--progress", "rawjson"}, "Error: --progress rawjson is not supported: use plain or tty\n"},
		{"", []string{"--progress", "fancy"}, "Error: invalid progress mode \"fancy\": want auto, plain, tty or quiet\n"},
	} {
		stdout, stderr, code := run(c.env, append(c.args, dir)...)
		if code != 125 || stdout != "" || stderr != c.want {
			t.Errorf("%s %v: exit %d, stdout %q, stderr %q, want 125 and %q", c.env, c.args, code, stdout, stderr, c.want)
		}
	}
	for _, args := range [][]string{{"-q"}, {"--progress", "quiet", "--iidfile", "/dev/stdout"}} {
		stdout, stderr, code := run("", append(args, dir)...)
		if code != 0 || stderr != "" || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n?$`).MatchString(stdout) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}
