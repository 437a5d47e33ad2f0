package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookEnv is what every hook gets: busybox sh in the guest and dash here both need a PATH.
var hookEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// recordHook is a hook that runs /bin/sh (the host's, or busybox in the v2 guest) to record, in
// dir, its name in dir/order, its stdin (the state JSON) in dir/NAME.json and its mount namespace
// in dir/NAME.mnt; then it runs extra.
func recordHook(name, dir, extra string) specs.Hook {
	script := `cat > "$1/$0.json"; echo "$0" >> "$1/order"; readlink /proc/self/ns/mnt > "$1/$0.mnt"; ` + extra
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script, name, dir}, Env: hookEnv}
}

// hookLog reads what recordHook wrote.
type hookLog struct {
	t   *testing.T
	dir string
}

func (h hookLog) order() []string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, "order"))
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func (h hookLog) state(name string) specs.State {
	h.t.Helper()
	var st specs.State
	b, err := os.ReadFile(filepath.Join(h.dir, name+".json"))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		h.t.Fatalf("%s hook got state %q: %v", name, b, err)
	}
	return st
}

func (h hookLog) file(name string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, name))
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestHooks runs every kind of hook and checks their order, the state each gets on stdin and
// where they run: prestart, createRuntime, poststart and poststop in the runtime's namespaces,
// createContainer in the container's mount namespace before pivot_root (its path resolves on the
// host), startContainer inside the container (its path resolves in the container's rootfs).
func TestHooks(t *testing.T) {
	e := newEnv(t, "true")
	// The log lives in the bundle and is bound into the container at /hooklog, so hooks outside
	// and inside the container write the same files.
	log := hookLog{t, filepath.Join(e.bundle, "hooklog")}
	if err := os.Mkdir(log.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	e.spec.Mounts = append(e.spec.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: log.dir, Options: []string{"rbind", "rw"}})
	// This script exists only in the container's rootfs: the hook runs only if its path is
	// resolved there.
	startHook := "/start-container-hook"
	script := "#!/bin/sh\n" + `cat > /hooklog/startContainer.json; echo startContainer >> /hooklog/order
readlink /proc/self/ns/mnt > /hooklog/startContainer.mnt
test -e /hooklog/order && test -x /bin/busybox && echo yes > /hooklog/startContainer.inside
`
	if err := os.WriteFile(filepath.Join(e.bundle, "rootfs", startHook), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(startHook); err == nil {
		t.Fatalf("%s exists on the host: the test could not tell where the hook path resolves", startHook)
	}
	e.spec.Hooks = &specs.Hooks{
		//lint:ignore SA1019 prestart is deprecated but runtimes must still run it.
		Prestart:        []specs.Hook{recordHook("prestart", log.dir, "")},
		CreateRuntime:   []specs.Hook{recordHook("createRuntime", log.dir, "")},
		CreateContainer: []specs.Hook{recordHook("createContainer", log.dir, "")},
		StartContainer:  []specs.Hook{{Path: startHook, Env: hookEnv}},
		Poststart:       []specs.Hook{recordHook("poststart", log.dir, "")},
		Poststop:        []specs.Hook{recordHook("poststop", log.dir, "")},
	}
	pid, _ := e.create()
	if got, want := log.order(), []string{"prestart", "createRuntime", "createContainer"}; !slices.Equal(got, want) {
		t.Fatalf("hooks run by create: %v, want %v", got, want)
	}
	e.start()
	e.waitStopped()
	// startContainer runs in the container after start has released it, before the exec of the
	// user process; poststart runs in the runtime once that exec has happened.
	got := log.order()
	if len(got) != 5 || got[3] != "startContainer" || got[4] != "poststart" {
		t.Fatalf("hooks after start: %v, want startContainer then poststart after the create hooks", got)
	}
	e.delete()
	if got := log.order(); len(got) != 6 || got[5] != "poststop" {
		t.Fatalf("hooks after delete: %v, want poststop last", got)
	}

	wantStatus := map[string]specs.ContainerState{
		"prestart": specs.StateCreated, "createRuntime": "creating", "createContainer": specs.StateCreated,
		"startContainer": specs.StateCreated, "poststart": specs.StateRunning, "poststop": specs.StateStopped,
	}
	for name, status := range wantStatus {
		st := log.state(name)
		if st.ID != e.id || st.Status != status || st.Bundle != e.bundle {
			t.Errorf("%s hook state: id %q status %q bundle %q; want %q %q %q", name, st.ID, st.Status, st.Bundle, e.id, status, e.bundle)
		}
		wantPid := pid
		if name == "poststop" {
			wantPid = 0 // the process is gone
		}
		if st.Pid != wantPid {
			t.Errorf("%s hook state: pid %d, want %d", name, st.Pid, wantPid)
		}
	}
	// The container's mount namespace is gone by now; createContainer must have been in a new
	// one (not the host's), the same one as startContainer.
	host := nsLink(t, "self", "mnt")
	for _, name := range []string{"prestart", "createRuntime", "poststart", "poststop"} {
		if got := log.file(name + ".mnt"); got != host {
			t.Errorf("%s hook ran in mount namespace %s, want the runtime's %s", name, got, host)
		}
	}
	cc, sc := log.file("createContainer.mnt"), log.file("startContainer.mnt")
	if cc == host || cc != sc {
		t.Errorf("createContainer hook in mount namespace %s, startContainer in %s, host %s: want both in the container's", cc, sc, host)
	}
	if log.file("startContainer.inside") != "yes" {
		t.Error("startContainer hook did not see the container's rootfs")
	}
}

// TestHooksMountNamespace compares the createContainer hook's mount namespace with the running
// container's, while it still exists.
func TestHooksMountNamespace(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	dir := t.TempDir()
	e.spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{recordHook("createContainer", dir, "")}}
	pid, _ := e.create()
	log := hookLog{t, dir}
	if got, want := log.file("createContainer.mnt"), nsLink(t, strconv.Itoa(pid), "mnt"); got != want {
		t.Errorf("createContainer hook in mount namespace %s, container in %s", got, want)
	}
	e.delete("--force")
}

// TestHookFailures checks that a failing or hanging hook makes create fail, says which hook, and
// leaves no state, cgroup or process (the harness checks state and cgroups on cleanup).
func TestHookFailures(t *testing.T) {
	timeout := 1
	tests := []struct {
		name    string
		phase   string // prestart, createRuntime or createContainer
		extra   string // shell run by the hook after recording
		timeout *int
		want    string // in the error
		maxTime time.Duration
	}{
		{"createRuntime fails", "createRuntime", "echo broken >&2; exit 3", nil, "exit status 3", 30 * time.Second},
		{"prestart fails", "prestart", "exit 4", nil, "exit status 4", 30 * time.Second},
		{"createContainer fails", "createContainer", "exit 5", nil, "status 5", 30 * time.Second},
		{"createRuntime times out", "createRuntime", "sleep 30", &timeout, "timed out", 10 * time.Second},
		{"createContainer times out", "createContainer", "sleep 30", &timeout, "timed out", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "true")
			dir := t.TempDir()
			h := recordHook(tt.phase, dir, tt.extra)
			h.Timeout = tt.timeout
			e.spec.Hooks = &specs.Hooks{}
			switch tt.phase {
			case "prestart":
				//lint:ignore SA1019 prestart is deprecated but runtimes must still run it.
				e.spec.Hooks.Prestart = []specs.Hook{h}
			case "createRuntime":
				e.spec.Hooks.CreateRuntime = []specs.Hook{h}
			case "createContainer":
				e.spec.Hooks.CreateContainer = []specs.Hook{h}
			}
			e.spec.Hooks.Poststart = []specs.Hook{recordHook("poststart", dir, "")}
			e.write()
			began := time.Now()
			r, _ := e.rtFile("create", "--bundle", e.bundle, e.id)
			took := time.Since(began)
			if took > tt.maxTime {
				t.Errorf("create took %v", took)
			}
			if tt.timeout != nil && took < time.Duration(*tt.timeout)*time.Second {
				t.Errorf("create gave up after %v, before the hook's %ds timeout", took, *tt.timeout)
			}
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want create to fail with %q, got %s", tt.want, r)
			}
			if tt.phase != "createContainer" && !strings.Contains(r.stderr, tt.phase) {
				t.Errorf("error does not name the %s hook: %s", tt.phase, r.stderr)
			}
			if entries, _ := os.ReadDir(e.root); len(entries) != 0 {
				t.Errorf("state left after a failed create: %v", entries)
			}
			log := hookLog{t, dir}
			if got := log.order(); !slices.Equal(got, []string{tt.phase}) {
				t.Errorf("hooks run: %v, want only %s", got, tt.phase)
			}
			// The hook saw the container's pid: that process must be gone (and reaped).
			if pid := log.state(tt.phase).Pid; pid <= 0 {
				t.Errorf("%s hook state has pid %d", tt.phase, pid)
			} else if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				t.Errorf("container process %d left after a failed create", pid)
			}
		})
	}
}

// TestPostHookFailures: a failing poststart or poststop hook is logged as a warning and the rest
// go on (the later hooks of the phase, start, delete), as the spec asks; the OCI suite's
// poststart_fail and poststop_fail.
func TestPostHookFailures(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	dir := t.TempDir()
	e.spec.Hooks = &specs.Hooks{
		Poststart: []specs.Hook{recordHook("poststart1", dir, "exit 3"), recordHook("poststart2", dir, "")},
		Poststop:  []specs.Hook{recordHook("poststop1", dir, "exit 4"), recordHook("poststop2", dir, "")},
	}
	e.create()
	r := e.rt("start", e.id)
	if r.code != 0 {
		t.Fatalf("start with a failing poststart hook: %s", r)
	}
	if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "poststart") || !strings.Contains(r.stderr, "exit status 3") {
		t.Errorf("start did not warn about the failing poststart hook: %q", r.stderr)
	}
	if st := e.state(); st.Status != specs.StateRunning {
		t.Errorf("after start: %s", st.Status)
	}
	r = e.rt("delete", "--force", e.id)
	if r.code != 0 {
		t.Fatalf("delete with a failing poststop hook: %s", r)
	}
	if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "poststop") || !strings.Contains(r.stderr, "exit status 4") {
		t.Errorf("delete did not warn about the failing poststop hook: %q", r.stderr)
	}
	if entries, _ := os.ReadDir(e.root); len(entries) != 0 {
		t.Errorf("state left after delete: %v", entries)
	}
	log := hookLog{t, dir}
	if got, want := log.order(), []string{"poststart1", "poststart2", "poststop1", "poststop2"}; !slices.Equal(got, want) {
		t.Errorf("hooks run: %v, want %v", got, want)
	}
}

// TestHookFds: hooks run by the container process get their stdin (the state) and stdout and
// stderr, and none of the runtime's descriptors (its sync socket, the exec FIFO, the console):
// a hook that left a process behind would hold them, and start waits for the FIFO to hang up.
func TestHookFds(t *testing.T) {
	e := newEnv(t, "true")
	dir := filepath.Join(e.bundle, "hookfds")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	e.spec.Mounts = append(e.spec.Mounts, specs.Mount{Destination: "/hookfds", Type: "bind", Source: dir, Options: []string{"rbind", "rw"}})
	// ls opens one descriptor of its own to read the directory.
	list := func(where string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "ls /proc/self/fd > " + where}}
	}
	e.spec.Hooks = &specs.Hooks{
		CreateContainer: []specs.Hook{list(filepath.Join(dir, "createContainer"))},
		StartContainer:  []specs.Hook{list("/hookfds/startContainer")},
	}
	e.create()
	e.start()
	e.waitStopped()
	e.delete()
	for _, name := range []string{"createContainer", "startContainer"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s hook: %v", name, err)
		}
		for _, fd := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(fd); err != nil || n > 3 {
				t.Errorf("%s hook had fd %s open; want only 0-2 (and ls's own 3): %q", name, fd, b)
			}
		}
	}
}
