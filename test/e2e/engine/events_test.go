package engine_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/fixture"
)

// ev is an event line of `events --format json`.
type ev struct {
	Type   string
	Action string
	Actor  struct {
		ID         string
		Attributes map[string]string
	}
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

func parseEvents(t *testing.T, out string) []ev {
	t.Helper()
	var evs []ev
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var x ev
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("not a JSON event line (%v): %q", err, l)
		}
		evs = append(evs, x)
	}
	return evs
}

// lockedBuffer is a follower's stdout, read while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// follower is a `berth events` left running; it is interrupted (^C) when
// the test ends, before the env's cleanup looks for leftover processes.
type follower struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  lockedBuffer
	errs lockedBuffer
	done chan error
}

func (e *env) follow(args ...string) *follower {
	e.t.Helper()
	f := &follower{t: e.t, cmd: e.cmd(append([]string{"events"}, args...)...), done: make(chan error, 1)}
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.errs
	if err := f.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { f.done <- f.cmd.Wait() }()
	e.t.Cleanup(func() { f.stop() })
	return f
}

// stop interrupts the follower and returns its exit status.
func (f *follower) stop() int {
	f.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-f.done:
		f.done <- err
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
		f.t.Errorf("events did not end on SIGINT")
		return -1
	}
}

// waitFor waits until the events seen pass ok.
func (f *follower) waitFor(what string, ok func([]ev) bool) []ev {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs := parseEvents(f.t, f.out.String())
		if ok(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("events: no %s in\n%s%s", what, f.out.String(), f.errs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func has(id, action string) func([]ev) bool {
	return func(evs []ev) bool {
		for _, x := range evs {
			if x.Actor.ID == id && x.Action == action {
				return true
			}
		}
		return false
	}
}

// of is the events about id, as "action" or "action attr=value".
func of(evs []ev, id string, attr string) []string {
	var out []string
	for _, x := range evs {
		if x.Actor.ID != id {
			continue
		}
		s := x.Action
		if v, ok := x.Actor.Attributes[attr]; ok && attr != "" {
			s += " " + attr + "=" + v
		}
		out = append(out, s)
	}
	return out
}

func unixArg(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// `events` following a container's whole life, while other berth
// processes run containers of their own: create, start, die with its
// exit code (recorded by the monitor's cleanup, no CLI waiting), once,
// destroy; then exec, stop and kill with their attributes.
func TestEventsLifecycle(t *testing.T) {
	e := newEnv(t)
	f := e.follow("--since", unixArg(time.Now()), "--format", "json")
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.berth("run", "--rm", "busybox", "true")
		}()
	}
	id := e.must("run", "-d", "--name", "life", "--label", "app=x", "busybox", "sh", "-c", "sleep 0.3; exit 3")
	f.waitFor("die", has(id, "die"))
	e.must("rm", "life")
	f.waitFor("destroy", has(id, "destroy"))
	wg.Wait()
	evs := f.waitFor("the other runs' destroys", func(evs []ev) bool {
		n := 0
		for _, x := range evs {
			if x.Actor.ID != id && x.Action == "destroy" {
				n++
			}
		}
		return n == 3
	})
	if got, want := strings.Join(of(evs, id, "exitCode"), ", "), "create, start, die exitCode=3, destroy"; got != want {
		t.Errorf("events of the container: %s, want %s", got, want)
	}
	for _, x := range evs {
		if x.Actor.ID == id && (x.Actor.Attributes["name"] != "life" || x.Actor.Attributes["image"] != "busybox" ||
			x.Actor.Attributes["app"] != "x" || x.Type != "container" || x.Scope != "local") {
			t.Errorf("%s: type %s scope %s attributes %v", x.Action, x.Type, x.Scope, x.Actor.Attributes)
		}
	}
	// The other runs each had their own create … destroy.
	creates, destroys := 0, 0
	for _, x := range evs {
		if x.Actor.ID != id && x.Type == "container" {
			switch x.Action {
			case "create":
				creates++
			case "destroy":
				destroys++
			}
		}
	}
	if creates != 3 || destroys != 3 {
		t.Errorf("other runs: %d creates, %d destroys, want 3 each", creates, destroys)
	}

	// exec, stop (SIGTERM, trapped), kill, rm -f of a running one.
	id2 := e.must("run", "-d", "busybox", "sh", "-c", "trap 'exit 0' TERM; trap 'exit 5' USR1; while true; do sleep 0.1; done")
	if _, _, code := e.berth("exec", id2, "sh", "-c", "exit 2"); code != 2 {
		t.Fatalf("exec: status %d", code)
	}
	e.must("stop", id2)
	e.must("start", id2)
	e.must("kill", "-s", "USR1", id2)
	f.waitFor("second die", func(evs []ev) bool {
		n := 0
		for _, a := range of(evs, id2, "") {
			if a == "die" {
				n++
			}
		}
		return n == 2
	})
	e.must("start", id2)
	e.must("rm", "-f", id2)
	evs = f.waitFor("destroy", has(id2, "destroy"))
	var got []string
	for _, x := range evs {
		if x.Actor.ID != id2 {
			continue
		}
		s := x.Action
		for _, k := range []string{"exitCode", "signal"} {
			if v, ok := x.Actor.Attributes[k]; ok {
				s += " " + k + "=" + v
			}
		}
		if strings.HasPrefix(x.Action, "exec_") && x.Actor.Attributes["execID"] == "" {
			t.Errorf("%s without execID", x.Action)
		}
		got = append(got, s)
	}
	want := []string{"create", "start",
		"exec_create: sh -c exit 2", "exec_start: sh -c exit 2", "exec_die exitCode=2",
		"kill signal=15", "die exitCode=0", "stop",
		"start", "kill signal=10", "die exitCode=5",
		"start", "kill signal=9", "die exitCode=137", "destroy"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if code := f.stop(); code != 0 {
		t.Errorf("events ended with status %d on SIGINT", code)
	}
}

// A foreground run attaches before it starts, as Docker's does.
func TestEventsAttach(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.must("run", "--name", "fg", "busybox", "true")
	out := e.must("events", "--since", unixArg(start), "--until", unixArg(time.Now()), "--format", "{{.Action}}", "-f", "container=fg")
	if out != "create\nattach\nstart\ndie" {
		t.Errorf("events of run: %q", out)
	}
}

// Without --since, events shows only what happens after it started.
func TestEventsLiveOnly(t *testing.T) {
	e := newEnv(t)
	e.must("volume", "create", "before")
	f := e.follow("--format", "json", "--filter", "type=volume")
	// Until the follower is reading, markers may come before it looked.
	for i := 0; ; i++ {
		name := fmt.Sprintf("mark%d", i)
		e.must("volume", "create", name)
		time.Sleep(50 * time.Millisecond)
		if has(name, "create")(parseEvents(t, f.out.String())) {
			break
		}
		if i == 100 {
			t.Fatalf("follower saw no marker: %s", f.errs.String())
		}
	}
	if has("before", "create")(parseEvents(t, f.out.String())) {
		t.Error("an event from before the follow started was shown")
	}
}

// Image and volume events, with Docker's actors and attributes (an
// image's labels among them).
func TestEventsImagesVolumes(t *testing.T) {
	e := newHostNetEnv(t, true) // the registry is on the machine's loopback
	reg := fixture.Registry(t)
	start := time.Now()
	e.must("volume", "create", "data")
	e.must("volume", "rm", "data")
	e.must("tag", "busybox", "mine:v1")
	e.must("rmi", "mine:v1")
	tar := filepath.Join(t.TempDir(), "b.tar")
	e.must("save", "-o", tar, "busybox")
	e.must("load", "-q", "-i", tar)
	rootfs, err := exec.Command("tar", "-C", rootfsDir, "-c", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := e.berthIn(rootfs, "import", "-c", "LABEL tier=img", "-", "imported:v1"); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	ref := reg + "/ev/busybox:v1"
	e.must("tag", "busybox", ref)
	e.must("push", "-q", "--tls-verify=false", ref)
	e.must("rmi", ref)
	e.must("pull", "-q", "--tls-verify=false", ref)
	e.must("rmi", "imported:v1")
	id := e.must("image", "inspect", "-f", "{{.Id}}", "busybox")
	out := e.must("events", "--since", unixArg(start), "--until", unixArg(time.Now()),
		"--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{range $k, $v := .Actor.Attributes}}{{$k}}={{$v}} {{end}}")
	got := strings.ReplaceAll(strings.TrimSpace(out), id, "ID")
	// The imported image's ID is its own.
	got = regexp.MustCompile(`sha256:[0-9a-f]{64}`).ReplaceAllString(got, "IMPORTED")
	want := strings.Join([]string{
		"volume create data driver=local ",
		"volume destroy data driver=local ",
		"image tag ID name=mine:v1 ",
		"image untag ID name=mine:v1 ",
		"image save ID name=busybox:latest ",
		"image load ID name=busybox:latest ",
		"image import IMPORTED name=imported:v1 tier=img ",
		"image tag ID name=" + ref + " ",
		"image push " + ref + " name=" + reg + "/ev/busybox ",
		"image untag ID name=" + ref + " ",
		"image pull " + ref + " name=" + reg + "/ev/busybox ",
		"image untag IMPORTED name=imported:v1 tier=img ",
		"image delete IMPORTED name=IMPORTED tier=img",
	}, "\n")
	if got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

// Filters select as Docker's do; a bad one is refused with 125.
func TestEventsFilters(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	a := e.must("create", "--name", "fa", "--label", "tier=front", "busybox", "true")
	b := e.must("create", "--name", "fb", "--label", "tier=back", "busybox", "true")
	e.must("volume", "create", "fv")
	e.must("tag", "busybox", "other:v1")
	end := time.Now()
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{[]string{"container=fa"}, "create " + a},
		{[]string{"container=" + b[:8]}, "create " + b},
		{[]string{"container=fa", "container=fb"}, "create " + a + "\ncreate " + b},
		{[]string{"type=volume"}, "create fv"},
		{[]string{"volume=fv"}, "create fv"},
		{[]string{"event=tag"}, "tag other:v1"},
		{[]string{"label=tier=back"}, "create " + b},
		{[]string{"label=tier", "type=container"}, "create " + a + "\ncreate " + b},
		{[]string{"image=busybox", "type=container"}, "create " + a + "\ncreate " + b},
		{[]string{"image=other:v1"}, "tag other:v1"},
		{[]string{"type=container", "event=destroy"}, ""},
		{[]string{"scope=local", "type=volume"}, "create fv"},
	} {
		args := []string{"events", "--since", unixArg(start), "--until", unixArg(end),
			"--format", `{{.Action}} {{if eq .Type "image"}}{{.Actor.Attributes.name}}{{else}}{{.Actor.ID}}{{end}}`}
		for _, f := range tc.filters {
			args = append(args, "--filter", f)
		}
		if got := e.must(args...); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.filters, got, tc.want)
		}
	}
	for _, bad := range []string{"colour=red", "container"} {
		out, errOut, code := e.berth("events", "--until", "1s", "-f", bad)
		if code != 125 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || errOut == "" {
			t.Errorf("--filter %s: status %d, stdout %q, stderr %q", bad, code, out, errOut)
		}
	}
}

// --since and --until in Docker's formats; what Docker does not take is
// refused with 125 before anything is touched.
func TestEventsSinceUntil(t *testing.T) {
	e := newEnv(t)
	before := time.Now().Add(-2 * time.Second).Truncate(time.Second)
	e.must("volume", "create", "marker")
	time.Sleep(1100 * time.Millisecond)
	after := time.Now()
	now := unixArg(time.Now())
	for _, since := range []string{
		fmt.Sprint(before.Unix()),
		unixArg(before),
		before.UTC().Format(time.RFC3339),
		before.UTC().Format(time.RFC3339Nano),
		before.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05-07:00"),
		before.Local().Format("2006-01-02T15:04:05"),
		before.Local().Format("2006-01-02T15:04"),
		before.Local().Format("2006-01-02"),
		"10m",
		"1h30m",
	} {
		out := e.must("events", "--since", since, "--until", now, "--format", "{{.Actor.ID}}", "-f", "type=volume")
		if out != "marker" {
			t.Errorf("--since %s: %q", since, out)
		}
	}
	// --until before the marker, --since after it.
	for _, args := range [][]string{{"--since", unixArg(before.Add(-time.Hour)), "--until", unixArg(before)}, {"--since", unixArg(after), "--until", now}} {
		if out := e.must(append([]string{"events", "-f", "type=volume"}, args...)...); out != "" {
			t.Errorf("%v: %q", args, out)
		}
	}
	// An --until in the future ends the stream then (a duration counts
	// in whole seconds, as Docker's CLI sends it: 1 to 2 s from now).
	t0 := time.Now()
	e.must("events", "--until=-2s")
	if d := time.Since(t0); d < time.Second || d > 5*time.Second {
		t.Errorf("--until -2s (two seconds from now) ended after %s", d)
	}
	// Bad input: one line, 125, and no engine root made for it.
	fresh := filepath.Join(t.TempDir(), "none")
	for _, args := range [][]string{
		{"--since", "yesterday"}, {"--since", "2024-13-45"}, {"--until", "10x"}, {"--since", "1.2.3"},
		{"--since", "2024-01-02T15:04:05Q"}, {"--since", "1h", "--until", "2h"}, {"--format", "{{.Nope"},
	} {
		cmd := exec.Command(binary, append([]string{"--root", fresh, "--runroot", fresh + "-run", "events"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		msg := strings.TrimSpace(stderr.String())
		if code != 125 || stdout.Len() > 0 || msg == "" || strings.Contains(msg, "\n") {
			t.Errorf("%v: status %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Fatalf("%v: the engine root was made", args)
		}
	}
}

// --format json, templates and Docker's default line; system events is
// the same command.
func TestEventsFormat(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.must("volume", "create", "--label", "k=v", "fmt")
	span := []string{"--since", unixArg(start), "--until", unixArg(time.Now())}
	line := e.must(append([]string{"events"}, span...)...)
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) volume create fmt \(driver=local\)$`)
	if !re.MatchString(line) {
		t.Errorf("default layout: %q", line)
	}
	if sys := e.must(append([]string{"system", "events"}, span...)...); sys != line {
		t.Errorf("system events: %q, events: %q", sys, line)
	}
	js := e.must(append([]string{"events", "--format", "json"}, span...)...)
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("json: %v: %q", err, js)
	}
	for _, k := range []string{"Type", "Action", "Actor", "scope", "time", "timeNano"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json: no %s in %s", k, js)
		}
	}
	x := parseEvents(t, js)[0]
	if x.Type != "volume" || x.Action != "create" || x.Actor.ID != "fmt" || x.Time != x.TimeNano/1e9 || x.TimeNano < start.UnixNano() {
		t.Errorf("json: %+v", x)
	}
	if got := e.must(append([]string{"events", "--format", "{{json .}}"}, span...)...); got != js {
		t.Errorf("{{json .}}: %q, json: %q", got, js)
	}
	tmpl := "{{.Type}}|{{.Action}}|{{.Actor.ID}}|{{.Actor.Attributes.driver}}|{{.Scope}}|{{.Status}}|{{.ID}}"
	if got := e.must(append([]string{"events", "--format", tmpl}, span...)...); got != "volume|create|fmt|local|local|create|fmt" {
		t.Errorf("template: %q", got)
	}
}

// Many berth processes emitting at once keep every line whole and lose
// none, and a follower sees them all.
func TestEventsConcurrentProcesses(t *testing.T) {
	e := newEnv(t)
	f := e.follow("--since", unixArg(time.Now()), "--format", "json", "-f", "type=volume")
	const procs, each = 6, 5
	var wg sync.WaitGroup
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				name := fmt.Sprintf("c%d-%d", p, i)
				e.berth("volume", "create", name)
				e.berth("volume", "rm", name)
			}
		}()
	}
	wg.Wait()
	count := func(evs []ev) bool { return len(evs) >= 2*procs*each }
	evs := f.waitFor("all volume events", count)
	seen := map[string]bool{}
	for _, x := range evs {
		seen[x.Action+" "+x.Actor.ID] = true
	}
	if len(seen) != 2*procs*each || len(evs) != 2*procs*each {
		t.Errorf("follower: %d events, %d distinct, want %d", len(evs), len(seen), 2*procs*each)
	}
	b, err := os.ReadFile(filepath.Join(e.root, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("damaged line in the log: %q", l)
		}
	}
}
