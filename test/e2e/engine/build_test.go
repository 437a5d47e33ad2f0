package engine_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
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
	progress := e.build("-t", "basic", "--build-arg", "GREETING=hi", "--build-arg", "UNUSED=1", "--build-arg", "http_proxy=http://192.0.2.1:3128", dir)
	if !strings.Contains(progress, "[Warning] One or more build-args [UNUSED] were not consumed") {
		t.Errorf("no warning of the unused build arg:\n%s", progress)
	}
	for _, want := range []string{"[1/4] FROM docker.io/library/busybox:latest", "[2/4] WORKDIR $APP", "[3/4] COPY a.txt sub/ ./", "[4/4] RUN echo", " hi from /app", "DONE", "naming to docker.io/library/basic:latest done"} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}
	if got := e.must("run", "--rm", "basic"); got != "hi from /app\nA\nB" {
		t.Errorf("run: %q", got)
	}
	// Docker's proxy args reach RUN undeclared, and stay out of history.
	dir = buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo \"p=$http_proxy\" > /p\n"})
	e.build("-t", "proxy", "--build-arg", "http_proxy=http://192.0.2.1:3128", dir)
	if got := e.must("run", "--rm", "proxy", "cat", "/p"); got != "p=http://192.0.2.1:3128" {
		t.Errorf("proxy arg in RUN: %q", got)
	}
	if h := e.must("history", "--no-trunc", "proxy"); strings.Contains(h, "192.0.2.1") {
		t.Errorf("proxy arg in history:\n%s", h)
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
	// The steps' images are build cache: hidden from images, shown by -a
	// and counted by system df.
	// (The two results that lost the name c stay, dangling, as Docker's.)
	if imgs := e.must("images", "--format", "{{.Repository}}"); imgs != "c\n<none>\n<none>\nbusybox" {
		t.Errorf("images:\n%s", imgs)
	}
	if all := e.must("images", "-a", "-q"); len(strings.Fields(all)) < 6 {
		t.Errorf("images -a:\n%s", all)
	}
	if df := e.must("system", "df"); !regexp.MustCompile(`Build Cache\s+[1-9]`).MatchString(df) {
		t.Errorf("system df:\n%s", df)
	}
	if q := e.must("build", "-q", "--network", "none", dir); !strings.HasPrefix(q, "sha256:") || strings.Contains(q, "\n") {
		t.Errorf("-q printed %q", q)
	}
}

// TestBuildInstructions: every config instruction lands in the image
// config, and history has an entry per instruction (empty_layer for the
// config-only ones).
func TestBuildInstructions(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `ARG BASE=busybox
FROM $BASE
LABEL a=1 "b c"=2
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
RUN echo "app:x:1234:1234::/:/bin/sh" >> /etc/passwd
USER app
RUN id -u > /tmp/uid
ENTRYPOINT ["/bin/echo", "ep"]
CMD ["arg"]
`,
	})
	e.build("-t", "ins", "--label", "from=flag", dir)
	cfg := e.must("image", "inspect", "--format", "{{json .Config}}", "ins")
	for _, want := range []string{`"User":"app"`, `"80/tcp":{}`, `"53/udp":{}`, `"/data":{}`, `"StopSignal":"SIGINT"`,
		`"a":"1"`, `"b c":"2"`, `"from":"flag"`, `"Entrypoint":["/bin/echo","ep"]`, `"Cmd":["arg"]`, `"Shell":["/bin/sh","-ec"]`,
		`"Test":["CMD-SHELL","true"]`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
	if got := e.must("run", "--rm", "ins"); got != "ep arg" {
		t.Errorf("run: %q", got)
	}
	if got := e.must("run", "--rm", "--entrypoint", "cat", "ins", "/tmp/uid"); got != "1234" {
		t.Errorf("RUN after USER ran as %q", got)
	}
	// ONBUILD: the triggers run in the build FROM the image, and are
	// not inherited.
	dir2 := buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /onbuild\n"})
	e.build("-t", "ob", dir2)
	dir3 := buildCtx(t, map[string]string{"Dockerfile": "FROM ob\nRUN cat /onbuild\n"})
	if p := e.build("-t", "ob2", dir3); !strings.Contains(p, "[2/3] RUN echo triggered") {
		t.Errorf("ONBUILD trigger not run:\n%s", p)
	}
	if got := e.must("image", "inspect", "--format", "{{json .Config.OnBuild}}", "ob2"); got != "null" && got != "[]" {
		t.Errorf("ONBUILD inherited: %s", got)
	}
	// The exec form of RUN, the escape directive, a gzipped tar that ADD
	// unpacks.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "z/in-gz", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("gz\n"))
	tw.Close()
	zw.Close()
	dir4 := buildCtx(t, map[string]string{
		"Dockerfile": "# escape=`\nFROM busybox\nRUN [\"/bin/sh\", \"-c\", \"echo exec > /exec\"]\nRUN echo a `\n  b > /cont\nADD t.tgz /u/\n",
		"t.tgz":      gz.String(),
	})
	e.build("-t", "forms", dir4)
	if got := e.must("run", "--rm", "forms", "cat", "/exec", "/cont", "/u/z/in-gz"); got != "exec\na b\ngz" {
		t.Errorf("exec form, escape, ADD .tgz: %q", got)
	}
	hist := e.must("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "ins")
	for _, want := range []string{"RUN /bin/sh -ec echo \"app:x:1234:1234::/:/bin/sh\" >> /etc/passwd # buildkit|", "USER app|0B", `CMD ["arg"]|0B`} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
}

// TestBuildStages: multi-stage builds: FROM an earlier stage, COPY
// --from by name and index, --target, scratch, ARG before FROM; only the
// stages the target needs run.
func TestBuildStages(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `ARG MSG=built
FROM busybox AS maker
ARG MSG
RUN mkdir /out && echo "$MSG" > /out/msg && ln -s /out/msg /abs
FROM maker AS more
RUN echo more >> /out/msg
FROM busybox AS unused
RUN exit 7
FROM scratch
COPY --from=more /out/msg /msg
COPY --from=0 /bin/busybox /bin/cat
COPY --from=maker /abs /via-link
ENTRYPOINT ["/bin/cat"]
CMD ["/msg"]
`,
	})
	progress := e.build("-t", "st", "--build-arg", "MSG=hello", dir)
	if strings.Contains(progress, "exit 7") {
		t.Errorf("the unused stage ran:\n%s", progress)
	}
	if !strings.Contains(progress, "[maker 2/2] RUN") || !strings.Contains(progress, "[stage-3 2/4] COPY --from=more") {
		t.Errorf("progress:\n%s", progress)
	}
	if got := e.must("run", "--rm", "st", "/msg", "/via-link"); got != "hello\nmore\nhello" {
		t.Errorf("run: %q", got)
	}
	// The steps' images, and scratch's empty one, are not listed.
	if imgs := e.must("images", "--format", "{{.Repository}}"); imgs != "st\nbusybox" {
		t.Errorf("images:\n%s", imgs)
	}
	e.build("-t", "mk", "--target", "maker", "--build-arg", "MSG=hello", dir)
	if got := e.must("run", "--rm", "mk", "cat", "/out/msg"); got != "hello" {
		t.Errorf("--target maker: %q", got)
	}
}

// TestBuildCopy: globs, directories, --chown, --chmod, ADD of a local
// tar (unpacked), .dockerignore with ! exceptions.
func TestBuildCopy(t *testing.T) {
	e := newEnv(t)
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "in-tar/x", Mode: 0o600, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("x\n"))
	tw.Close()
	dir := buildCtx(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY *.txt /txt/
COPY --chown=1000:1000 --chmod=0700 d /d
ADD files.tar /unpacked/
COPY . /all/
RUN echo "bob:x:2000:2000::/:/bin/sh" >> /etc/passwd && echo "bob:x:2000:" >> /etc/group
COPY --chown=bob a.txt /bob/
COPY a.txt /usr
COPY b.txt /renamed
`,
		"a.txt":         "a\n",
		"b.txt":         "b\n",
		"c.md":          "c\n",
		"d/sub/f":       "f\n",
		"files.tar":     tb.String(),
		"secret/key":    "no\n",
		"secret/keep":   "yes\n",
		"logs/x.log":    "no\n",
		".dockerignore": "secret\n!secret/keep\n**/*.log\n",
	})
	e.build("-t", "cp", dir)
	check := func(cmd, want string) {
		t.Helper()
		if got := e.must("run", "--rm", "cp", "sh", "-c", cmd); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	check("ls /txt", "a.txt\nb.txt")
	check("stat -c '%u:%g %a' /d/sub/f /d/sub", "1000:1000 700\n1000:1000 700")
	check("cat /unpacked/in-tar/x; stat -c %a /unpacked/in-tar/x", "x\n600")
	check("cd /all && find . -type f | sort", "./.dockerignore\n./Dockerfile\n./a.txt\n./b.txt\n./c.md\n./d/sub/f\n./files.tar\n./secret/keep")
	check("stat -c %u:%g /bob/a.txt", "2000:2000")
	// A file to an existing directory goes in it; to another path, is it.
	check("cat /usr/a.txt /renamed", "a\nb")
}

// TestBuildBadInput: a clear error and exit 1 (docker build's status for
// a failed build), no container left, no image named; a failing RUN
// keeps the cache of the steps before it.
func TestBuildBadInput(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s\n"), 0o644)
	var lines []string
	for i := 1; i <= 12; i++ {
		lines = append(lines, fmt.Sprintf("echo line%d", i))
	}
	failing := "FROM busybox\nCOPY ok /ok\nRUN " + strings.Join(lines, "; ") + "; exit 3\n"
	for _, tc := range []struct {
		name, dockerfile string
		files            map[string]string
		want             []string
	}{
		{"syntax", "FROM busybox\nENV\n", nil, []string{"dockerfile parse error on line 2: ENV requires at least one argument", "   2 | >>> ENV"}},
		{"unknown", "FROM busybox\nFOO bar\n", nil, []string{"dockerfile parse error on line 2: unknown instruction: FOO"}},
		{"frontend", "# syntax=example.com/other\nFROM busybox\n", nil, []string{"only the built-in Dockerfile front end"}},
		{"no-from", "RUN true\n", nil, []string{"no build stage in current context"}},
		{"dotdot", "FROM busybox\nCOPY ../secret /s\n", nil, []string{"forbidden path outside the build context: ../secret"}},
		{"symlink-out", "FROM busybox\nCOPY link /s\n", map[string]string{"link": "->" + filepath.Join(outside, "secret")}, []string{"forbidden path outside the build context: link"}},
		{"missing", "FROM busybox\nCOPY nothere /x\n", nil, []string{`"/nothere": not found`}},
		{"from-stage", "FROM busybox\nCOPY --from=nosuch /x /x\n", nil, []string{"COPY --from=nosuch: no stage or image of that name"}},
		{"target", "FROM busybox AS a\n", nil, []string{`target stage "zzz" could not be found`}},
		{"run", failing, map[string]string{"ok": "ok\n"}, []string{
			`ERROR: failed to build: failed to solve: process "/bin/sh -c echo line1;`, "exit code: 3",
			" > [3/3] RUN echo line1;", "line12", "   3 | >>> RUN echo line1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"Dockerfile": tc.dockerfile}
			maps.Copy(files, tc.files)
			dir := buildCtx(t, files)
			args := []string{"build", "--progress", "plain", "--network", "none", "-t", "bad", dir}
			if tc.name == "target" {
				args = append(args, "--target", "zzz")
			}
			_, errOut, code := e.berth(args...)
			if code != 1 {
				t.Errorf("exit %d, want 1\n%s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if _, box, _ := strings.Cut(errOut, "------\n > "); strings.Contains(box, " line1\n") || strings.Contains(box, " line2\n") {
				t.Errorf("more than the last 10 lines:\n%s", errOut)
			}
			if ps := e.must("ps", "-aq"); ps != "" {
				t.Errorf("containers left: %s", ps)
			}
			if _, _, code := e.berth("image", "inspect", "bad"); code == 0 {
				t.Errorf("an image named bad was made")
			}
		})
	}
	// The steps before the failing RUN are cached.
	dir := buildCtx(t, map[string]string{"Dockerfile": failing, "ok": "ok\n"})
	e.berth("build", "--progress", "plain", "--network", "none", dir)
	_, errOut, _ := e.berth("build", "--progress", "plain", "--network", "none", dir)
	if !strings.Contains(errOut, "[2/3] COPY ok /ok\n#4 CACHED") {
		t.Errorf("COPY before the failing RUN not cached:\n%s", errOut)
	}
	// Contexts that do not exist, Dockerfiles that do not.
	if _, errOut, code := e.berth("build", filepath.Join(outside, "nope")); code != 1 || !strings.Contains(errOut, "unable to prepare context: path") {
		t.Errorf("missing context: %d %s", code, errOut)
	}
	if _, errOut, code := e.berth("build", outside); code != 1 || !strings.Contains(errOut, "failed to read dockerfile") {
		t.Errorf("missing Dockerfile: %d %s", code, errOut)
	}
	if _, errOut, code := e.berth("build", "--network", "bridge0", outside); code != 125 || !strings.Contains(errOut, `network mode "bridge0" not supported`) {
		t.Errorf("bad --network: %d %s", code, errOut)
	}
}

// TestBuildContexts: the context as a tar on stdin, as a tar file, a
// Dockerfile on stdin (-f - and `build -`), -f outside the context,
// Containerfile and .containerignore found as Podman finds them, and a
// hostile context tar refused with nothing written outside.
func TestBuildContexts(t *testing.T) {
	e := newEnv(t)
	mk := func(entries ...tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range entries {
			body := h.Linkname
			if h.Typeflag == tar.TypeReg {
				h.Linkname, h.Size = "", int64(len(body))
			}
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			tw.WriteHeader(&h)
			if h.Typeflag == tar.TypeReg {
				tw.Write([]byte(body))
			}
		}
		tw.Close()
		return b.Bytes()
	}
	reg := func(name, body string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeReg, Linkname: body}
	}
	ctxTar := mk(reg("Dockerfile", "FROM busybox\nCOPY f /f\n"), reg("f", "from tar\n"))
	if _, errOut, code := e.berthIn(ctxTar, "build", "--progress", "plain", "-t", "stdin", "-"); code != 0 {
		t.Fatalf("tar on stdin: %d %s", code, errOut)
	}
	if got := e.must("run", "--rm", "stdin", "cat", "/f"); got != "from tar" {
		t.Errorf("tar on stdin: %q", got)
	}
	tf := filepath.Join(t.TempDir(), "ctx.tar")
	os.WriteFile(tf, ctxTar, 0o644)
	e.build("-t", "tarfile", tf)
	if got := e.must("run", "--rm", "tarfile", "cat", "/f"); got != "from tar" {
		t.Errorf("tar file: %q", got)
	}
	if _, errOut, code := e.berthIn([]byte("FROM busybox\nENV X=stdin\n"), "build", "-t", "dfstdin", "-"); code != 0 {
		t.Fatalf("Dockerfile on stdin: %d %s", code, errOut)
	}
	dir := buildCtx(t, map[string]string{"f": "dir\n", "Containerfile": "FROM busybox\nCOPY . /c/\n", "x.skip": "no", ".containerignore": "*.skip\n"})
	if _, errOut, code := e.berthIn([]byte("FROM busybox\nCOPY f /f\n"), "build", "-t", "fstdin", "-f", "-", dir); code != 0 {
		t.Fatalf("-f -: %d %s", code, errOut)
	}
	if got := e.must("run", "--rm", "fstdin", "cat", "/f"); got != "dir" {
		t.Errorf("-f -: %q", got)
	}
	e.build("-t", "cf", dir)
	if got := e.must("run", "--rm", "cf", "ls", "-A", "/c"); got != ".containerignore\nContainerfile\nf" {
		t.Errorf("Containerfile build: %q", got)
	}
	out := filepath.Join(t.TempDir(), "Other.df")
	os.WriteFile(out, []byte("FROM busybox\nCOPY f /g\n"), 0o644)
	e.build("-t", "fout", "-f", out, dir)
	if got := e.must("run", "--rm", "fout", "cat", "/g"); got != "dir" {
		t.Errorf("-f outside: %q", got)
	}
	// -f relative to the context when it is not found from here.
	os.WriteFile(filepath.Join(dir, "Dev.df"), []byte("FROM busybox\nENV DEV=1\n"), 0o644)
	e.build("-t", "dev", "-f", "Dev.df", dir)
	if got := e.must("image", "inspect", "--format", "{{json .Config.Env}}", "dev"); !strings.Contains(got, "DEV=1") {
		t.Errorf("-f in the context: %s", got)
	}
	// Hostile tars: .. names, absolute links followed out, hard links out.
	victim := t.TempDir()
	for name, bad := range map[string][]byte{
		"dotdot":   mk(reg("Dockerfile", "FROM busybox\n"), reg("../../"+filepath.Base(victim)+"/evil", "x")),
		"symlink":  mk(reg("Dockerfile", "FROM busybox\n"), tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: victim}, reg("l/evil", "x")),
		"hardlink": mk(reg("Dockerfile", "FROM busybox\n"), tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}),
	} {
		_, errOut, code := e.berthIn(bad, "build", "-t", "hostile", "-")
		if code != 1 || !strings.Contains(errOut, "unable to prepare context") {
			t.Errorf("%s: exit %d: %s", name, code, errOut)
		}
		if ents, _ := os.ReadDir(victim); len(ents) != 0 {
			t.Errorf("%s: wrote outside: %v", name, ents)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(e.root, "build", "tmp")); len(tmp) != 0 {
		t.Errorf("context directories left: %v", tmp)
	}
}

// TestBuildNetwork: RUN steps get --network: host sees the namespace
// berth runs in (the test's own, with a veth pair of its own), none
// only a loopback; default is the engine's default mode, and RUN
// --network overrides the flag. The cache keeps the modes apart.
func TestBuildNetwork(t *testing.T) {
	e, ns := newNetEnv(t)
	nsMust(t, ns, "ip", "link", "add", "tbuild0", "type", "veth", "peer", "name", "tbuild1")
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN cat /proc/net/dev > /links\nRUN --network=none cat /proc/net/dev > /none\n",
	})
	links := func(img, file string) string {
		out := e.must("run", "--rm", "--network", "none", img, "cat", file)
		var names []string
		for _, l := range strings.Split(out, "\n") {
			if n, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
				names = append(names, n)
			}
		}
		return strings.Join(names, ",")
	}
	// default is the engine's default network, the bridge (as docker build's).
	for _, tc := range []struct{ mode, want string }{{"host", "lo,tbuild1,tbuild0"}, {"none", "lo"}, {"default", "lo,eth0"}} {
		out, errOut, code := e.berth("build", "--progress", "plain", "--network", tc.mode, "-t", "net-"+tc.mode, dir)
		if code != 0 {
			t.Fatalf("--network %s: %d\n%s%s", tc.mode, code, out, errOut)
		}
		if got := links("net-"+tc.mode, "/links"); got != tc.want {
			t.Errorf("--network %s: RUN saw %s, want %s", tc.mode, got, tc.want)
		}
		if got := links("net-"+tc.mode, "/none"); got != "lo" {
			t.Errorf("RUN --network=none under --network %s saw %s", tc.mode, got)
		}
	}
}
