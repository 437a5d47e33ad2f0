package dropin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newDocker starts Debian's dockerd (20.10) with berth-runtime added as the runtime "berth"
// and returns the docker CLI pointed at it. dockerd supervises a containerd of its own, whose
// runc v2 shim runs berth-runtime.
func newDocker(t *testing.T) *client {
	t.Helper()
	bins := lookPaths(t, "docker.io", "dockerd", "docker", "containerd", "containerd-shim-runc-v2")
	dir := t.TempDir()
	// exec-root holds containerd's socket and the shims' state: keep it short.
	run := shortTempDir(t, "berth-dk-")
	sock := filepath.Join(run, "d.sock")
	// Hard-coded by dockerd (plugin sockets) and by containerd 1.6's shim (its socket).
	removeIfCreated(t, "/run/docker", "/run/docker/plugins", "/run/containerd", "/run/containerd/s")
	// Without a config file dockerd writes its trust key to /etc/docker/key.json.
	conf := filepath.Join(dir, "daemon.json")
	b, _ := json.Marshal(map[string]string{"deprecated-key-path": filepath.Join(dir, "key.json")})
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	parent := cgroupParent(t, "berth-dropin-docker")
	execRoot := filepath.Join(run, "exec")
	t.Cleanup(func() {
		// dockerd stops the containerd it started; should it not, kill it by its pid file.
		killPidFile(t, filepath.Join(execRoot, "containerd", "containerd.pid"))
		waitProcsGone(t, run)
		unmountUnder(t, dir)
		unmountUnder(t, run)
	})
	startDaemon(t, dir, sock, bins[0],
		"--config-file", conf,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", execRoot,
		"--pidfile", filepath.Join(run, "docker.pid"), "-H", "unix://"+sock,
		// No bridge and no iptables: containers get no route out, the host's rules stay.
		"--bridge=none", "--iptables=false", "--ip6tables=false",
		"--storage-driver=overlay2", "--cgroup-parent", "/"+parent,
		"--add-runtime", "berth="+binary)
	// /usr/local/bin/docker (a newer CLI, first on PATH) talks to this 20.10 daemon fine.
	d := &client{t: t, bin: bins[1], args: []string{"-H", "unix://" + sock},
		env: []string{"DOCKER_CONFIG=" + filepath.Join(dir, "cli")}}
	t.Cleanup(func() { d.run("rm", "-f", "-v", "berth-d1") })
	d.ok("load", "-q", "-i", dockerTar)
	return d
}

func TestDocker(t *testing.T) {
	d := newDocker(t)

	t.Run("run", func(t *testing.T) {
		tests := []struct {
			name     string
			cmd      []string
			code     int
			stdout   string
			inStderr string
		}{
			{name: "output and status", cmd: []string{"sh", "-c", "echo hello; exit 3"}, code: 3, stdout: "hello\n"},
			{name: "pid 1", cmd: []string{"sh", "-c", "echo $$"}, stdout: "1\n"},
			// dockerd maps "no such file or directory" (as Go spells it, case and all) in the
			// runtime's error to 127, and "permission denied" to 126.
			{name: "missing command", cmd: []string{"/no-such-command"}, code: 127, inStderr: "no such file or directory"},
			{name: "not executable", cmd: []string{"/etc/passwd"}, code: 126, inStderr: "permission denied"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d.t = t
				defer func() { d.t = nil }()
				r := d.run(append([]string{"run", "--runtime", "berth", "--rm", imageRef}, tt.cmd...)...)
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
	})
	d.t = t

	name := "berth-d1"
	d.ok("run", "--runtime", "berth", "-d", "--name", name, imageRef,
		"sh", "-c", `trap "exit 7" TERM; while true; do sleep 0.1; done`)

	t.Run("exec", func(t *testing.T) {
		d.t = t
		defer func() { d.t = nil }()
		r := d.run("exec", name, "sh", "-c", "echo in-exec; exit 4")
		if r.code != 4 || r.stdout != "in-exec\n" {
			t.Errorf("docker exec: %s\nwant exit 4 and in-exec", r)
		}
		r = d.run("exec", name, "/no-such-command")
		if r.code != 126 && r.code != 127 {
			t.Errorf("docker exec of a missing command: %s\nwant 126 (as with runc) or 127", r)
		}
	})
	d.t = t

	t.Run("stop", func(t *testing.T) {
		start := time.Now()
		d.ok("stop", "-t", "10", name)
		if dt := time.Since(start); dt > 8*time.Second {
			t.Errorf("docker stop took %s: SIGTERM did not stop the container", dt)
		}
		if code := strings.TrimSpace(d.ok("inspect", "-f", "{{.State.ExitCode}}", name)); code != "7" {
			t.Errorf("exit code after stop %s, want 7 (the TERM trap's)", code)
		}
	})

	t.Run("rm", func(t *testing.T) {
		d.ok("rm", name)
		if out := d.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("containers left after rm: %q", out)
		}
	})

	t.Run("info", func(t *testing.T) {
		// dockerd lists the added runtime; its --version is what `docker info` would parse.
		out := d.ok("info", "--format", "{{json .Runtimes}}")
		if !strings.Contains(out, `"berth"`) || !strings.Contains(out, binary) {
			t.Errorf("docker info runtimes %s: no berth runtime at %s", out, binary)
		}
	})
}
