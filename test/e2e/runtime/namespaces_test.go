package runtime_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Helpers shared by namespaces_test.go, console_test.go, hooks_test.go and resources_test.go.

// rtFile runs berth-runtime like rt, but with its stdout and stderr in files instead of pipes.
// A container left behind by create or run --detach inherits them; with pipes the test would
// wait for the container's end to read them. out is the file the container's output goes to.
func (e *env) rtFile(args ...string) (r result, out string) {
	e.t.Helper()
	dir := e.t.TempDir()
	out, errPath := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	stdout, err := os.Create(out)
	if err != nil {
		e.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(errPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(binary, append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		e.t.Fatalf("berth-runtime %v timed out", args)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	o, _ := os.ReadFile(out)
	x, _ := os.ReadFile(errPath)
	r.stdout, r.stderr = string(o), string(x)
	return r, out
}

// create writes the spec and creates the container; it returns the container's pid and the file
// its stdout and stderr go to.
func (e *env) create(extra ...string) (pid int, out string) {
	e.t.Helper()
	e.write()
	args := append([]string{"create", "--bundle", e.bundle}, extra...)
	r, out := e.rtFile(append(args, e.id)...)
	if r.code != 0 {
		e.t.Fatalf("create failed: %s", r)
	}
	st := e.state()
	if st.Status != specs.StateCreated || st.Pid <= 0 {
		e.t.Fatalf("after create: status %q pid %d", st.Status, st.Pid)
	}
	return st.Pid, out
}

// start starts a created container.
func (e *env) start() {
	e.t.Helper()
	if r := e.rt("start", e.id); r.code != 0 {
		e.t.Fatalf("start failed: %s", r)
	}
}

// state returns `berth-runtime state` of the test's container.
func (e *env) state() specs.State {
	e.t.Helper()
	r := e.rt("state", e.id)
	if r.code != 0 {
		e.t.Fatalf("state failed: %s", r)
	}
	var st specs.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		e.t.Fatalf("state output %q: %v", r.stdout, err)
	}
	return st
}

// waitStopped waits until the container's process has exited.
func (e *env) waitStopped() {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.state().Status != specs.StateStopped {
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s did not stop", e.id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// delete deletes the container and fails the test if that fails.
func (e *env) delete(extra ...string) {
	e.t.Helper()
	if r := e.rt(append(append([]string{"delete"}, extra...), e.id)...); r.code != 0 {
		e.t.Fatalf("delete failed: %s", r)
	}
}

// nsLink is what /proc/PID/ns/NAME points to, e.g. "net:[4026531840]".
func nsLink(t *testing.T, pid, name string) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join("/proc", pid, "ns", name))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// hasTimeNS says whether the kernel has time namespaces (Linux 5.6, CONFIG_TIME_NS).
func hasTimeNS() bool {
	_, err := os.Stat("/proc/self/ns/time")
	return err == nil
}

// parseKV collects "key=value" lines of a container's output.
func parseKV(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			// Unquoted $(...) in echo turns leading blanks of a value into one space.
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// nsScript prints NAME=LINK for each namespace, as seen by a process in the container.
func nsScript(names []string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "echo %s=$(readlink /proc/self/ns/%s); ", n, n)
	}
	return b.String()
}

const (
	usernsHostID = 100000
	usernsSize   = 65536
)

// useUserns gives the container a user namespace mapping container ids 0-65535 to host ids
// 100000-165535, and chowns its rootfs to the mapped ids: the rootfs of this test is its own copy.
func (e *env) useUserns() {
	e.t.Helper()
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: usernsHostID, Size: usernsSize}}
	e.spec.Linux.UIDMappings, e.spec.Linux.GIDMappings = m, m
	e.spec.Linux.Namespaces = append(e.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	// The mapped root must reach the rootfs: the harness makes the test's temp dir searchable, but
	// not its parent, which the testing package creates with mode 0700.
	if err := os.Chmod(filepath.Dir(filepath.Dir(e.bundle)), 0o755); err != nil {
		e.t.Fatal(err)
	}
	rootfs := filepath.Join(e.bundle, "rootfs")
	err := filepath.WalkDir(rootfs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		return os.Lchown(path, usernsHostID+int(st.Uid), usernsHostID+int(st.Gid))
	})
	if err != nil {
		e.t.Fatalf("chown rootfs: %v", err)
	}
}

// TestNamespacesNew shows that every namespace the spec asks for without a path is a new one:
// its /proc/self/ns link inside differs from the test's own.
func TestNamespacesNew(t *testing.T) {
	names := []string{"pid", "net", "mnt", "ipc", "uts", "cgroup"}
	e := newEnv(t)
	e.spec.Linux.Namespaces = append(e.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	script := ""
	if hasTimeNS() {
		names = append(names, "time")
		e.spec.Linux.Namespaces = append(e.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		e.spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"monotonic": {Secs: 1000000},
			"boottime":  {Secs: 2000000, Nanosecs: 500},
		}
		// /proc/uptime follows CLOCK_BOOTTIME of the reader's time namespace.
		script = "echo offsets=$(cat /proc/self/timens_offsets | tr '\\n' ' '); echo uptime=$(cut -d' ' -f1 /proc/uptime); "
	} else {
		t.Log("kernel without time namespaces: not tested")
	}
	e.spec.Process.Args = []string{"sh", "-c", nsScript(names) + script}
	hostUptime := uptime(t)
	got := parseKV(e.mustRun())
	for _, n := range names {
		host := nsLink(t, "self", n)
		if got[n] == "" || !strings.HasPrefix(got[n], n+":[") {
			t.Errorf("%s namespace inside: %q", n, got[n])
		} else if got[n] == host {
			t.Errorf("%s namespace inside is the host's %s", n, host)
		}
	}
	if !hasTimeNS() {
		return
	}
	// The kernel prints offsets as "monotonic 1000000 0".
	if want := "monotonic 1000000 0 boottime 2000000 500"; got["offsets"] != want {
		t.Errorf("timens_offsets inside %q, want %q", got["offsets"], want)
	}
	in, err := strconv.ParseFloat(got["uptime"], 64)
	if err != nil {
		t.Fatalf("uptime inside %q: %v", got["uptime"], err)
	}
	if in < hostUptime+2000000 || in > hostUptime+2000000+60 {
		t.Errorf("uptime inside %.2f, host %.2f: want the host's plus 2000000 s", in, hostUptime)
	}
}

func uptime(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestNamespacesJoin starts a first container and a second one that joins its namespaces by path
// (net, ipc, uts, pid, mount and, in one case, user): the second must see the first's
// namespaces, its filesystem (joined mount namespace) and its uid_map (joined user namespace).
//
// A joined mount namespace that does not show the bundle's rootfs (another container's, whose root
// is that container's rootfs; one that does is set up: TestJoinedMountNamespaceCopy) gets no rootfs
// set-up at all (secondPlan skips rootfsPlan:
// mounts, devices, pivot_root, masked and read-only paths, the read-only root): setns has made the
// first container's root the process's root, which is already set up, and the second spec's root,
// mounts, devices, masked and read-only paths are ignored. Only process.cwd is applied, by chdir,
// and createContainer hooks still run, in the joined mount namespace.
func TestNamespacesJoin(t *testing.T) {
	tests := []struct {
		name   string
		userns bool
	}{
		{"without user namespace", false},
		{"with user namespace", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newEnv(t, "sleep", "300")
			if tt.userns {
				first.useUserns()
			}
			// Only the first container's rootfs has this file.
			if err := os.WriteFile(filepath.Join(first.bundle, "rootfs", "first-marker"), []byte("first\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			first.spec.Hostname = "first"
			// Writable, so that the second container's createContainer hook, which runs in the
			// joined mount namespace, can leave its mark in the first container's filesystem.
			first.spec.Root.Readonly = false
			pid, _ := first.create()
			first.start()
			p := strconv.Itoa(pid)

			kinds := map[specs.LinuxNamespaceType]string{
				specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
				specs.PIDNamespace: "pid", specs.MountNamespace: "mnt",
			}
			if tt.userns {
				kinds[specs.UserNamespace] = "user"
			}
			var names []string
			second := newEnv(t)
			second.spec.Linux.Namespaces = nil
			for typ, n := range kinds {
				names = append(names, n)
				second.spec.Linux.Namespaces = append(second.spec.Linux.Namespaces,
					specs.LinuxNamespace{Type: typ, Path: "/proc/" + p + "/ns/" + n})
			}
			slices.Sort(names)
			// A hostname would be set in the first container's uts namespace.
			second.spec.Hostname = ""
			second.spec.Process.Cwd = "/proc"
			second.spec.Process.Args = []string{"sh", "-c", nsScript(names) +
				"echo marker=$(cat /first-marker); echo host=$(hostname); echo cwd=$(pwd); " +
				"echo uidmap=$(cat /proc/self/uid_map); echo uid=$(id -u); echo shellpid=$$"}
			second.spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{
				Path: "/bin/sh", Args: []string{"sh", "-c", "readlink /proc/self/ns/mnt > /create-container-hook"},
				Env: hookEnv,
			}}}
			got := parseKV(second.mustRun())
			if hook := strings.TrimSpace(readFile(t, filepath.Join(first.bundle, "rootfs", "create-container-hook"))); hook != nsLink(t, p, "mnt") {
				t.Errorf("second container's createContainer hook ran in mount namespace %s, want the joined %s", hook, nsLink(t, p, "mnt"))
			}
			for _, n := range names {
				if want := nsLink(t, p, n); got[n] != want {
					t.Errorf("%s namespace: second container has %q, first %q", n, got[n], want)
				}
			}
			for k, want := range map[string]string{"marker": "first", "host": "first", "cwd": "/proc", "uid": "0"} {
				if got[k] != want {
					t.Errorf("%s: got %q, want %q", k, got[k], want)
				}
			}
			if got["shellpid"] == "1" || got["shellpid"] == "" {
				t.Errorf("second container's shell has pid %q in the joined pid namespace: want not 1", got["shellpid"])
			}
			wantMap := strings.Join(strings.Fields(readFile(t, "/proc/"+p+"/uid_map")), " ")
			if got["uidmap"] != wantMap {
				t.Errorf("uid_map inside %q, first container's %q", got["uidmap"], wantMap)
			}
			if tt.userns && wantMap != fmt.Sprintf("0 %d %d", usernsHostID, usernsSize) {
				t.Errorf("first container's uid_map %q", wantMap)
			}
			first.delete("--force")
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUsernsContainer runs a user-namespaced container (with new pid, mount, net, ipc and uts
// namespaces, or without net) end to end.
func TestUsernsContainer(t *testing.T) {
	hostNets, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var hostNames []string
	for _, d := range hostNets {
		hostNames = append(hostNames, d.Name())
	}
	tests := []struct {
		name     string
		netns    bool
		wantNets string // ls /sys/class/net inside
	}{
		// sysfs shows the network namespace of whoever mounts it: the container's own.
		{"with netns", true, "lo"},
		// Without a network namespace sysfs cannot be mounted: the host's /sys is bound.
		{"without netns", false, strings.Join(hostNames, " ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "sh", "-c", strings.Join([]string{
				"echo uid=$(id -u)", "echo gid=$(id -g)",
				"echo userns=$(readlink /proc/self/ns/user)",
				"echo uidmap=$(cat /proc/self/uid_map)",
				"echo gidmap=$(cat /proc/self/gid_map)",
				"echo pid=$$", "echo init=$(cat /proc/1/comm)",
				"echo nets=$(ls /sys/class/net)",
				"echo devnull=$(echo x > /dev/null && echo ok)",
				"echo zero=$(head -c 5 /dev/zero | wc -c)",
				"echo sys=$(grep ' /sys ' /proc/self/mounts | cut -d' ' -f3)",
				"touch /created-inside && mkdir /dir-inside && echo created=ok",
			}, "; "))
			e.useUserns()
			e.spec.Root.Readonly = false
			if !tt.netns {
				e.spec.Linux.Namespaces = slices.DeleteFunc(e.spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
					return ns.Type == specs.NetworkNamespace
				})
			}
			out := e.mustRun()
			got := parseKV(out)
			want := map[string]string{
				"uid": "0", "gid": "0",
				"uidmap": fmt.Sprintf("0 %d %d", usernsHostID, usernsSize),
				"gidmap": fmt.Sprintf("0 %d %d", usernsHostID, usernsSize),
				"pid":    "1", "init": "sh", "nets": tt.wantNets,
				"devnull": "ok", "zero": "5", "sys": "sysfs", "created": "ok",
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: got %q, want %q\noutput:\n%s", k, got[k], w, out)
				}
			}
			if host := nsLink(t, "self", "user"); !strings.HasPrefix(got["userns"], "user:[") || got["userns"] == host {
				t.Errorf("user namespace inside %q, host %q: want a new one", got["userns"], host)
			}
			for _, name := range []string{"created-inside", "dir-inside"} {
				info, err := os.Stat(filepath.Join(e.bundle, "rootfs", name))
				if err != nil {
					t.Fatal(err)
				}
				st := info.Sys().(*syscall.Stat_t)
				if st.Uid != usernsHostID || st.Gid != usernsHostID {
					t.Errorf("%s is owned by %d:%d on the host, want %d:%d", name, st.Uid, st.Gid, usernsHostID, usernsHostID)
				}
			}
		})
	}
}
