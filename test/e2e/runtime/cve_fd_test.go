package runtime_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The CVE-2024-21626 class: a host descriptor that reaches the container process lets it start
// in (process.cwd or exec --cwd /proc/self/fd/N), or reach, a host directory, from where ".."
// climbs to the host's root. The caller of berth-runtime holds fd 7 open, without
// close-on-exec, on a host directory with a marker file; whatever the container does, it must
// never see that directory.

const hostMarker = "host-side-marker-21626"

// hostDirFd7 makes a host directory holding the marker and returns the files to pass as the
// child's fds 3..7 (fd 7 is the directory).
func hostDirFd7(t *testing.T) []*os.File {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte(hostMarker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	for i := 0; i < 4; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, d)
	t.Cleanup(func() {
		for _, f := range files {
			f.Close()
		}
	})
	return files
}

// rtFds runs berth-runtime with extra as its fds 3.. (inherited, as a careless caller leaves
// them) and its output in files (a container of create keeps them open).
func (e *env) rtFds(extra []*os.File, args ...string) result {
	e.t.Helper()
	r, _ := e.rtFdsOut(extra, args...)
	return r
}

// rtFdsOut is rtFds that also returns the file holding stdout (a created container writes its
// output there later).
func (e *env) rtFdsOut(extra []*os.File, args ...string) (result, string) {
	e.t.Helper()
	dir := e.t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(binary, append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = stdout, stderr, extra
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
	var r result
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	o, _ := os.ReadFile(stdout.Name())
	x, _ := os.ReadFile(stderr.Name())
	r.stdout, r.stderr = string(o), string(x)
	return r, stdout.Name()
}

// neverSawHost fails the test if the container's output shows the host directory or fd 7.
func neverSawHost(t *testing.T, what string, r result) {
	t.Helper()
	if strings.Contains(r.stdout, hostMarker) || strings.Contains(r.stdout, "marker") {
		t.Errorf("%s: the container saw the host directory:\n%s", what, r)
	}
	if strings.Contains(r.stdout, "fd7-open") {
		t.Errorf("%s: fd 7 of the caller reached the container:\n%s", what, r)
	}
}

// The container lists its cwd and says whether it has an fd 7.
const cveScript = `ls; cat marker 2>/dev/null; test -e /proc/self/fd/7 && echo fd7-open; echo done`

func TestCVE202421626Run(t *testing.T) {
	for _, cwd := range []string{"/proc/self/fd/7", "/"} {
		t.Run(strings.ReplaceAll(cwd, "/", "_"), func(t *testing.T) {
			e := newEnv(t, "sh", "-c", cveScript)
			e.spec.Process.Cwd = cwd
			e.write()
			r := e.rtFds(hostDirFd7(t), "run", "--bundle", e.bundle, e.id)
			neverSawHost(t, "run", r)
			if cwd == "/" && (r.code != 0 || !strings.Contains(r.stdout, "done")) {
				t.Errorf("run with cwd /: %s", r)
			}
			if cwd != "/" && r.code == 0 {
				t.Errorf("run with cwd %s succeeded: %s", cwd, r)
			}
		})
	}
}

func TestCVE202421626CreateStart(t *testing.T) {
	for _, cwd := range []string{"/proc/self/fd/7", "/"} {
		t.Run(strings.ReplaceAll(cwd, "/", "_"), func(t *testing.T) {
			e := newEnv(t, "sh", "-c", cveScript)
			e.spec.Process.Cwd = cwd
			e.write()
			fds := hostDirFd7(t)
			r, out := e.rtFdsOut(fds, "create", "--bundle", e.bundle, e.id)
			if cwd != "/" {
				if r.code == 0 {
					t.Fatalf("create with cwd %s succeeded: %s", cwd, r)
				}
				neverSawHost(t, "create", r)
				return
			}
			if r.code != 0 {
				t.Fatalf("create: %s", r)
			}
			// start too is run by a caller that leaks fd 7.
			if s := e.rtFds(fds, "start", e.id); s.code != 0 {
				t.Fatalf("start: %s", s)
			}
			e.waitStopped()
			// The container's output went to create's stdout.
			b, _ := os.ReadFile(out)
			r.stdout = string(b)
			if !strings.Contains(r.stdout, "done") {
				t.Errorf("container output %q: want its script to have run", r.stdout)
			}
			e.delete()
			neverSawHost(t, "create+start", r)
		})
	}
}

func TestCVE202421626Exec(t *testing.T) {
	e := newEnv(t, "sleep", "300")
	e.create()
	e.start()
	for _, args := range [][]string{
		{"exec", "--cwd", "/proc/self/fd/7", e.id, "sh", "-c", cveScript},
		{"exec", e.id, "sh", "-c", cveScript},
	} {
		r := e.rtFds(hostDirFd7(t), args...)
		neverSawHost(t, strings.Join(args, " "), r)
		if args[1] == "--cwd" && r.code == 0 {
			t.Errorf("exec --cwd /proc/self/fd/7 succeeded: %s", r)
		}
		if args[1] != "--cwd" && (r.code != 0 || !strings.Contains(r.stdout, "done")) {
			t.Errorf("exec: %s", r)
		}
	}
	e.delete("--force")
}

// TestCVE202421626PreservedCwd: a descriptor passed on purpose (--preserve-fds) does reach the
// container, but a cwd through it that lies outside the container's root is refused after the
// chdir, as runc refuses it.
func TestCVE202421626PreservedCwd(t *testing.T) {
	e := newEnv(t, "sh", "-c", cveScript)
	e.spec.Process.Cwd = "/proc/self/fd/7"
	e.write()
	r := e.rtFds(hostDirFd7(t), "run", "--preserve-fds", "5", "--bundle", e.bundle, e.id)
	neverSawHost(t, "run --preserve-fds 5", r)
	// Two checks can refuse it: creating the cwd inside the root meets the magic link first
	// (the in-root resolver refuses it before pivot_root), and the check after chdir would
	// refuse a cwd outside the root if it got that far. Either one is the right answer.
	if r.code == 0 || !(strings.Contains(r.stderr, "outside of the container's root") ||
		strings.Contains(r.stderr, "procfs magic link")) {
		t.Errorf("run --preserve-fds 5 with cwd /proc/self/fd/7: %s\nwant an error refusing the cwd", r)
	}
}

// TestListenFds: the descriptors systemd socket activation passed (LISTEN_FDS, for the pid in
// LISTEN_PID) reach the container from fd 3, with LISTEN_FDS and LISTEN_PID=1 set, as runc
// passes them; the caller's next descriptor, asked for by no one, does not.
func TestListenFds(t *testing.T) {
	e := newEnv(t, "sh", "-c", `test -e /proc/self/fd/3 && echo fd3-open; test -e /proc/self/fd/4 && echo fd4-open; echo "listen=$LISTEN_FDS:$LISTEN_PID"`)
	e.write()
	listen, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Close()
	stray := hostDirFd7(t)[4]
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// exec keeps the shell's pid, so LISTEN_PID names berth-runtime.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, binary, "--root", e.root, "run", "--bundle", e.bundle, e.id)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = f, f, []*os.File{listen, stray}
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out)
		t.Fatalf("run: %v\n%s", err, b)
	}
	b, _ := os.ReadFile(out)
	got := string(b)
	if !strings.Contains(got, "fd3-open") || strings.Contains(got, "fd4-open") || !strings.Contains(got, "listen=1:1") {
		t.Errorf("container output %q: want fd 3 only, LISTEN_FDS=1 and LISTEN_PID=1", got)
	}
}
