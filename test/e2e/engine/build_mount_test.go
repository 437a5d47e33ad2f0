package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildMountCache: a cache mount keeps its files from build to
// build (the step re-run with --no-cache sees the first run's), is not
// in the image, and its target dir is not left in the layer either.
func TestBuildMountCache(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": `FROM busybox
RUN --mount=type=cache,target=/var/cache/app,id=c1,uid=1000,mode=0700 echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /count && stat -c %u:%a /var/cache/app > /owner
RUN --mount=type=cache,id=c1,target=/other,sharing=locked cat /other/log > /seen
`})
	e.build("-t", "cm", dir)
	if got := e.must("run", "--rm", "cm", "cat", "/count", "/owner", "/seen"); got != "1\n1000:700\nrun" {
		t.Errorf("first build: %q", got)
	}
	e.build("--no-cache", "-t", "cm", dir)
	if got := e.must("run", "--rm", "cm", "cat", "/count"); got != "2" {
		t.Errorf("second build's count: %q", got)
	}
	for _, p := range []string{"/var/cache/app", "/var/cache", "/other"} {
		if out, _, code := e.berth("run", "--rm", "cm", "ls", "-d", p); code == 0 {
			t.Errorf("mount target %s is in the image: %s", p, out)
		}
	}
	if _, err := os.Stat(filepath.Join(e.root, "build", "cache-mounts")); err != nil {
		t.Errorf("no cache mounts dir: %v", err)
	}
}

// TestBuildMountBind: a bind of the context (a dir or a file source) and
// of a stage; rw writes are discarded, the context is untouched; a
// cache seeded from a stage (from=).
func TestBuildMountBind(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `FROM busybox AS files
RUN mkdir /out && echo staged > /out/s.txt
FROM busybox
RUN --mount=type=bind,source=sub,target=/src cat /src/f.txt > /fromctx
RUN --mount=source=sub/f.txt,target=/one.txt cat /one.txt > /fromfile
RUN --mount=from=files,source=/out,target=/st cat /st/s.txt > /fromstage
RUN --mount=type=bind,target=/ctx,rw echo x > /ctx/new && echo x > /ctx/sub/f.txt
RUN --mount=type=bind,target=/ctx sh -c 'cat /ctx/sub/f.txt; test ! -e /ctx/new' > /after
RUN --mount=type=bind,target=/ro sh -c 'touch /ro/x 2>/dev/null && echo writable || echo readonly' > /romode
RUN --mount=type=cache,id=seeded,target=/seed,from=files,source=/out cat /seed/s.txt > /fromseed
`,
		"sub/f.txt": "ctx\n",
	})
	e.build("-t", "bm", dir)
	if got := e.must("run", "--rm", "bm", "cat", "/fromctx", "/fromfile", "/fromstage", "/after", "/romode", "/fromseed"); got != "ctx\nctx\nstaged\nctx\nreadonly\nstaged" {
		t.Errorf("bind mounts saw %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a rw bind wrote into the context")
	}
	for _, p := range []string{"/src", "/one.txt", "/st", "/ctx", "/ro", "/seed"} {
		if out, _, code := e.berth("run", "--rm", "bm", "ls", "-d", p); code == 0 {
			t.Errorf("mount target %s is in the image: %s", p, out)
		}
	}
	// The bound files are in the key: a changed file re-runs the step.
	os.WriteFile(filepath.Join(dir, "sub/f.txt"), []byte("changed\n"), 0o644)
	e.build("-t", "bm", dir)
	if got := e.must("run", "--rm", "bm", "cat", "/fromctx"); got != "changed" {
		t.Errorf("after the change: %q", got)
	}
}

// TestBuildMountTmpfs: a tmpfs of the given size, gone after the step,
// its target too, also through a symlink of the image.
func TestBuildMountTmpfs(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": `FROM busybox
RUN --mount=type=tmpfs,target=/scratch/t,size=1m sh -c 'grep " /scratch/t " /proc/mounts | grep -c "tmpfs.*size=1024k" > /seen; echo x > /scratch/t/f'
RUN mkdir /real && ln -s /real /link
RUN --mount=type=tmpfs,target=/link/t/u touch /link/t/u/f
`})
	e.build("-t", "tm", dir)
	if got := e.must("run", "--rm", "tm", "cat", "/seen"); got != "1" {
		t.Errorf("tmpfs: %q", got)
	}
	for _, p := range []string{"/scratch", "/real/t"} {
		if out, _, code := e.berth("run", "--rm", "tm", "ls", "-d", p); code == 0 {
			t.Errorf("the tmpfs target is in the image: %s", out)
		}
	}
}

// TestBuildMountSecret: a secret from a file and one from the
// environment reach RUN, and are in no layer, history or config; a
// required secret not given fails the build.
func TestBuildMountSecret(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": `FROM busybox
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len && stat -c %a /run/secrets/tok > /mode
RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0440,uid=5 stat -c %a:%u /etc/tok > /mode2
RUN --mount=type=secret,id=ev,env=TOKEN echo ${#TOKEN} > /env
RUN --mount=type=secret,id=absent echo fine > /optional
`})
	sec := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(sec, []byte("s3cret-file"), 0o600)
	cmd := e.cmd("build", "--progress", "plain", "--network", "none", "-t", "sec", "--secret", "id=tok,src="+sec, "--secret", "id=ev,env=BERTH_TEST_SECRET", dir)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "BERTH_TEST_SECRET=s3cret-env")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if got := e.must("run", "--rm", "sec", "cat", "/len", "/mode", "/mode2", "/env", "/optional"); got != "11\n400\n440:5\n10\nfine" {
		t.Errorf("secrets: %q", got)
	}
	for _, p := range []string{"/run/secrets", "/etc/tok"} {
		if out, _, code := e.berth("run", "--rm", "sec", "ls", "-d", p); code == 0 {
			t.Errorf("secret target %s is in the image: %s", p, out)
		}
	}
	for _, args := range [][]string{{"history", "--no-trunc", "sec"}, {"image", "inspect", "sec"}} {
		if out := e.must(args...); strings.Contains(out, "s3cret") {
			t.Errorf("%v shows the secret:\n%s", args, out)
		}
	}
	tar := filepath.Join(t.TempDir(), "sec.tar")
	e.must("save", "-o", tar, "sec")
	if b, _ := os.ReadFile(tar); strings.Contains(string(b), "s3cret") {
		t.Error("the saved image holds the secret")
	}
	// required, not given: the build fails, exit 1.
	dir = buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=need,required echo no\n"})
	_, errOut, code := e.berth("build", "--progress", "plain", "--network", "none", dir)
	if code != 1 || !strings.Contains(errOut, "secret need: not found") {
		t.Errorf("required secret missing: exit %d\n%s", code, errOut)
	}
	// A failed RUN leaves no secret file behind.
	dir = buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=tok --mount=type=bind,target=/b false\n"})
	if _, errOut, code := e.berth("build", "--progress", "plain", "--network", "none", "--secret", "id=tok,src="+sec, dir); code != 1 {
		t.Errorf("failing RUN: exit %d\n%s", code, errOut)
	}
	if left, _ := filepath.Glob(filepath.Join(e.root, "build", "tmp", "*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, errOut, code := e.berth("build", "--secret", "id=x,src=/nonexistent-secret", dir); code != 125 || !strings.Contains(errOut, "secret x") {
		t.Errorf("bad --secret: exit %d %s", code, errOut)
	}
}
