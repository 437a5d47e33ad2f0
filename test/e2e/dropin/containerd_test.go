package dropin_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ctrEnv is a containerd of the test's own and ctr pointed at it, running tasks with
// berth-runtime through the runc v2 shim (`ctr run --runc-binary`).
type ctrEnv struct {
	*client
	runcRoot     string
	cgroupParent string
}

func newContainerd(t *testing.T) *ctrEnv {
	t.Helper()
	bins := lookPaths(t, "containerd", "containerd", "ctr", "containerd-shim-runc-v2")
	dir := t.TempDir()
	run := shortTempDir(t, "berth-ctrd-")
	sock := filepath.Join(run, "c.sock")
	// The 1.6 shim keeps its socket under /run/containerd/s and ctr its fifos under
	// /run/containerd/fifo whatever the daemon's state dir: remove them if we made them.
	removeIfCreated(t, "/run/containerd", "/run/containerd/s", "/run/containerd/fifo")
	conf := filepath.Join(dir, "config.toml")
	// CRI off (it wants CNI and would start more); snapshotters that cannot work here off so
	// the log stays readable.
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.opt"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(run, "state"), sock, sock+".ttrpc", filepath.Join(run, "debug.sock"))
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &ctrEnv{
		client:       &client{t: t, bin: bins[1], args: []string{"--address", sock, "--namespace", "berth"}},
		runcRoot:     filepath.Join(run, "runc"),
		cgroupParent: cgroupParent(t, "berth-dropin-ctrd"),
	}
	// Cleanups run last-registered first: tasks and containers go before the daemon stops,
	// mounts after, cgroups last.
	t.Cleanup(func() {
		waitProcsGone(t, run)
		unmountUnder(t, dir)
		unmountUnder(t, run)
	})
	startDaemon(t, dir, sock, bins[0], "--config", conf)
	t.Cleanup(func() {
		for _, id := range strings.Fields(e.run("task", "ls", "-q").stdout) {
			e.run("task", "kill", "-s", "KILL", id)
			e.run("task", "delete", "-f", id)
		}
		for _, id := range strings.Fields(e.run("container", "ls", "-q").stdout) {
			e.run("container", "delete", id)
		}
	})
	e.ok("images", "import", ociTar)
	return e
}

// runArgs are `ctr run` options: berth-runtime as the shim's runc, its state in the test's
// directory, and a cgroup of the test's.
func (e *ctrEnv) runArgs(id string) []string {
	return []string{"--runc-binary", binary, "--runc-root", e.runcRoot, "--cgroup", "/" + e.cgroupParent + "/" + id}
}

func TestContainerdRun(t *testing.T) {
	e := newContainerd(t)
	tests := []struct {
		name     string
		cmd      []string
		code     int
		stdout   string
		inStderr string
	}{
		{name: "output and status", cmd: []string{"sh", "-c", "echo hello; exit 3"}, code: 3, stdout: "hello\n"},
		{name: "pid 1", cmd: []string{"sh", "-c", "echo $$"}, stdout: "1\n"},
		// The shim reads the error back from --log (JSON) and ctr shows it.
		{name: "missing command", cmd: []string{"/no-such-command"}, code: 1, inStderr: `exec: "/no-such-command": stat /no-such-command: no such file or directory`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			defer func() { e.t = nil }()
			id := fmt.Sprintf("run%d", i)
			args := append(append([]string{"run", "--rm"}, e.runArgs(id)...), imageRef, id)
			r := e.run(append(args, tt.cmd...)...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\n%s", r.code, tt.code, r)
			}
			if tt.stdout != "" && r.stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			if !strings.Contains(r.stderr, tt.inStderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.inStderr)
			}
		})
	}
	e.t = t
	if out := e.ok("container", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after run --rm: %q", out)
	}
}

// TestContainerdTask drives a detached task through exec, ps, pause/resume, kill, delete and
// container delete.
func TestContainerdTask(t *testing.T) {
	e := newContainerd(t)
	id := "task1"
	args := append(append([]string{"run", "-d"}, e.runArgs(id)...), imageRef, id,
		"sh", "-c", `trap "exit 7" TERM; while true; do sleep 0.1; done`)
	e.ok(args...)
	status := func() string {
		for _, line := range strings.Split(e.ok("task", "ls"), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == id {
				return f[2]
			}
		}
		return ""
	}
	if st := status(); st != "RUNNING" {
		t.Fatalf("task status %q, want RUNNING", st)
	}

	t.Run("exec", func(t *testing.T) {
		e.t = t
		defer func() { e.t = nil }()
		r := e.run("task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in-exec; exit 4")
		if r.code != 4 || r.stdout != "in-exec\n" {
			t.Errorf("task exec: %s\nwant exit 4 and in-exec", r)
		}
		r = e.run("task", "exec", "--exec-id", "e2", id, "/no-such-command")
		if r.code == 0 || !strings.Contains(r.stderr, "no such file or directory") {
			t.Errorf("task exec of a missing command: %s", r)
		}
	})
	e.t = t

	t.Run("ps", func(t *testing.T) {
		// The shim asks the runtime for `ps --format json`.
		if out := e.ok("task", "ps", id); len(strings.Split(strings.TrimSpace(out), "\n")) < 2 {
			t.Errorf("task ps shows no process: %q", out)
		}
	})

	t.Run("pause", func(t *testing.T) {
		e.ok("task", "pause", id)
		if st := status(); st != "PAUSED" {
			t.Errorf("status after pause %q", st)
		}
		e.ok("task", "resume", id)
		if st := status(); st != "RUNNING" {
			t.Errorf("status after resume %q", st)
		}
	})

	t.Run("kill", func(t *testing.T) {
		e.ok("task", "kill", id) // SIGTERM: the trap exits 7
		if err := eventually(10*time.Second, func() error {
			if st := status(); st != "STOPPED" {
				return fmt.Errorf("status %q after kill, want STOPPED", st)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// ctr reports a non-zero exit status as a warning: the trap's 7 shows SIGTERM arrived.
		if r := e.run("task", "delete", id); r.code != 0 || !strings.Contains(r.stderr, "exit code 7") {
			t.Errorf("task delete: %s\nwant exit code 7 reported", r)
		}
		if out := e.ok("task", "ls", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("tasks left after delete: %q", out)
		}
		e.ok("container", "delete", id)
		if out := e.ok("container", "ls", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("containers left after delete: %q", out)
		}
	})

	t.Run("kill all", func(t *testing.T) {
		id := "task2"
		args := append(append([]string{"run", "-d"}, e.runArgs(id)...), imageRef, id,
			"sh", "-c", "sleep 100 & sleep 100")
		e.ok(args...)
		// --all: the runtime's kill --all signals every process of the container.
		e.ok("task", "kill", "--all", "-s", "KILL", id)
		if err := eventually(10*time.Second, func() error {
			for _, line := range strings.Split(e.ok("task", "ls"), "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[0] == id && f[2] != "STOPPED" {
					return fmt.Errorf("task %s is %s after kill --all", id, f[2])
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.ok("task", "delete", id)
		e.ok("container", "delete", id)
	})
}
