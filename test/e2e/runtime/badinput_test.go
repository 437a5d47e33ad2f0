package runtime_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/test/fixture"
)

// failsCleanly checks that r failed the way a user should see it: exit status 1, and one line on
// stderr (warnings aside) from berth-runtime holding every one of want (in any case) — never a
// panic trace.
func failsCleanly(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit status %d, want 1\n%s", r.code, r)
	}
	var lines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if l != "" && !strings.HasPrefix(l, "berth-runtime: warning: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "berth-runtime: ") {
		t.Fatalf("want one error line on stderr, got %q", lines)
	}
	for _, w := range want {
		// Case-insensitive: errors from the C side use strerror's capitals, Go's are lower case.
		if !strings.Contains(strings.ToLower(lines[0]), strings.ToLower(w)) {
			t.Errorf("error %q does not say %q", lines[0], w)
		}
	}
}

// nothingCreated checks that container id has no state and no cgroup.
func (e *env) nothingCreated(id string) {
	e.t.Helper()
	if id != "" && id != ".." {
		if _, err := os.Lstat(filepath.Join(e.root, id)); err == nil {
			e.t.Errorf("state of %q was created", id)
		}
	}
	// A bad id must not create anything else in the root either (e.g. "a" for "a/b").
	for _, name := range e.stateEntries() {
		if name == id || (id != "" && strings.HasPrefix(id, name+"/")) {
			e.t.Errorf("state root has %q after a failed create of %q", name, id)
		}
	}
	if id != "" && id != ".." {
		for _, dir := range cgroupDirs(id) {
			if _, err := os.Stat(dir); err == nil {
				e.t.Errorf("cgroup %s was created", dir)
			}
		}
	}
}

// TestBadInput: each bad request fails with exit status 1 and a one-line error naming what is
// wrong, creates nothing, and leaves the containers already there as they were.
func TestBadInput(t *testing.T) {
	e := newEnv(t, "sleep", "1000")
	running := e.id
	e.createID(running)
	e.mustRT("start", running)
	stopped := e.id + "-stopped"
	e.spec.Process.Args = []string{"true"}
	e.createID(stopped)
	e.mustRT("start", stopped)
	e.waitStatus(stopped, "stopped")
	before := map[string]lcState{running: e.stateOf(running), stopped: e.stateOf(stopped)}
	cgroupsBefore := existing(cgroupDirs(running))

	const newID = "bad-input-new"
	create := func(bundle string) []string { return []string{"create", "--bundle", bundle, newID} }
	tests := []struct {
		name string
		spec func(s *specs.Spec)               // changes the new bundle's config
		raw  func(t *testing.T, bundle string) // changes the new bundle's files after it is written
		args func(bundle string) []string      // default: create the new container from the bundle
		id   string                            // must not exist afterwards; default newID, "-" for none to check
		want []string
	}{
		{
			name: "args of the wrong type",
			raw: func(t *testing.T, bundle string) {
				editJSON(t, bundle, func(m map[string]any) { m["process"].(map[string]any)["args"] = "sh" })
			},
			want: []string{"config.json", "args"},
		},
		{
			name: "config not JSON",
			raw: func(t *testing.T, bundle string) {
				writeTestFile(t, filepath.Join(bundle, "config.json"), "ociVersion: 1.0.2\n")
			},
			want: []string{"config.json", "invalid character"},
		},
		{
			name: "config missing",
			raw: func(t *testing.T, bundle string) {
				if err := os.Remove(filepath.Join(bundle, "config.json")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"config.json", "not found"},
		},
		{
			name: "rootfs missing",
			raw: func(t *testing.T, bundle string) {
				if err := os.RemoveAll(filepath.Join(bundle, "rootfs")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"root.path", "rootfs", "no such file or directory"},
		},
		{
			name: "empty process.args",
			spec: func(s *specs.Spec) { s.Process.Args = []string{} },
			want: []string{"process.args", "empty"},
		},
		{
			name: "empty id",
			args: func(bundle string) []string { return []string{"create", "--bundle", bundle, ""} },
			id:   "-",
			want: []string{"container id", "empty"},
		},
		{
			name: "id with a slash",
			args: func(bundle string) []string { return []string{"create", "--bundle", bundle, "a/b"} },
			id:   "a/b",
			want: []string{"invalid container id", `"a/b"`},
		},
		{
			name: "id ..",
			args: func(bundle string) []string { return []string{"create", "--bundle", bundle, ".."} },
			id:   "..",
			want: []string{"invalid container id", `".."`},
		},
		{
			name: "duplicate id",
			args: func(bundle string) []string { return []string{"create", "--bundle", bundle, running} },
			id:   "-",
			want: []string{running, "already exists"},
		},
		{
			name: "unknown signal",
			args: func(string) []string { return []string{"kill", running, "SIGNOPE"} },
			want: []string{"unknown signal", "SIGNOPE"},
		},
		{
			name: "signal number out of range",
			args: func(string) []string { return []string{"kill", running, "99"} },
			want: []string{"invalid signal", "99"},
		},
		{
			name: "start of a running container",
			args: func(string) []string { return []string{"start", running} },
			want: []string{"running"},
		},
		{
			name: "delete of a running container without force",
			args: func(string) []string { return []string{"delete", running} },
			want: []string{running, "running"},
		},
		{
			name: "kill of a stopped container",
			args: func(string) []string { return []string{"kill", stopped, "KILL"} },
			want: []string{"not running"},
		},
		{
			name: "start of a stopped container",
			args: func(string) []string { return []string{"start", stopped} },
			want: []string{"stopped"},
		},
		{
			name: "command on a missing container",
			args: func(string) []string { return []string{"kill", "no-such-container", "KILL"} },
			want: []string{"no-such-container", "does not exist"},
		},
		{
			name: "unknown namespace type",
			spec: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			},
			want: []string{"namespace", `"bogus"`},
		},
		{
			name: "relative mount destination",
			spec: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt/x", Type: "tmpfs", Source: "tmpfs"})
			},
			want: []string{"mount destination", `"mnt/x"`, "absolute"},
		},
		{
			// The host's own value: were it written, the host would not change.
			name: "sysctl of no namespace",
			spec: func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{"vm.overcommit_memory": hostSysctl(t, "vm/overcommit_memory")}
			},
			want: []string{`"vm.overcommit_memory"`, "namespace"},
		},
		{
			name: "net sysctl without a network namespace",
			spec: func(s *specs.Spec) {
				s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
					return ns.Type == specs.NetworkNamespace
				})
				s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": hostSysctl(t, "net/ipv4/ip_forward")}
			},
			want: []string{`"net.ipv4.ip_forward"`, "network namespace"},
		},
		{
			name: "terminal without console socket",
			spec: func(s *specs.Spec) { s.Process.Terminal = true },
			want: []string{"terminal", "--console-socket"},
		},
		{
			name: "negative --preserve-fds",
			args: func(bundle string) []string {
				return []string{"create", "--preserve-fds", "-1", "--bundle", bundle, newID}
			},
			want: []string{"--preserve-fds", "-1", "negative"},
		},
		{
			name: "--preserve-fds of descriptors that are not open",
			args: func(bundle string) []string {
				return []string{"create", "--preserve-fds", "100", "--bundle", bundle, newID}
			},
			want: []string{"--preserve-fds", "not open"},
		},
		// setresuid reads 4294967295 as -1, "unchanged": the process would stay root.
		{
			name: "uid 4294967295",
			spec: func(s *specs.Spec) { s.Process.User.UID = 4294967295 },
			want: []string{"process.user.uid", "4294967295", "out of range"},
		},
		{
			name: "gid 4294967295",
			spec: func(s *specs.Spec) { s.Process.User.GID = 4294967295 },
			want: []string{"process.user.gid", "4294967295", "out of range"},
		},
		{
			name: "uid 2147483648",
			spec: func(s *specs.Spec) { s.Process.User.UID = 2147483648 },
			want: []string{"process.user.uid", "2147483648", "out of range"},
		},
		{
			name: "additional gid 4294967295",
			spec: func(s *specs.Spec) { s.Process.User.AdditionalGids = []uint32{10, 4294967295} },
			want: []string{"additionalGids", "4294967295", "out of range"},
		},
		{
			name: "negative memory limit",
			spec: func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-5)}}
			},
			want: []string{"memory.limit", "-5", "invalid"},
		},
		{
			name: "negative swap limit",
			spec: func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(-2)}}
			},
			want: []string{"memory.swap", "-2", "invalid"},
		},
		{
			name: "negative memory reservation",
			spec: func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(-1 << 40)}}
			},
			want: []string{"memory.reservation", "invalid"},
		},
		{
			name: "negative pids limit",
			spec: func(s *specs.Spec) { s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-5)}} },
			want: []string{"pids.limit", "-5", "invalid"},
		},
		{
			name: "negative cpu quota",
			spec: func(s *specs.Spec) { s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-7)}} },
			want: []string{"cpu.quota", "-7", "invalid"},
		},
		{
			// Read whole, this ended in Go running out of memory.
			name: "config.json a symlink to /dev/zero",
			raw: func(t *testing.T, bundle string) {
				path := filepath.Join(bundle, "config.json")
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/dev/zero", path); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"config.json", "not a regular file"},
		},
		{
			// Opened blocking, a FIFO would hang create until someone writes to it.
			name: "config.json a fifo",
			raw: func(t *testing.T, bundle string) {
				path := filepath.Join(bundle, "config.json")
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(path, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"config.json", "not a regular file"},
		},
		{
			name: "config.json larger than 16 MiB",
			raw: func(t *testing.T, bundle string) {
				path := filepath.Join(bundle, "config.json")
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				// Valid JSON: the size alone is refused.
				b = append(b, bytes.Repeat([]byte(" "), 16<<20)...)
				writeTestFile(t, path, string(b))
			},
			want: []string{"config.json", "larger than the 16 MiB"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := filepath.Join(t.TempDir(), "bundle")
			spec, err := fixture.Bundle(bundle, "true")
			if err != nil {
				t.Fatal(err)
			}
			if tt.spec != nil {
				tt.spec(spec)
				if err := fixture.WriteSpec(bundle, spec); err != nil {
					t.Fatal(err)
				}
			}
			if tt.raw != nil {
				tt.raw(t, bundle)
			}
			args := create(bundle)
			if tt.args != nil {
				args = tt.args(bundle)
			}
			r, _ := e.rtFile(args...)
			failsCleanly(t, r, tt.want...)

			id := tt.id
			if id == "" {
				id = newID
			}
			if id != "-" {
				e.nothingCreated(id)
			}
			if got := e.stateEntries(); !slices.Equal(got, []string{running, stopped}) {
				t.Errorf("state root holds %v, want only %s and %s", got, running, stopped)
			}
			for cid, was := range before {
				if now := e.stateOf(cid); now.Status != was.Status || now.Pid != was.Pid || now.Bundle != was.Bundle || !now.Created.Equal(was.Created) {
					t.Errorf("container %s changed: was %+v, now %+v", cid, was, now)
				}
			}
			if now := existing(cgroupDirs(running)); !slices.Equal(now, cgroupsBefore) {
				t.Errorf("cgroups of %s were %v, now %v", running, cgroupsBefore, now)
			}
		})
	}
}

// editJSON rewrites bundle/config.json through a generic map, to make configs the typed spec
// cannot express.
func editJSON(t *testing.T, bundle string, edit func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path, string(b))
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hostSysctl reads a sysctl of the host, e.g. "vm/overcommit_memory".
func hostSysctl(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// existing returns the paths that exist.
func existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func i64(v int64) *int64 { return &v }

// TestConfigSizeAndTrailingData: a config.json of nearly 16 MiB (a big annotation) runs, and so
// does one with data after its JSON value, which is ignored (as encoding/json's decoder and
// earlier versions did) and kept out of the state.
func TestConfigSizeAndTrailingData(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, e *env)
	}{
		{"16 MiB", func(t *testing.T, e *env) {
			e.spec.Annotations = map[string]string{"big": strings.Repeat("x", 16<<20-64<<10)}
			e.write()
		}},
		{"trailing data", func(t *testing.T, e *env) {
			e.write()
			path := filepath.Join(e.bundle, "config.json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			writeTestFile(t, path, string(b)+"\n}} trailing garbage {\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "sh", "-c", "echo ran")
			tt.edit(t, e)
			r := e.rt("run", "--bundle", e.bundle, e.id)
			if r.code != 0 || !strings.Contains(r.stdout, "ran") {
				t.Fatalf("run: %s", r)
			}
		})
	}
}

// TestExecBadUser: exec refuses the same out-of-range ids, in a process.json and in --user.
func TestExecBadUser(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	e.create()
	e.start()
	proc := e.spec.Process
	proc.Args = []string{"true"}
	proc.User.UID = 4294967295
	b, err := json.Marshal(proc)
	if err != nil {
		t.Fatal(err)
	}
	procFile := filepath.Join(t.TempDir(), "process.json")
	writeTestFile(t, procFile, string(b))
	for _, args := range [][]string{
		{"exec", "--process", procFile, e.id},
		{"exec", "--user", "4294967295:0", e.id, "true"},
		{"exec", "--user", "0:4294967295", e.id, "true"},
	} {
		r := e.rt(args...)
		failsCleanly(t, r, "out of range")
	}
	e.delete("--force")
}
