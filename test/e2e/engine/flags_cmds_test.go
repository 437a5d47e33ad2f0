package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPsFlags(t *testing.T) {
	e := newEnv(t)
	first := e.must("run", "-d", "--name", "first", "busybox", "sh", "-c", "exit 3")
	e.must("wait", "first")
	second := e.must("run", "-d", "--name", "second", "-v", "vol1:/data", "busybox", "sleep", "600")
	third := e.must("create", "--name", "third", "busybox", "true")
	names := func(args ...string) string {
		return strings.ReplaceAll(e.must(append(append([]string{"ps"}, args...), "--format", "{{.Names}}")...), "\n", " ")
	}
	tests := []struct {
		args []string
		want string
	}{
		{nil, "second"},
		{[]string{"-a"}, "third second first"},
		{[]string{"-n", "2"}, "third second"},
		{[]string{"-l"}, "third"},
		{[]string{"--filter", "status=exited"}, "first"},
		{[]string{"--filter", "status=created"}, "third"},
		{[]string{"-a", "--filter", "exited=3"}, "first"},
		{[]string{"-a", "--filter", "exited=0"}, ""},
		{[]string{"-a", "--filter", "name=sec"}, "second"},
		{[]string{"-a", "--filter", "id=" + second[:8]}, "second"},
		{[]string{"-a", "--filter", "ancestor=busybox"}, "third second first"},
		{[]string{"-a", "--filter", "before=second"}, "first"},
		{[]string{"-a", "--filter", "since=first"}, "third second"},
		{[]string{"-a", "--filter", "volume=vol1"}, "second"},
		{[]string{"-a", "--filter", "volume=/data"}, "second"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := names(tc.args...); got != tc.want {
				t.Errorf("ps %v: %q, want %q", tc.args, got, tc.want)
			}
		})
	}
	if got := e.must("ps", "-a", "--no-trunc", "--format", "{{.ID}}"); got != third+"\n"+second+"\n"+first {
		t.Errorf("--no-trunc ids: %q", got)
	}
	if got := e.must("ps", "-a", "--format", "{{.ID}}"); got != third[:12]+"\n"+second[:12]+"\n"+first[:12] {
		t.Errorf("truncated ids: %q", got)
	}
	if got := e.must("ps", "--size"); !strings.Contains(strings.Split(got, "\n")[0], "SIZE") || !strings.Contains(got, "(virtual ") {
		t.Errorf("--size:\n%s", got)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(e.must("ps", "--format", "json")), &row); err != nil || row["Names"] != "second" || row["ID"] != second[:12] || row["State"] != "running" || row["Mounts"] != "vol1" {
		t.Errorf("--format json: %v %v", row, err)
	}
	if got := e.must("ps", "--format", `table {{.ID}}\t{{.Names}}`); got != "CONTAINER ID   NAMES\n"+second[:12]+"   second" {
		t.Errorf("--format table with \\t:\n%s", got)
	}
	if got := e.must("container", "ls", "-a", "-q"); len(strings.Fields(got)) != 3 {
		t.Errorf("container ls -a -q: %q", got)
	}
}

func TestLogsSinceUntil(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "busybox", "sh", "-c", "echo one; sleep 1; echo two; sleep 1; echo three")
	e.must("wait", id)
	var ts []time.Time
	for _, l := range strings.Split(e.must("logs", "-t", id), "\n") {
		tm, err := time.Parse(time.RFC3339Nano, strings.Fields(l)[0])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tm)
	}
	if len(ts) != 3 {
		t.Fatalf("%d lines", len(ts))
	}
	mid := func(a, b time.Time) string { return a.Add(b.Sub(a) / 2).Format(time.RFC3339Nano) }
	m1, m2 := mid(ts[0], ts[1]), mid(ts[1], ts[2])
	if got := e.must("logs", "--since", m1, id); got != "two\nthree" {
		t.Errorf("--since %s: %q", m1, got)
	}
	if got := e.must("logs", "--until", m2, id); got != "one\ntwo" {
		t.Errorf("--until %s: %q", m2, got)
	}
	if got := e.must("logs", "--since", m1, "--until", m2, id); got != "two" {
		t.Errorf("--since --until: %q", got)
	}
	if got := e.must("logs", "--since", "1h", id); got != "one\ntwo\nthree" {
		t.Errorf("--since 1h: %q", got)
	}
	unix := ts[1].Add(-time.Millisecond)
	secs := fmt.Sprintf("%d.%09d", unix.Unix(), unix.Nanosecond())
	if got := e.must("logs", "--since", secs, id); got != "two\nthree" {
		t.Errorf("--since %s (Unix seconds): %q", secs, got)
	}
}

func TestInspectForms(t *testing.T) {
	e := newEnv(t)
	if got := e.must("inspect", "--type", "image", "-f", "{{.RepoTags}}", "busybox"); got != "[busybox:latest]" {
		t.Errorf("inspect --type image: %q", got)
	}
	e.must("volume", "create", "vv")
	if got := e.must("inspect", "--type", "volume", "-f", "{{.Name}} {{.Driver}}", "vv"); got != "vv local" {
		t.Errorf("inspect --type volume: %q", got)
	}
	if _, errOut, code := e.berth("inspect", "--type", "volume", "busybox"); code != 1 || !strings.Contains(errOut, "no such volume") {
		t.Errorf("--type volume of an image: %d %q", code, errOut)
	}
	id := e.must("create", "-m", "64m", "busybox", "sh", "-c", "echo x > /big")
	if got := e.must("inspect", "-f", "{{.Config.Image}}", id); got != "busybox" {
		t.Errorf("-f .Config.Image: %q", got)
	}
	e.must("start", "-a", id)
	var withSize []struct{ SizeRw, SizeRootFs *int64 }
	json.Unmarshal([]byte(e.must("inspect", "--size", id)), &withSize)
	if len(withSize) != 1 || withSize[0].SizeRw == nil || *withSize[0].SizeRw <= 0 || withSize[0].SizeRootFs == nil || *withSize[0].SizeRootFs < *withSize[0].SizeRw {
		t.Errorf("inspect --size: %+v", withSize)
	}
	var without []map[string]any
	json.Unmarshal([]byte(e.must("inspect", id)), &without)
	if _, ok := without[0]["SizeRw"]; ok {
		t.Errorf("SizeRw without --size")
	}
	t.Run("numbers in templates", func(t *testing.T) {
		if got := e.must("inspect", "-f", "{{.HostConfig.Memory}}", id); got != "67108864" {
			t.Errorf("%q", got)
		}
	})
}

func TestExecFlags(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "--name", "box", "busybox", "sleep", "600")
	ef := filepath.Join(t.TempDir(), "env")
	os.WriteFile(ef, []byte("E1=one\nHOSTVAR\n"), 0o644)
	t.Setenv("HOSTVAR", "fromhost")
	t.Setenv("XV", "xv")
	if got := e.must("exec", "--env-file", ef, "-e", "XV", "-e", "Y=2", "box", "sh", "-c", "echo $E1 $HOSTVAR $XV $Y"); got != "one fromhost xv 2" {
		t.Errorf("exec --env-file -e: %q", got)
	}
	t.Run("detach", func(t *testing.T) {
		start := time.Now()
		if out := e.must("exec", "-d", "box", "sh", "-c", "sleep 1; echo done > /tmp/marker"); out != "" {
			t.Errorf("exec -d printed %q", out)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("exec -d waited %v for the command to end; Docker returns at once", d)
		}
		waitFor(t, "the detached exec's file", 5*time.Second, func() bool {
			out, _, _ := e.berth("exec", "box", "cat", "/tmp/marker")
			return out == "done\n"
		})
	})
}

// TestExecDetachedTty: exec -d -t gives the session a terminal that stays
// up with nobody attached (Docker's daemon holds it; here the session's
// keeper does), and the keeper goes with the session, after it logged the
// session's exec_die with its status.
func TestExecDetachedTty(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "--name", "box", "busybox", "sleep", "600")
	if out := e.must("exec", "-d", "-t", "box", "sh", "-c", "tty > /tmp/tty; sleep 1; echo still > /tmp/after"); out != "" {
		t.Errorf("exec -d -t printed %q", out)
	}
	waitFor(t, "the session's file", 5*time.Second, func() bool {
		out, _, _ := e.berth("exec", "box", "cat", "/tmp/after")
		return out == "still\n"
	})
	if got := e.must("exec", "box", "cat", "/tmp/tty"); !strings.HasPrefix(got, "/dev/pts/") {
		t.Errorf("the detached session's stdin is %q, want a pty", got)
	}
	waitFor(t, "the keeper to go", 5*time.Second, func() bool { return holders() == 0 })
	e.must("exec", "-d", "box", "sh", "-c", "exit 7")
	waitFor(t, "the keepers to go", 5*time.Second, func() bool { return holders() == 0 })
	// Every session, detached or not, logs one exec_die with its status.
	evs := e.must("events", "--since", "0", "--until", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		"--filter", "event=exec_create", "--filter", "event=exec_die",
		"--format", `{{.Action}}|{{index .Actor.Attributes "execID"}}|{{index .Actor.Attributes "exitCode"}}`)
	created, died := map[string]string{}, map[string]string{}
	for _, l := range strings.Split(evs, "\n") {
		f := strings.Split(l, "|")
		if len(f) != 3 {
			continue
		}
		if strings.HasPrefix(f[0], "exec_create") {
			created[f[1]] = f[0]
		} else if _, dup := died[f[1]]; dup {
			t.Errorf("two exec_die for %s", f[1])
		} else {
			died[f[1]] = f[2]
		}
	}
	for id, action := range created {
		code, ok := died[id]
		switch {
		case !ok:
			t.Errorf("no exec_die for %q", action)
		case action == "exec_create: sh -c exit 7" && code != "7":
			t.Errorf("exec_die of the detached exit 7: %s", code)
		case strings.Contains(action, "echo still") && code != "0":
			t.Errorf("exec_die of the detached terminal session: %s", code)
		}
	}
	// A failed exec leaves no keeper behind.
	if _, _, code := e.berth("exec", "-d", "-t", "box", "/no/such/cmd"); code == 0 {
		t.Errorf("exec -d -t of a missing command succeeded")
	}
	waitFor(t, "no console holder", 5*time.Second, func() bool { return holders() == 0 })
}

// holders counts the exec keepers running.
func holders() int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		// Any berth's: the keeper runs as the resolved executable, which
		// need not be spelled as $BERTH_BINARY is.
		if strings.Contains(string(b), "\x00container\x00exec-keeper\x00") {
			n++
		}
	}
	return n
}

func TestMultipleAndForms(t *testing.T) {
	e := newEnv(t)
	a := e.must("create", "--name", "ma", "busybox", "sh", "-c", "exit 1")
	b := e.must("create", "--name", "mb", "busybox", "sh", "-c", "exit 2")
	if got := e.must("start", "ma", "mb"); got != "ma\nmb" {
		t.Errorf("start of two: %q", got)
	}
	if got := e.must("wait", a, b); got != "1\n2" {
		t.Errorf("wait of two: %q", got)
	}
	if out, _, code := e.berth("start", "ma", "nosuch"); code == 0 || out != "ma\n" {
		t.Errorf("start with a missing one: %q %d", out, code)
	}
	e.must("wait", "ma")
	if got := e.must("container", "run", "--rm", "busybox", "echo", "via container run"); got != "via container run" {
		t.Errorf("container run: %q", got)
	}
	if got := e.must("container", "rm", "ma", "mb"); got != "ma\nmb" {
		t.Errorf("container rm: %q", got)
	}
	if got := e.must("container", "ls", "-aq"); got != "" {
		t.Errorf("left: %q", got)
	}
}
