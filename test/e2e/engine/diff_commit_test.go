package engine_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDiff: added, changed and deleted paths as Docker prints them, the
// directories of added and deleted paths as changed.
func TestDiff(t *testing.T) {
	e := newEnv(t)
	e.must("run", "--name", "d1", "busybox", "sh", "-c",
		"echo new > /tmp/added; mkdir -p /home/berth/newdir/deep; echo x > /home/berth/newdir/deep/f; "+
			"echo more >> /etc/passwd; rm /etc/group; rm -r /var/tmp; mkdir /var/tmp2")
	want := []string{
		// /home itself is as in the image: only its changed child shows.
		"C /etc", "D /etc/group", "C /etc/passwd",
		"C /home/berth", "A /home/berth/newdir", "A /home/berth/newdir/deep", "A /home/berth/newdir/deep/f",
		"C /tmp", "A /tmp/added",
		"C /var", "D /var/tmp", "A /var/tmp2",
	}
	got := strings.Split(e.must("diff", "d1"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A container that changed nothing but its mount points has nothing
	// to show; a running one is read as it runs.
	e.runReady("--name", "d2", "busybox", "sh", "-c", "echo ready; exec sleep 1000")
	e.must("exec", "d2", "sh", "-c", "echo hi > /root/hi")
	if got := e.must("diff", "d2"); !strings.Contains(got, "C /root\nA /root/hi") {
		t.Errorf("diff of a running container:\n%s", got)
	}
	if _, errOut, code := e.berth("diff", "nosuch"); code != 125 || !strings.Contains(errOut, "no such container") {
		t.Errorf("diff of a missing container: exit %d: %s", code, errOut)
	}
}

type imageInspect struct {
	ID     string `json:"Id"`
	Author string
	Config struct {
		Cmd, Env, Entrypoint []string
		WorkingDir, User     string
		Labels               map[string]string
		ExposedPorts         map[string]struct{}
	}
	RootFS  struct{ Layers []string }
	History []struct {
		Author, Comment, CreatedBy string
	}
}

func (e *env) imageInspect(ref string) imageInspect {
	e.t.Helper()
	var out []imageInspect
	if err := json.Unmarshal([]byte(e.must("image", "inspect", ref)), &out); err != nil || len(out) != 1 {
		e.t.Fatalf("image inspect %s: %v", ref, err)
	}
	return out[0]
}

// TestCommit: a changed container becomes an image whose containers see
// the change, with --change, -a and -m honoured; a running container is
// paused for the commit and runs on.
func TestCommit(t *testing.T) {
	e := newEnv(t)
	e.must("run", "--name", "c1", "-e", "KEEP=1", "-w", "/tmp", "--label", "from=ctr", "busybox", "sh", "-c", "echo committed > /hello; rm /etc/group")
	id := e.must("commit", "-a", "Berth Tester <t@example.com>", "-m", "first commit",
		"-c", "ENV FOO=bar", "-c", `CMD ["cat", "/hello"]`, "-c", "EXPOSE 8080", "-c", "LABEL extra=yes",
		"c1", "committed:v1")
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("commit printed %q", id)
	}
	if out := e.must("run", "--rm", "committed:v1"); out != "committed" {
		t.Errorf("run of the committed image: %q", out)
	}
	if out := e.must("run", "--rm", "committed:v1", "sh", "-c", `echo $FOO $KEEP; pwd; ls /etc/group 2>&1; true`); !strings.HasPrefix(out, "bar 1\n/tmp\n") || !strings.Contains(out, "No such file") {
		t.Errorf("env, workdir and deletion in the committed image: %q", out)
	}
	img := e.imageInspect("committed:v1")
	base := e.imageInspect("busybox")
	if img.ID != id || img.Author != "Berth Tester <t@example.com>" || len(img.RootFS.Layers) != len(base.RootFS.Layers)+1 {
		t.Errorf("image: id %s author %q layers %d (base %d)", img.ID, img.Author, len(img.RootFS.Layers), len(base.RootFS.Layers))
	}
	if _, ok := img.Config.ExposedPorts["8080/tcp"]; !ok || img.Config.Labels["extra"] != "yes" || img.Config.Labels["from"] != "ctr" {
		t.Errorf("config: ports %v labels %v", img.Config.ExposedPorts, img.Config.Labels)
	}
	if h := img.History[len(img.History)-1]; h.Comment != "first commit" || h.Author != "Berth Tester <t@example.com>" {
		t.Errorf("history: %+v", h)
	}
	// The commit event, with Docker's attributes.
	if ev, _ := os.ReadFile(filepath.Join(e.root, "events.log")); !strings.Contains(string(ev), `"Action":"commit"`) ||
		!strings.Contains(string(ev), `"imageID":"`+id+`"`) || !strings.Contains(string(ev), `"imageRef":"committed:v1"`) {
		t.Errorf("no commit event in the log:\n%s", ev)
	}
	// The image is listed with its name.
	if out := e.must("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "committed:v1") {
		t.Errorf("images: %s", out)
	}

	// A running container: paused during the commit (the default) and
	// running after it; its config's command is the image's.
	e.runReady("--name", "r1", "busybox", "sh", "-c", "echo state > /state; echo ready; exec sleep 1000")
	id2 := e.must("commit", "r1")
	if out := e.must("inspect", "-f", "{{.State.Status}}", "r1"); out != "running" {
		t.Errorf("after commit the container is %s", out)
	}
	// Thawed: a frozen container would not run the exec.
	if out := e.must("exec", "r1", "cat", "/state"); out != "state" {
		t.Errorf("exec after commit: %q", out)
	}
	if out := e.must("run", "--rm", id2, "cat", "/state"); out != "state" {
		t.Errorf("run of the running container's commit: %q", out)
	}
	if cmd := e.imageInspect(id2).Config.Cmd; len(cmd) != 3 || cmd[0] != "sh" {
		t.Errorf("the commit's Cmd is %q, want the container's", cmd)
	}
	e.must("commit", "--pause=false", "-c", "ENTRYPOINT [\"/bin/cat\"]", "r1", "nopause")
	if out := e.must("run", "--rm", "nopause", "/state"); out != "state" {
		t.Errorf("ENTRYPOINT change: %q", out)
	}
	// Committing a commit's container again stacks another layer.
	e.must("run", "--name", "c2", "committed:v1", "sh", "-c", "echo second > /second")
	e.must("commit", "c2", "committed:v2")
	if out := e.must("run", "--rm", "committed:v2", "cat", "/hello", "/second"); out != "committed\nsecond" {
		t.Errorf("second commit: %q", out)
	}
}

// TestCommitBadInput: one-line errors, exit 125, no image made.
func TestCommitBadInput(t *testing.T) {
	e := newEnv(t)
	e.must("run", "--name", "c1", "busybox", "true")
	before := e.must("images", "-q", "--no-trunc")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, "no such container: nosuch"},
		{[]string{"-c", "FROM busybox", "c1"}, "FROM is not a valid change command"},
		{[]string{"-c", "RUN true", "c1"}, "RUN is not a valid change command"},
		{[]string{"-c", "EXPOSE notaport", "c1"}, "invalid port"},
		{[]string{"c1", "Bad:Name"}, "must be lowercase"},
	} {
		_, errOut, code := e.berth(append([]string{"commit"}, c.args...)...)
		if code != 125 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("commit %v: exit %d, %q; want 125 and %q", c.args, code, errOut, c.want)
		}
	}
	if after := e.must("images", "-q", "--no-trunc"); after != before {
		t.Errorf("images changed:\n%s\nwas:\n%s", after, before)
	}
}

// TestExport: the container's whole file system, to stdout or -o.
func TestExport(t *testing.T) {
	e := newEnv(t)
	e.must("run", "--name", "x1", "busybox", "sh", "-c", "echo exported > /exported; rm /etc/group")
	out, _, code := e.berth("export", "x1")
	if code != 0 {
		t.Fatalf("export: exit %d", code)
	}
	names := tarNames(t, []byte(out))
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	for _, n := range []string{"exported", "bin/", "bin/busybox", "etc/passwd", "tmp/"} {
		if !has[n] {
			t.Errorf("export lacks %s (has %d entries)", n, len(names))
		}
	}
	if has["etc/group"] || has["./"] || has["/"] {
		t.Errorf("export has a deleted file or a root entry")
	}
	file := filepath.Join(t.TempDir(), "x.tar")
	e.must("export", "-o", file, "x1")
	if b, err := os.ReadFile(file); err != nil || string(b) != out {
		t.Errorf("export -o differs from stdout (%d vs %d bytes): %v", len(b), len(out), err)
	}
	// The exported tar imports as an image that runs.
	e.must("import", file, "reimported")
	if got := e.must("run", "--rm", "reimported", "cat", "/exported"); got != "exported" {
		t.Errorf("reimported: %q", got)
	}
	if _, errOut, code := e.berth("export", "-o", file, "nosuch"); code != 125 || !strings.Contains(errOut, "no such container") {
		t.Errorf("export of a missing container: exit %d: %s", code, errOut)
	}
}

// TestCommitKilledWhilePaused: a commit killed while it had the container
// frozen leaves a note; the next berth command thaws the container.
func TestCommitKilledWhilePaused(t *testing.T) {
	e := newEnv(t)
	id := e.runReady("--name", "p1", "busybox", "sh", "-c", "echo ready; exec sleep 1000")
	rt := os.Getenv("BERTH_RUNTIME_BINARY")
	if out, err := exec.Command(rt, "--root", filepath.Join(e.runRoot, "runtime"), "pause", id).CombinedOutput(); err != nil {
		t.Fatalf("pause: %v: %s", err, out)
	}
	// What a commit killed between its pause and its resume leaves: the
	// intent of a process that is gone, saying it paused.
	note := filepath.Join(e.root, "intents", "commit-"+id)
	if err := os.WriteFile(note, []byte("999999999 1 gone\npaused\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.must("ps")
	out, err := exec.Command(rt, "--root", filepath.Join(e.runRoot, "runtime"), "state", id).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"running"`) {
		t.Errorf("after the next command the container is: %s %v", out, err)
	}
	if _, err := os.Stat(note); !os.IsNotExist(err) {
		t.Errorf("the note is still there: %v", err)
	}
}

// TestDiffNoop: a container that changed nothing shows nothing; mount
// points made for its volumes and tmpfs show as added, as Docker shows
// them.
func TestDiffNoop(t *testing.T) {
	e := newEnv(t)
	e.must("run", "--name", "n1", "busybox", "true")
	if got := e.must("diff", "n1"); got != "" {
		t.Errorf("diff of a container that changed nothing:\n%s", got)
	}
	e.runReady("--name", "n2", "-v", "v1:/vol", "--tmpfs", "/run/t", "busybox", "sh", "-c", "echo ready; exec sleep 1000")
	if got := e.must("diff", "n2"); got != "C /run\nA /run/t\nA /vol" {
		t.Errorf("diff with mount points:\n%s", got)
	}
}
