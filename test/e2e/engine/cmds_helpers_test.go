package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// loggedEvent is one line of the engine's event log (ROOT/events.log).
type loggedEvent struct {
	Type, Action string
	Actor        struct {
		ID         string
		Attributes map[string]string
	}
}

// readEventLog returns the logged events of action about container id.
func readEventLog(t *testing.T, e *env, id, action string) []loggedEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "events.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []loggedEvent
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			continue
		}
		var ev loggedEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("event log line %q: %v", l, err)
		}
		if ev.Actor.ID == id && ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// cgroupFile reads a cgroup file of the container's init from the host:
// v1 names (memory.limit_in_bytes) map to v2's on a unified host.
func cgroupFile(t *testing.T, e *env, ref, controller, file string) string {
	t.Helper()
	pid, err := strconv.Atoi(e.must("inspect", "-f", "{{.State.Pid}}", ref))
	if err != nil || pid <= 0 {
		t.Fatalf("pid of %s: %v", ref, err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	v2 := false
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		v2 = true
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if v2 && f[0] == "0" {
			v2name := map[string]string{"memory.limit_in_bytes": "memory.max", "pids.max": "pids.max",
				"cpuset.cpus": "cpuset.cpus", "memory.soft_limit_in_bytes": "memory.low"}[file]
			out, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", f[2], v2name))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(out))
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				out, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", f[1], f[2], file))
				if err != nil {
					t.Fatal(err)
				}
				return strings.TrimSpace(string(out))
			}
		}
	}
	t.Fatalf("no %s cgroup for %s", controller, ref)
	return ""
}

// want125 runs a command that must fail with status 125 and one line
// on stderr containing want.
func want125(t *testing.T, e *env, want string, args ...string) {
	t.Helper()
	out, errOut, code := e.berth(args...)
	if code != 125 || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("berth %s: exit %d, stdout %q, stderr %q; want 125 and one line with %q", strings.Join(args, " "), code, out, errOut, want)
	}
}
