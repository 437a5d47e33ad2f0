package dropin_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/test/fixture"
)

// These tests replay, against berth-runtime alone, the exact command lines the clients were
// recorded passing to runc (Podman 4.3 through conmon 2.1; containerd 1.6's runc v2 shim, also
// under dockerd 20.10), so that a break shows here with a clear message even where the clients
// are not installed.

// shimArgs are the global flags the containerd shim passes before every command.
func shimArgs(root, log string) []string {
	return []string{"--root", root, "--log", log, "--log-format", "json"}
}

func rt(t *testing.T, args ...string) result {
	t.Helper()
	c := &client{t: t, bin: binary}
	return c.run(args...)
}

func TestInvocationVersion(t *testing.T) {
	r := rt(t, "--version")
	// runc's shape, which `docker info` and `podman info` read.
	want := regexp.MustCompile(`^berth-runtime version \S+\ncommit: \S+\nspec: \d+\.\d+\.\d+\S*\ngo: go\S+\n`)
	if r.code != 0 || !want.MatchString(r.stdout) {
		t.Errorf("--version: %s\nwant %s", r, want)
	}
}

func TestInvocationFeatures(t *testing.T) {
	r := rt(t, "features")
	var f struct {
		OCIVersionMin string   `json:"ociVersionMin"`
		OCIVersionMax string   `json:"ociVersionMax"`
		Hooks         []string `json:"hooks"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &f) != nil || f.OCIVersionMin == "" || len(f.Hooks) == 0 {
		t.Errorf("features: %s", r)
	}
}

// TestInvocationShimLifecycle runs one container through the shim's sequence: create, state,
// start, exec --process --detach --pid-file, ps --format json, pause, resume, kill, kill --all,
// delete, delete --force.
func TestInvocationShimLifecycle(t *testing.T) {
	bundle, _ := fixture.NewBundle(t, "sh", "-c", "sleep 100 & exec sleep 100")
	dir := t.TempDir()
	root, log, id := filepath.Join(dir, "root"), filepath.Join(dir, "log.json"), "shim-"+randomSuffix()
	g := shimArgs(root, log)
	must := func(args ...string) string {
		t.Helper()
		r := rt(t, append(append([]string(nil), g...), args...)...)
		if r.code != 0 {
			logData, _ := os.ReadFile(log)
			t.Fatalf("%v: %s\nlog: %s", args, r, logData)
		}
		return r.stdout
	}
	t.Cleanup(func() { rt(t, append(g, "delete", "--force", id)...) })
	pidFile := filepath.Join(dir, "init.pid")
	// conmon passes --systemd-cgroup only with the systemd manager; false must be accepted.
	must("--systemd-cgroup=false", "create", "--bundle", bundle, "--pid-file", pidFile, "--no-new-keyring", "--preserve-fds", "0", id)
	pid := readPid(t, pidFile)

	var st struct {
		OCIVersion string            `json:"ociVersion"`
		ID         string            `json:"id"`
		Pid        int               `json:"pid"`
		Status     string            `json:"status"`
		Bundle     string            `json:"bundle"`
		Rootfs     string            `json:"rootfs"`
		Created    time.Time         `json:"created"`
		Owner      *string           `json:"owner"`
		Annots     map[string]string `json:"annotations"`
	}
	state := func() {
		t.Helper()
		if err := json.Unmarshal([]byte(must("state", id)), &st); err != nil {
			t.Fatalf("state is not JSON: %v", err)
		}
	}
	state()
	if st.ID != id || st.Pid != pid || st.Status != "created" || st.Bundle != bundle ||
		st.Rootfs != filepath.Join(bundle, "rootfs") || st.Created.IsZero() || st.Owner == nil || st.OCIVersion == "" {
		t.Errorf("state after create: %+v (pid file %d)", st, pid)
	}
	must("start", id)
	state()
	if st.Status != "running" {
		t.Errorf("status after start %q", st.Status)
	}

	proc := filepath.Join(dir, "process.json")
	if err := os.WriteFile(proc, []byte(`{"user":{"uid":0,"gid":0,"additionalGids":[0]},"args":["sleep","100"],"env":["PATH=/bin"],"cwd":"/"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	execPidFile := filepath.Join(dir, "e1.pid")
	must("exec", "--process", proc, "--detach", "--pid-file", execPidFile, id)
	execPid := readPid(t, execPidFile)

	// ps lists init, its child and the exec'd process: all in the container's cgroup.
	var pids []int
	if err := json.Unmarshal([]byte(must("ps", "--format", "json", id)), &pids); err != nil {
		t.Fatalf("ps --format json: %v", err)
	}
	if !slices.Contains(pids, pid) || !slices.Contains(pids, execPid) || len(pids) != 3 {
		t.Errorf("ps --format json: %v, want init %d, its child and exec %d", pids, pid, execPid)
	}
	must("pause", id)
	if state(); st.Status != "paused" {
		t.Errorf("status after pause %q", st.Status)
	}
	must("resume", id)
	must("kill", "--all", id, "9")
	if err := eventually(5*time.Second, func() error {
		if state(); st.Status != "stopped" {
			return fmt.Errorf("status %q after kill --all", st.Status)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	must("delete", id)
	// The shim deletes once more with --force: a container already gone is not an error.
	must("delete", "--force", id)
	if r := rt(t, append(g, "state", id)...); r.code == 0 {
		t.Errorf("state after delete succeeded: %s", r)
	}
}

// TestInvocationCreateErrorLog checks the error the containerd shim and dockerd read back from
// --log in JSON: one object per line with level "error" and the message, in the words the
// clients match ("no such file or directory" gives Docker's 127).
func TestInvocationCreateErrorLog(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"/no-such-command"}, `exec: "/no-such-command": stat /no-such-command: no such file or directory`},
		{"not executable", []string{"/etc/passwd"}, `exec: "/etc/passwd": permission denied`},
		{"not in PATH", []string{"no-such-command"}, `exec: "no-such-command": executable file not found in $PATH`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle, _ := fixture.NewBundle(t, tt.args...)
			dir := t.TempDir()
			root, log, id := filepath.Join(dir, "root"), filepath.Join(dir, "log.json"), "err-"+randomSuffix()
			g := shimArgs(root, log)
			r := rt(t, append(g, "create", "--bundle", bundle, "--pid-file", filepath.Join(dir, "pid"), id)...)
			rt(t, append(g, "delete", "--force", id)...)
			if r.code == 0 {
				t.Fatalf("create succeeded: %s", r)
			}
			data, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var e struct{ Level, Msg, Time string }
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("log line %q is not JSON: %v", line, err)
				}
				if e.Level == "error" && strings.Contains(e.Msg, tt.want) && e.Time != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("log %s has no error containing %q", data, tt.want)
			}
		})
	}
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return n
}

// TestInvocationKillAllAfterExit: without a pid namespace, processes outlive the container's
// init; the containerd shim then runs `kill --all ID 9`, which must still reach them (as with
// runc) rather than fail with "container not running".
func TestInvocationKillAllAfterExit(t *testing.T) {
	bundle, spec := fixture.NewBundle(t, "sh", "-c", "sleep 100 & exit 0")
	ns := spec.Linux.Namespaces[:0]
	for _, n := range spec.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			ns = append(ns, n)
		}
	}
	spec.Linux.Namespaces = ns
	if err := fixture.WriteSpec(bundle, spec); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, log, id := filepath.Join(dir, "root"), filepath.Join(dir, "log.json"), "killall-"+randomSuffix()
	g := shimArgs(root, log)
	t.Cleanup(func() { rt(t, append(g, "delete", "--force", id)...) })
	for _, args := range [][]string{{"create", "--bundle", bundle, "--pid-file", filepath.Join(dir, "pid"), id}, {"start", id}} {
		if r := rt(t, append(g, args...)...); r.code != 0 {
			t.Fatalf("%v: %s", args, r)
		}
	}
	var pids []int
	if err := eventually(5*time.Second, func() error {
		var st struct{ Status string }
		if err := json.Unmarshal([]byte(rt(t, append(g, "state", id)...).stdout), &st); err != nil || st.Status != "stopped" {
			return fmt.Errorf("status %q (%v), want stopped", st.Status, err)
		}
		if err := json.Unmarshal([]byte(rt(t, append(g, "ps", "--format", "json", id)...).stdout), &pids); err != nil || len(pids) != 1 {
			return fmt.Errorf("ps: %v %v, want the leftover sleep", pids, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := rt(t, append(g, "kill", "--all", id, "9")...); r.code != 0 {
		t.Fatalf("kill --all of a stopped container with a leftover process: %s", r)
	}
	if err := eventually(5*time.Second, func() error {
		if syscall.Kill(pids[0], 0) == nil {
			return fmt.Errorf("leftover process %d still alive", pids[0])
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	// Once nothing is left, --all is still not an error; a plain kill is.
	if r := rt(t, append(g, "kill", "--all", id, "9")...); r.code != 0 {
		t.Errorf("kill --all of an empty stopped container: %s", r)
	}
	if r := rt(t, append(g, "kill", id, "9")...); r.code == 0 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("kill of a stopped container: %s\nwant container not running", r)
	}
}

// TestInvocationSessionKeyring: like runc, each container gets a session keyring of its own
// ("_ses.ID") rather than the caller's, unless create has --no-new-keyring.
func TestInvocationSessionKeyring(t *testing.T) {
	for _, noNew := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-new-keyring=%v", noNew), func(t *testing.T) {
			bundle, spec := fixture.NewBundle(t, "cat", "/proc/keys")
			// /proc/keys is masked by default: unmask it to look.
			masked := spec.Linux.MaskedPaths[:0]
			for _, m := range spec.Linux.MaskedPaths {
				if m != "/proc/keys" {
					masked = append(masked, m)
				}
			}
			spec.Linux.MaskedPaths = masked
			if err := fixture.WriteSpec(bundle, spec); err != nil {
				t.Fatal(err)
			}
			root, id := filepath.Join(t.TempDir(), "root"), "keys-"+randomSuffix()
			args := []string{"--root", root, "run", "--bundle", bundle}
			if noNew {
				args = append(args, "--no-new-keyring")
			}
			r := rt(t, append(args, id)...)
			if r.code != 0 {
				t.Fatalf("run: %s", r)
			}
			own := strings.Contains(r.stdout, "_ses."+id)
			if own == noNew {
				t.Errorf("keyrings seen in the container:\n%s\nwant _ses.%s: %v", r.stdout, id, !noNew)
			}
		})
	}
}
