package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// lcState is what `state` prints: the OCI state plus runc's extra fields.
type lcState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations"`
}

// mustRT runs berth-runtime and fails the test unless it exits 0; it returns stdout.
func (e *env) mustRT(args ...string) string {
	e.t.Helper()
	r := e.rt(args...)
	if r.code != 0 {
		e.t.Fatalf("berth-runtime %v: %s", args, r)
	}
	return r.stdout
}

// mustRTFile is rtFile (stdio in files, for commands that leave a container behind) that fails
// the test unless berth-runtime exits 0.
func (e *env) mustRTFile(args ...string) {
	e.t.Helper()
	if r, _ := e.rtFile(args...); r.code != 0 {
		e.t.Fatalf("berth-runtime %v: %s", args, r)
	}
}

// createID writes the spec and creates container id from the bundle, waiting for start.
func (e *env) createID(id string, extra ...string) {
	e.t.Helper()
	e.write()
	e.mustRTFile(append(append([]string{"create", "--bundle", e.bundle}, extra...), id)...)
}

// stateOf returns the parsed `state` of id.
func (e *env) stateOf(id string) lcState {
	e.t.Helper()
	out := e.mustRT("state", id)
	var st lcState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("state %s is not JSON: %v\n%s", id, err, out)
	}
	return st
}

// waitStatus polls `state` until id has status want: a signalled process takes a moment to die.
func (e *env) waitStatus(id, want string) lcState {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.stateOf(id)
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s: status %q, want %q", id, st.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stateEntries lists the state root's entries (one per container).
func (e *env) stateEntries() []string {
	e.t.Helper()
	entries, err := os.ReadDir(e.root)
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	return names
}

// ownCgroup tells whether the runtime put container process pid in a cgroup of its own (false
// while it is built with the no-op cgroup stub): cgroup-backed features are tested only then.
func ownCgroup(t *testing.T, pid int, id string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatalf("cgroups of %d: %v", pid, err)
	}
	return strings.Contains(string(b), id)
}

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// TestLifecycle walks create → state → start → kill → delete with each spelling of a signal.
func TestLifecycle(t *testing.T) {
	tests := []struct {
		name   string
		args   []string // the container process
		signal string
	}{
		{"KILL", []string{"sleep", "1000"}, "KILL"},
		{"9", []string{"sleep", "1000"}, "9"},
		{"SIGKILL", []string{"sleep", "1000"}, "SIGKILL"},
		// init of a pid namespace gets signals other than KILL and STOP only if it handles them.
		{"TERM", []string{"sh", "-c", "trap 'exit 3' TERM; sleep 1000 & wait"}, "TERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.args...)
			e.write()
			pidFile := filepath.Join(t.TempDir(), "pid")
			// A relative bundle path must come back absolute in the state.
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(wd, e.bundle)
			if err != nil {
				t.Fatal(err)
			}
			e.mustRTFile("create", "--bundle", rel, "--pid-file", pidFile, e.id)

			st := e.stateOf(e.id)
			if st.OCIVersion == "" || st.ID != e.id || st.Status != "created" || st.Bundle != e.bundle {
				t.Fatalf("state after create: %+v (want id %s, status created, bundle %s)", st, e.id, e.bundle)
			}
			if st.Pid <= 0 || st.Rootfs != filepath.Join(e.bundle, "rootfs") {
				t.Fatalf("state after create: pid %d, rootfs %q", st.Pid, st.Rootfs)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("pid file: %v", err)
			}
			if strings.TrimSpace(string(b)) != strconv.Itoa(st.Pid) {
				t.Fatalf("pid file says %q, state says %d", b, st.Pid)
			}
			if !pidAlive(st.Pid) {
				t.Fatalf("container process %d is not alive after create", st.Pid)
			}

			e.mustRT("start", e.id)
			running := e.stateOf(e.id)
			if running.Status != "running" || running.Pid != st.Pid {
				t.Fatalf("state after start: %+v (want running, pid %d)", running, st.Pid)
			}

			if tt.signal == "TERM" {
				// An init ignores TERM until its trap is set: wait for the
				// shell's child, which it starts after the trap.
				children := fmt.Sprintf("/proc/%d/task/%d/children", st.Pid, st.Pid)
				deadline := time.Now().Add(10 * time.Second)
				for b, _ := os.ReadFile(children); len(strings.TrimSpace(string(b))) == 0; b, _ = os.ReadFile(children) {
					if time.Now().After(deadline) {
						t.Fatalf("the shell started no child in 10 s")
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			e.mustRT("kill", e.id, tt.signal)
			stopped := e.waitStatus(e.id, "stopped")
			// runc prints "pid": 0 for a stopped container rather than leaving it out.
			var raw map[string]any
			if err := json.Unmarshal([]byte(e.mustRT("state", e.id)), &raw); err != nil {
				t.Fatal(err)
			}
			if pid, ok := raw["pid"]; !ok || pid != float64(0) || stopped.Pid != 0 {
				t.Errorf("stopped container: pid %v (present %v), want 0", pid, ok)
			}
			if pidAlive(st.Pid) {
				t.Errorf("container process %d still alive after kill %s", st.Pid, tt.signal)
			}

			e.mustRT("delete", e.id)
			if r := e.rt("state", e.id); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
				t.Fatalf("state after delete: want exit 1 and \"does not exist\", got %s", r)
			}
			if left := e.stateEntries(); len(left) != 0 {
				t.Fatalf("state root after delete: %v", left)
			}
		})
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, "sleep", "1000")
	created, running := e.id+"-a", e.id+"-b"
	e.createID(created)
	e.createID(running)
	e.mustRT("start", running)

	t.Run("table", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(e.mustRT("list")), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a header and 2 rows, got %q", lines)
		}
		if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
			t.Fatalf("header %q", lines[0])
		}
		want := map[string]string{created: "created", running: "running"}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) < 5 || want[f[0]] != f[2] || f[3] != e.bundle {
				t.Fatalf("row %q (want statuses %v, bundle %s)", l, want, e.bundle)
			}
			if pid, err := strconv.Atoi(f[1]); err != nil || pid <= 0 {
				t.Fatalf("row %q: bad pid", l)
			}
			delete(want, f[0])
		}
	})
	t.Run("json", func(t *testing.T) {
		var got []lcState
		out := e.mustRT("list", "--format", "json")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("list --format json: %v\n%s", err, out)
		}
		if len(got) != 2 {
			t.Fatalf("want 2 containers, got %+v", got)
		}
		for _, c := range got {
			want := map[string]string{created: "created", running: "running"}[c.ID]
			if c.Status != want || c.Pid <= 0 || c.Bundle != e.bundle || c.Rootfs != filepath.Join(e.bundle, "rootfs") || c.Created.IsZero() {
				t.Errorf("entry %+v (want status %q)", c, want)
			}
		}
	})
	t.Run("quiet", func(t *testing.T) {
		got := strings.Fields(e.mustRT("list", "-q"))
		slices.Sort(got)
		if !slices.Equal(got, []string{created, running}) {
			t.Fatalf("list -q: %q", got)
		}
	})
	t.Run("empty root", func(t *testing.T) {
		e2 := newEnv(t)
		if out := strings.TrimSpace(e2.mustRT("list", "--format", "json")); out != "[]" {
			t.Fatalf("list of an empty root: %q", out)
		}
	})
}

func TestDeleteForceRunning(t *testing.T) {
	e := newEnv(t, "sleep", "1000")
	e.createID(e.id)
	e.mustRT("start", e.id)
	pid := e.stateOf(e.id).Pid
	e.mustRT("delete", "--force", e.id)
	if left := e.stateEntries(); len(left) != 0 {
		t.Fatalf("state left: %v", left)
	}
	if pidAlive(pid) {
		t.Fatalf("process %d survived delete --force", pid)
	}
	// runc: --force on a container that is gone is not an error.
	e.mustRT("delete", "--force", e.id)
}

func TestRunDetachAndPs(t *testing.T) {
	e := newEnv(t, "sh", "-c", "sleep 1000 & exec sleep 1001")
	e.write()
	start := time.Now()
	e.mustRTFile("run", "--detach", "--bundle", e.bundle, e.id)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("run --detach took %v", d)
	}
	st := e.waitStatus(e.id, "running")

	ps := func() []int {
		out := e.mustRT("ps", "--format", "json", e.id)
		var pids []int
		if err := json.Unmarshal([]byte(out), &pids); err != nil {
			t.Fatalf("ps --format json: %v\n%s", err, out)
		}
		return pids
	}
	pids := ps()
	if !ownCgroup(t, st.Pid, e.id) {
		t.Logf("cgroups are the no-op stub: ps lists %v, not checked", pids)
		return
	}
	// "running" comes as soon as start returns: the shell may not have forked yet.
	for deadline := time.Now().Add(10 * time.Second); len(pids) < 2 && time.Now().Before(deadline); pids = ps() {
		time.Sleep(10 * time.Millisecond)
	}
	if len(pids) != 2 || !slices.Contains(pids, st.Pid) {
		t.Fatalf("ps: %v, want init %d and its child", pids, st.Pid)
	}
	table := e.mustRT("ps", e.id)
	if !strings.HasPrefix(table, "PID") || !strings.Contains(table, "sleep 1001") {
		t.Fatalf("ps table:\n%s", table)
	}
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t, "sleep", "1000")
	e.createID(e.id)
	e.mustRT("start", e.id)
	st := e.stateOf(e.id)
	if !ownCgroup(t, st.Pid, e.id) {
		t.Skip("cgroups are the no-op stub: pause needs a real freezer")
	}
	e.mustRT("pause", e.id)
	if got := e.stateOf(e.id).Status; got != "paused" {
		t.Fatalf("status after pause: %q", got)
	}
	if r := e.rt("pause", e.id); r.code != 1 {
		t.Fatalf("pause of a paused container: %s", r)
	}
	e.mustRT("resume", e.id)
	if got := e.stateOf(e.id).Status; got != "running" {
		t.Fatalf("status after resume: %q", got)
	}
	if r := e.rt("resume", e.id); r.code != 1 {
		t.Fatalf("resume of a running container: %s", r)
	}
	// A paused container can still be killed and deleted.
	e.mustRT("pause", e.id)
	e.mustRT("kill", e.id, "KILL")
	e.waitStatus(e.id, "stopped")
	e.mustRT("delete", e.id)
}

func TestSpecCommand(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	e.mustRT("spec", "--bundle", dir)
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("spec wrote invalid JSON: %v", err)
	}
	if s.Version == "" || s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil ||
		!slices.Equal(s.Process.Args, []string{"sh"}) || s.Linux == nil || len(s.Linux.Namespaces) == 0 {
		t.Fatalf("spec: %s", data)
	}
	r := e.rt("spec", "--bundle", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("spec over an existing config.json: want exit 1 naming it, got %s", r)
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Fatal("spec changed an existing config.json")
	}
}

func TestFeatures(t *testing.T) {
	e := newEnv(t)
	out := e.mustRT("features")
	var f features.Features
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features: %v\n%s", err, out)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax == "" || f.Linux == nil {
		t.Fatalf("features: %s", out)
	}
	for _, c := range []struct {
		what string
		list []string
		want string
	}{
		{"hooks", f.Hooks, "prestart"},
		{"mountOptions", f.MountOptions, "rbind"},
		{"namespaces", f.Linux.Namespaces, "pid"},
		{"capabilities", f.Linux.Capabilities, "CAP_SYS_ADMIN"},
	} {
		if !slices.Contains(c.list, c.want) {
			t.Errorf("features %s %v lacks %s", c.what, c.list, c.want)
		}
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	out := e.mustRT("--version")
	if !strings.HasPrefix(out, "berth-runtime version ") || !strings.Contains(out, "\nspec: "+specs.Version) {
		t.Fatalf("--version: %q", out)
	}
}

func TestLogJSON(t *testing.T) {
	e := newEnv(t)
	logFile := filepath.Join(t.TempDir(), "log.json")
	r := e.rt("--log", logFile, "--log-format", "json", "start", "no-such-container")
	if r.code != 1 {
		t.Fatalf("start of a missing container: %s", r)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var entry map[string]string
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if entry["level"] == "error" && strings.Contains(entry["msg"], "no-such-container") && entry["time"] != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no error entry naming the container in the log:\n%s", data)
	}
}
