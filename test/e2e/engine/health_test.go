package engine_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/test/fixture"
)

type healthResult struct {
	Start, End time.Time
	ExitCode   int
	Output     string
}

type healthState struct {
	Status        string
	FailingStreak int
	Log           []healthResult
}

// health is the container's State.Health (nil when inspect shows none).
func (e *env) health(ref string) *healthState {
	e.t.Helper()
	var out []struct {
		State struct{ Health *healthState }
	}
	if err := json.Unmarshal([]byte(e.must("inspect", ref)), &out); err != nil || len(out) != 1 {
		e.t.Fatalf("inspect %s: %v", ref, err)
	}
	return out[0].State.Health
}

func (e *env) waitHealth(ref, status string, d time.Duration) *healthState {
	e.t.Helper()
	var h *healthState
	waitFor(e.t, ref+" "+status, d, func() bool {
		h = e.health(ref)
		return h != nil && h.Status == status
	})
	return h
}

// healthEvents are the health_status actions the event log holds for id.
func (e *env) healthEvents(id string) []string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "events.log"))
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var acts []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			Type, Action string
			Actor        struct {
				ID         string
				Attributes map[string]string
			}
			Scope    string `json:"scope"`
			Time     int64  `json:"time"`
			TimeNano int64  `json:"timeNano"`
		}
		if l == "" || json.Unmarshal([]byte(l), &ev) != nil || ev.Actor.ID != id || !strings.HasPrefix(ev.Action, "health_status") {
			continue
		}
		if ev.Type != "container" || ev.Scope != "local" || ev.Time == 0 || ev.TimeNano/1e9 != ev.Time ||
			ev.Actor.Attributes["image"] != "busybox" || ev.Actor.Attributes["name"] == "" {
			e.t.Errorf("event not in Docker's shape: %s", l)
		}
		acts = append(acts, ev.Action)
	}
	return acts
}

// healthConfig is inspect's Config.Healthcheck as JSON, keys sorted.
func (e *env) healthConfig(ref string) string {
	e.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(e.must("inspect", "-f", "{{json .Config.Healthcheck}}", ref)), &m); err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestHealthHealthy: a passing check makes the container healthy, with
// inspect's State.Health in Docker's shape, ps's "(healthy)" and one
// health_status event; stopped, the container reads unhealthy.
func TestHealthHealthy(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--name", "hc", "--health-cmd", "echo ok", "--health-interval", "100ms", "busybox", "sleep", "60")
	h := e.waitHealth("hc", "healthy", 10*time.Second)
	if h.FailingStreak != 0 || len(h.Log) == 0 {
		t.Fatalf("health %+v", h)
	}
	r := h.Log[len(h.Log)-1]
	if r.ExitCode != 0 || r.Output != "ok\n" || r.Start.IsZero() || r.End.Before(r.Start) {
		t.Errorf("last result %+v", r)
	}
	// The exact keys, as Docker's inspect has them.
	raw := e.must("inspect", "-f", "{{json .State.Health}}", "hc")
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		slices.Sort(k)
		return k
	}
	if got := keys(m); !slices.Equal(got, []string{"FailingStreak", "Log", "Status"}) {
		t.Errorf("State.Health keys %v", got)
	}
	if l, _ := m["Log"].([]any); len(l) > 0 {
		if got := keys(l[0].(map[string]any)); !slices.Equal(got, []string{"End", "ExitCode", "Output", "Start"}) {
			t.Errorf("State.Health.Log keys %v", got)
		}
	}
	waitFor(t, "five results kept", 10*time.Second, func() bool { return len(e.health("hc").Log) == 5 })
	time.Sleep(300 * time.Millisecond)
	if n := len(e.health("hc").Log); n != 5 {
		t.Errorf("%d results kept, want the last 5", n)
	}
	if ps := e.must("ps", "--format", "{{.Status}}"); !strings.HasSuffix(ps, "(healthy)") {
		t.Errorf("ps status %q", ps)
	}
	if got := e.healthEvents(id); !slices.Equal(got, []string{"health_status: healthy"}) {
		t.Errorf("events %v", got)
	}
	if cfg := e.healthConfig("hc"); cfg != `{"Interval":100000000,"Test":["CMD-SHELL","echo ok"]}` {
		t.Errorf("Config.Healthcheck %s", cfg)
	}
	e.must("stop", "-t", "0", "hc")
	if h := e.health("hc"); h == nil || h.Status != "unhealthy" {
		t.Errorf("stopped: health %+v, want unhealthy", h)
	}
}

// TestHealthUnhealthy: failures in a row up to --health-retries make the
// container unhealthy and emit the event; before the first check it is
// starting.
func TestHealthUnhealthy(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "--name", "slow", "--health-cmd", "true", "--health-interval", "1h", "busybox", "sleep", "60")
	if h := e.health("slow"); h == nil || h.Status != "starting" || h.FailingStreak != 0 || h.Log == nil || len(h.Log) != 0 {
		t.Errorf("before the first check: %+v", h)
	}
	if ps := e.must("ps", "--filter", "name=slow", "--format", "{{.Status}}"); !strings.HasSuffix(ps, "(health: starting)") {
		t.Errorf("ps status %q", ps)
	}
	id := e.must("run", "-d", "--name", "bad", "--health-cmd", "echo no; exit 3", "--health-interval", "100ms",
		"--health-retries", "3", "busybox", "sleep", "60")
	h := e.waitHealth("bad", "unhealthy", 10*time.Second)
	if h.FailingStreak < 3 {
		t.Errorf("unhealthy with a streak of %d, want at least 3", h.FailingStreak)
	}
	// Unhealthy exactly at the third failure: the results before it
	// are all failures, and there were three of them by then.
	for _, r := range h.Log {
		if r.ExitCode != 3 || r.Output != "no\n" {
			t.Errorf("result %+v", r)
		}
	}
	if got := e.healthEvents(id); !slices.Equal(got, []string{"health_status: unhealthy"}) {
		t.Errorf("events %v", got)
	}
	if ps := e.must("ps", "--filter", "name=bad", "--format", "{{.Status}}"); !strings.HasSuffix(ps, "(unhealthy)") {
		t.Errorf("ps status %q", ps)
	}
}

// containerProcs are the host pids of the processes in the container's
// pid namespace whose command line is s (arguments joined by spaces).
func containerProcs(t *testing.T, initPid, s string) []string {
	t.Helper()
	ns, err := os.Readlink("/proc/" + initPid + "/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if n, _ := os.Readlink(p + "/ns/pid"); n != ns {
			continue
		}
		b, _ := os.ReadFile(p + "/cmdline")
		if strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")) == s {
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

// TestHealthTimeout: a check that outlives --health-timeout is killed
// with everything it started, and counts as a failure with Docker's
// message.
func TestHealthTimeout(t *testing.T) {
	e := newEnv(t)
	// The shell forks sleep: the kill must reach the child too.
	e.must("run", "-d", "--name", "hang", "--health-cmd", "sleep 61 & wait", "--health-interval", "50ms",
		"--health-timeout", "300ms", "--health-retries", "2", "busybox", "sleep", "60")
	pid := e.must("inspect", "-f", "{{.State.Pid}}", "hang")
	h := e.waitHealth("hang", "unhealthy", 15*time.Second)
	waitFor(t, "three timeouts", 15*time.Second, func() bool { h = e.health("hang"); return len(h.Log) >= 3 })
	for _, r := range h.Log {
		if r.ExitCode != -1 || r.Output != "Health check exceeded timeout (300ms)" {
			t.Errorf("result %+v", r)
		}
		if d := r.End.Sub(r.Start); d < 300*time.Millisecond || d > 3*time.Second {
			t.Errorf("a timed-out check took %v", d)
		}
	}
	// Only the check running now may have a sleep: the killed ones left
	// none (without the group kill each would leave an orphan).
	if p := containerProcs(t, pid, "sleep 61"); len(p) > 1 {
		t.Errorf("%d sleeps of killed checks left in the container: %v", len(p), p)
	}
	e.must("stop", "-t", "0", "hang")
	for _, l := range strings.Split(leftovers(e.root, e.runRoot), "\n") {
		if strings.Contains(l, "exec") {
			t.Errorf("left behind: %s", l)
		}
	}
}

// TestHealthStartPeriod: failures in the start period do not count, and
// the start interval paces the checks there.
func TestHealthStartPeriod(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.must("run", "-d", "--name", "sp", "--health-cmd", "exit 1", "--health-interval", "100ms",
		"--health-retries", "1", "--health-start-period", "1500ms", "busybox", "sleep", "60")
	waitFor(t, "two checks", 10*time.Second, func() bool { return len(e.health("sp").Log) >= 2 })
	if h := e.health("sp"); time.Since(start) < 1200*time.Millisecond && (h.Status != "starting" || h.FailingStreak != 0) {
		t.Errorf("in the start period: %+v", h)
	}
	e.waitHealth("sp", "unhealthy", 10*time.Second)
	if time.Since(start) < 1500*time.Millisecond {
		t.Errorf("unhealthy %v after the start, within the start period", time.Since(start))
	}

	// A long interval, a short start interval: the checks in the start
	// period come at the start interval.
	e.must("run", "-d", "--name", "si", "--health-cmd", "exit 1", "--health-interval", "1h",
		"--health-start-interval", "100ms", "--health-start-period", "1m", "busybox", "sleep", "60")
	waitFor(t, "checks at the start interval", 10*time.Second, func() bool { return len(e.health("si").Log) >= 3 })
	if h := e.health("si"); h.Status != "starting" || h.FailingStreak != 0 {
		t.Errorf("in the start period: %+v", h)
	}
}

// healthImage loads an image (busybox's root) whose config has a
// HEALTHCHECK.
func healthImage(t *testing.T, e *env, ref string, hc *v1.HealthConfig) {
	t.Helper()
	data, err := fixture.TarDir(rootfsDir)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Cmd: []string{"sleep", "60"}, Env: fixture.ImageEnv, Healthcheck: hc})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "hc.tar")
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		t.Fatal(err)
	}
	e.must("load", "-q", "-i", out)
}

// TestHealthImage: the image's HEALTHCHECK runs, flags override its
// fields one by one, and --no-healthcheck turns it off.
func TestHealthImage(t *testing.T) {
	e := newEnv(t)
	healthImage(t, e, "localhost/hc:latest", &v1.HealthConfig{Test: []string{"CMD", "echo", "from-image"}, Interval: 100 * time.Millisecond, Retries: 4})
	e.must("run", "-d", "--name", "img", "localhost/hc")
	h := e.waitHealth("img", "healthy", 10*time.Second)
	if r := h.Log[0]; r.Output != "from-image\n" {
		t.Errorf("image check output %q", r.Output)
	}
	e.must("run", "-d", "--name", "merged", "--health-retries", "7", "--health-timeout", "2s", "localhost/hc")
	if cfg := e.healthConfig("merged"); cfg != `{"Interval":100000000,"Retries":7,"Test":["CMD","echo","from-image"],"Timeout":2000000000}` {
		t.Errorf("merged Config.Healthcheck %s", cfg)
	}
	e.must("run", "-d", "--name", "cmd", "--health-cmd", "echo flag", "localhost/hc")
	if h := e.waitHealth("cmd", "healthy", 10*time.Second); h.Log[0].Output != "flag\n" {
		t.Errorf("--health-cmd over the image's: output %q", h.Log[0].Output)
	}
	e.must("run", "-d", "--name", "off", "--no-healthcheck", "localhost/hc")
	// As Docker merges: Test is the user's, the rest the image's.
	if cfg := e.healthConfig("off"); cfg != `{"Interval":100000000,"Retries":4,"Test":["NONE"]}` {
		t.Errorf("--no-healthcheck Config.Healthcheck %s", cfg)
	}
	time.Sleep(400 * time.Millisecond)
	if h := e.health("off"); h != nil {
		t.Errorf("--no-healthcheck: health %+v", h)
	}
	if ps := e.must("ps", "--filter", "name=off", "--format", "{{.Status}}"); strings.Contains(ps, "(") {
		t.Errorf("ps status %q", ps)
	}
}

// TestHealthBadFlags: bad health options are refused with one line and
// status 125, and nothing is created.
func TestHealthBadFlags(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-interval", "-1s"}, "--health-interval cannot be negative"},
		{[]string{"--health-timeout", "-1s"}, "--health-timeout cannot be negative"},
		{[]string{"--health-start-period", "-1s"}, "--health-start-period cannot be negative"},
		{[]string{"--health-start-interval", "-1s"}, "--health-start-interval cannot be negative"},
		{[]string{"--health-retries", "-1"}, "--health-retries cannot be negative"},
		{[]string{"--health-interval", "500us"}, "Interval in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-timeout", "10ns"}, "Timeout in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-start-period", "1us"}, "StartPeriod in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-start-interval", "1us"}, "StartInterval in Healthcheck cannot be less than 1ms"},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--health-interval", "soon"}, "invalid argument"},
	} {
		for _, verb := range []string{"run", "create"} {
			args := append(append([]string{verb}, tc.args...), "busybox", "true")
			_, errOut, code := e.berth(args...)
			if code != 125 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("%v: exit %d, stderr %q; want 125 and %q", args, code, errOut, tc.want)
			}
		}
	}
	if ps := e.must("ps", "-aq"); ps != "" {
		t.Errorf("containers were made: %s", ps)
	}
}

// TestHealthIsolation: a check runs as `berth exec` runs a process: the same user, capability
// sets, no_new_privs, seccomp mode, namespaces, cgroups and no fd but its stdio.
func TestHealthIsolation(t *testing.T) {
	e := newEnv(t)
	probe := `grep -E "^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp)" /proc/self/status; for n in pid mnt net ipc uts; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup; ls /proc/self/fd`
	e.must("run", "-d", "--name", "iso", "--cap-drop", "NET_RAW", "--cap-add", "SYS_NICE", "--security-opt", "no-new-privileges",
		"-u", "123:456", "--group-add", "789", "--health-cmd", probe, "--health-interval", "100ms", "busybox", "sleep", "60")
	h := e.waitHealth("iso", "healthy", 10*time.Second)
	got := h.Log[len(h.Log)-1].Output
	want := e.must("exec", "iso", "sh", "-c", probe)
	if strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("the check saw\n%s\nan exec sees\n%s", got, want)
	}
	if !strings.Contains(got, "NoNewPrivs:\t1") || !strings.Contains(got, "Seccomp:\t2") || !strings.Contains(got, "Uid:\t123") {
		t.Errorf("the check runs unconfined:\n%s", got)
	}
}

// TestHealthRuntimeExec: with a runtime that cannot prepare the exec (runc), each check goes
// through the runtime's exec, with the same results.
func TestHealthRuntimeExec(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	e := newEnv(t)
	e.must("run", "-d", "--name", "rc", "--runtime", "runc", "--health-cmd", "echo via-runc", "--health-interval", "100ms", "busybox", "sleep", "60")
	h := e.waitHealth("rc", "healthy", 15*time.Second)
	if out := h.Log[len(h.Log)-1].Output; out != "via-runc\n" {
		t.Errorf("output %q", out)
	}
	e.must("run", "-d", "--name", "rcbad", "--runtime", "runc", "--health-cmd", "exit 2", "--health-interval", "100ms",
		"--health-retries", "2", "busybox", "sleep", "60")
	if h := e.waitHealth("rcbad", "unhealthy", 15*time.Second); h.Log[0].ExitCode != 2 {
		t.Errorf("results %+v", h.Log)
	}
}

// TestHealthRename: after a rename the health_status events carry the new name.
func TestHealthRename(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--name", "before", "--health-cmd", "test ! -e /tmp/bad", "--health-interval", "100ms",
		"--health-retries", "1", "busybox", "sleep", "60")
	e.waitHealth("before", "healthy", 10*time.Second)
	e.must("rename", "before", "after")
	e.must("exec", "after", "touch", "/tmp/bad")
	e.waitHealth("after", "unhealthy", 10*time.Second)
	b, err := os.ReadFile(filepath.Join(e.root, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			Action string
			Actor  struct {
				ID         string
				Attributes map[string]string
			}
		}
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Actor.ID == id && strings.HasPrefix(ev.Action, "health_status") {
			names = append(names, ev.Action+" "+ev.Actor.Attributes["name"])
		}
	}
	if want := []string{"health_status: healthy before", "health_status: unhealthy after"}; !slices.Equal(names, want) {
		t.Errorf("events %v, want %v", names, want)
	}
}

// TestHealthPause: a paused container gets no check, and each one it misses is Docker's
// failure for an exec into a paused container; unpaused, it turns healthy again.
func TestHealthPause(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--name", "pz", "--health-cmd", "true", "--health-interval", "100ms",
		"--health-retries", "2", "busybox", "sleep", "60")
	e.waitHealth("pz", "healthy", 10*time.Second)
	e.must("pause", "pz")
	h := e.waitHealth("pz", "unhealthy", 10*time.Second)
	if r := h.Log[len(h.Log)-1]; r.ExitCode != -1 || r.Output != "Container "+id+" is paused, unpause the container before exec" {
		t.Errorf("paused: result %+v", r)
	}
	e.must("unpause", "pz")
	e.waitHealth("pz", "healthy", 10*time.Second)
}
