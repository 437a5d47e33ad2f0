package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostCaps is the bounding set berth runs with: what --privileged gives.
var hostCaps = func() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			return v
		}
	}
	return ""
}()

func TestRunForeground(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantOut    string
		wantErr    string // in stderr
		wantStatus int
	}{
		{"echo", []string{"run", "--rm", "busybox", "echo", "hello"}, "", "hello\n", "", 0},
		{"exit status", []string{"run", "--rm", "busybox", "sh", "-c", "exit 3"}, "", "", "", 3},
		{"stderr", []string{"run", "--rm", "busybox", "sh", "-c", "echo oops >&2"}, "", "", "oops\n", 0},
		{"killed by a signal", []string{"run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$"}, "", "", "", 137},
		{"not found", []string{"run", "--rm", "busybox", "nosuch"}, "", "", "executable file not found", 127},
		{"not executable", []string{"run", "--rm", "busybox", "/etc/passwd"}, "", "", "permission denied", 126},
		{"stdin", []string{"run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"}, "shout\n", "SHOUT\n", "", 0},
		{"no stdin without -i", []string{"run", "--rm", "busybox", "cat"}, "ignored\n", "", "", 0},
		{"env and workdir", []string{"run", "--rm", "-e", "A=1", "-w", "/tmp", "busybox", "sh", "-c", "echo $A $(pwd)"}, "", "1 /tmp\n", "", 0},
		{"user by name", []string{"run", "--rm", "-u", "nobody", "busybox", "id", "-un"}, "", "nobody\n", "", 0},
		{"entrypoint", []string{"run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"}, "", "a b\n", "", 0},
		{"hostname", []string{"run", "--rm", "--hostname", "boat", "busybox", "hostname"}, "", "boat\n", "", 0},
		{"read-only", []string{"run", "--rm", "--read-only", "busybox", "touch", "/x"}, "", "", "Read-only file system", 1},
		{"tmpfs", []string{"run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /scratch/x && echo ok"}, "", "ok\n", "", 0},
		{"init", []string{"run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}, "", "/.berth/init -- sh -c cat /proc/1/cmdline | tr '\\0' ' ' ", "", 0},
		{"no network", []string{"run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net"}, "", "lo\n", "", 0},
		{"cap-drop", []string{"run", "--rm", "--cap-drop", "CHOWN", "busybox", "chown", "nobody", "/tmp"}, "", "", "Operation not permitted", 1},
		{"ulimit", []string{"run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n"}, "", "100\n", "", 0},
		{"sysctl", []string{"run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "cat", "/proc/sys/net/ipv4/ip_forward"}, "", "1\n", "", 0},
		{"pid host", []string{"run", "--rm", "--pid", "host", "busybox", "sh", "-c", "test -d /proc/1 && test $$ != 1 && echo host"}, "", "host\n", "", 0},
		{"privileged", []string{"run", "--rm", "--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status"}, "", "CapEff:\t" + hostCaps + "\n", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			if tc.stdin != "" {
				in = []byte(tc.stdin)
			}
			out, errOut, code := e.berthIn(in, tc.args...)
			if code != tc.wantStatus {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantStatus, out, errOut)
			}
			if tc.wantOut != "" && out != tc.wantOut {
				t.Errorf("stdout %q, want %q", out, tc.wantOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tc.wantErr)
			}
		})
	}
	if out := e.must("ps", "-aq"); out != "" {
		t.Errorf("--rm left containers: %s", out)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.must("create", "--name", "taken", "busybox")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no such image", []string{"run", "--rm", "--pull", "never", "nosuch:1"}, "no such image"},
		{"name in use", []string{"run", "--name", "taken", "busybox", "true"}, `"/taken" is already in use`},
		{"volume not absolute", []string{"run", "-v", "data:rel", "busybox", "true"}, "not an absolute path"},
		{"bad memory", []string{"run", "--memory", "lots", "busybox", "true"}, "--memory"},
		{"bad cpus", []string{"run", "--cpus", "-1", "busybox", "true"}, "--cpus"},
		{"bad ulimit", []string{"run", "--ulimit", "nofile=x", "busybox", "true"}, "ulimit"},
		{"volumes-from missing", []string{"run", "--volumes-from", "ghost", "busybox", "true"}, "no such container"},
		{"bad network", []string{"run", "--network", "bogus", "busybox", "true"}, "bogus"},
		{"bad log driver", []string{"run", "--log-driver", "syslog", "busybox", "true"}, "log-driver"},
	}
	before := e.must("ps", "-aq", "--no-trunc")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := e.berth(tc.args...)
			if code != 125 {
				t.Errorf("exit status %d, want 125\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("stderr %q: want one line containing %q", errOut, tc.want)
			}
		})
	}
	if after := e.must("ps", "-aq", "--no-trunc"); after != before {
		t.Errorf("bad input left containers: before %q, after %q", before, after)
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	if len(entries) != 1 {
		t.Errorf("bundles left: %v", entries)
	}

	// rm of a running container without -f, exec into a stopped one.
	id := e.must("run", "-d", "busybox", "sleep", "60")
	if _, errOut, code := e.berth("rm", id); code != 1 || !strings.Contains(errOut, "container is running") {
		t.Errorf("rm of a running container: exit %d, %q", code, errOut)
	}
	e.must("stop", "-t", "0", id)
	if _, errOut, code := e.berth("exec", id, "true"); code != 125 || !strings.Contains(errOut, "is not running") {
		t.Errorf("exec into a stopped container: exit %d, %q", code, errOut)
	}
}

type inspect struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Status     string
		Running    bool
		OOMKilled  bool
		Pid        int
		ExitCode   int
		StartedAt  string
		FinishedAt string
	}
	Config struct {
		Image  string
		Labels map[string]string
	}
	HostConfig struct {
		Memory     int64
		NanoCpus   int64
		LogConfig  struct{ Type string }
		AutoRemove bool
	}
	Mounts []struct {
		Type, Name, Source, Destination string
		RW                              bool
	}
}

func (e *env) inspect(ref string) inspect {
	e.t.Helper()
	var out []inspect
	if err := json.Unmarshal([]byte(e.must("inspect", "--type", "container", ref)), &out); err != nil || len(out) != 1 {
		e.t.Fatalf("inspect %s: %v %v", ref, err, out)
	}
	return out[0]
}

func TestDetachedLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--name", "web", "--label", "tier=front", "busybox", "sh", "-c",
		"trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done")
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-hex id", id)
	}
	waitFor(t, "the container's first line", 5*time.Second, func() bool {
		out, _, _ := e.berth("logs", "web")
		return out == "started\n"
	})
	ps := e.must("ps")
	lines := strings.Split(ps, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID   IMAGE     COMMAND") ||
		!strings.Contains(lines[1], id[:12]) || !strings.Contains(lines[1], "Up ") || !strings.HasSuffix(lines[1], "web") {
		t.Errorf("ps:\n%s", ps)
	}
	if got := e.must("ps", "--filter", "label=tier=front", "--format", "{{.Names}} {{.Label \"tier\"}} {{.State}}"); got != "web front running" {
		t.Errorf("ps --format: %q", got)
	}
	if got := e.must("ps", "-q", "--filter", "label=tier=back"); got != "" {
		t.Errorf("ps filter label=tier=back: %q", got)
	}
	j := e.inspect("web")
	if j.ID != id || j.Name != "/web" || !j.State.Running || j.State.Pid <= 0 || j.Config.Image != "busybox" {
		t.Errorf("inspect: %+v", j)
	}
	if got := e.must("container", "inspect", "--format", "{{.State.Status}}", id[:5]); got != "running" {
		t.Errorf("inspect by id prefix: %q", got)
	}

	// stop sends SIGTERM, which the trap answers; the exit is recorded.
	start := time.Now()
	if got := e.must("stop", "web"); got != "web" {
		t.Errorf("stop printed %q", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v: the SIGTERM trap should have ended it", d)
	}
	if out, _, _ := e.berth("logs", "web"); out != "started\nbye\n" {
		t.Errorf("logs after stop: %q", out)
	}
	j = e.inspect("web")
	if j.State.Status != "exited" || j.State.ExitCode != 0 || j.State.FinishedAt == "0001-01-01T00:00:00Z" {
		t.Errorf("inspect after stop: %+v", j.State)
	}
	if got := e.must("wait", "web"); got != "0" {
		t.Errorf("wait: %q", got)
	}
	if ps := e.must("ps", "-a", "--format", "{{.Status}}"); !strings.HasPrefix(ps, "Exited (0) ") {
		t.Errorf("ps -a status %q", ps)
	}

	// Started again, it runs with a new monitor; kill and wait give 137.
	e.must("start", "web")
	if j := e.inspect("web"); !j.State.Running {
		t.Fatalf("not running after start: %+v", j.State)
	}
	e.must("kill", "web")
	if got := e.must("wait", "web"); got != "137" {
		t.Errorf("wait after kill: %q", got)
	}
	e.must("rm", "web")
	if _, errOut, code := e.berth("inspect", "web"); code == 0 || !strings.Contains(errOut, "no such object") {
		t.Errorf("inspect after rm: %d %q", code, errOut)
	}
}

func TestCreateStartAttach(t *testing.T) {
	e := newEnv(t)
	id := e.must("create", "-i", "busybox", "sh", "-c", "read x; echo got $x; exit 7")
	if got := e.inspect(id).State.Status; got != "created" {
		t.Errorf("status %q", got)
	}
	out, _, code := e.berthIn([]byte("boat\n"), "start", "-ai", id)
	if out != "got boat\n" || code != 7 {
		t.Errorf("start -ai: %q, status %d", out, code)
	}
	cid := filepath.Join(t.TempDir(), "cid")
	e.must("create", "--cidfile", cid, "busybox", "true")
	b, err := os.ReadFile(cid)
	if err != nil || len(b) != 64 {
		t.Errorf("--cidfile: %q %v", b, err)
	}
	if _, errOut, code := e.berth("create", "--cidfile", cid, "busybox", "true"); code != 125 || !strings.Contains(errOut, "container ID file found") {
		t.Errorf("second --cidfile: %d %q", code, errOut)
	}
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "--name", "box", "-e", "FROM_RUN=1", "busybox", "sleep", "600")
	tests := []struct {
		name       string
		args       []string
		stdin      string
		want       string
		wantStatus int
	}{
		{"status", []string{"exec", "box", "sh", "-c", "exit 5"}, "", "", 5},
		{"env", []string{"exec", "-e", "X=2", "box", "sh", "-c", "echo $FROM_RUN $X"}, "", "1 2\n", 0},
		{"user", []string{"exec", "-u", "nobody", "box", "id", "-u"}, "", "65534\n", 0},
		{"workdir", []string{"exec", "-w", "/etc", "box", "pwd"}, "", "/etc\n", 0},
		{"stdin", []string{"exec", "-i", "box", "cat"}, "piped\n", "piped\n", 0},
		{"not found", []string{"exec", "box", "nosuch"}, "", "", 127},
		{"privileged", []string{"exec", "--privileged", "box", "sh", "-c", "grep CapEff /proc/self/status"}, "", "CapEff:\t" + hostCaps + "\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			if tc.stdin != "" {
				in = []byte(tc.stdin)
			}
			out, errOut, code := e.berthIn(in, tc.args...)
			if code != tc.wantStatus || tc.want != "" && out != tc.want {
				t.Errorf("got %q status %d, want %q status %d\n%s", out, code, tc.want, tc.wantStatus, errOut)
			}
		})
	}
}
