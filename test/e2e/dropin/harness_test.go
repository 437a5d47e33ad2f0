// Package dropin_test runs berth-runtime under real clients in place of runc: Podman (through
// conmon), containerd (through its runc v2 shim and ctr) and Docker (dockerd with an added
// runtime). Each client is Debian's package; a test skips when its package is missing. Every
// daemon keeps its state in the test's temporary directories, listens on a socket under a
// temporary run directory, and is stopped by pid at the end.
package dropin_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/fixture"
)

// imageRef is the name under which every client gets the fixture's busybox image.
const imageRef = "localhost/berth/dropin:test"

var (
	binary     string // berth-runtime under test
	dockerTar  string // the fixture image as a docker-archive (podman load, docker load)
	ociTar     string // the same image as an OCI layout tar (ctr images import)
	fixtureDir string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping drop-in tests: not root")
		return 0
	}
	if os.Getenv("BERTH_TEST_GUEST") != "" {
		// The qemu guest has no Podman, containerd or Docker.
		fmt.Println("skipping drop-in tests: no client runtimes in the test guest")
		return 0
	}
	dir, err := os.MkdirTemp("", "berth-dropin-fixture")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	fixtureDir = dir
	if binary, err = fixture.RuntimeBinary(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := fixture.BusyboxRootfs(rootfs); err != nil {
		fmt.Println(err)
		return 1
	}
	dockerTar, ociTar = filepath.Join(dir, "image-docker.tar"), filepath.Join(dir, "image-oci.tar")
	if err := fixture.DockerArchiveTar(rootfs, dockerTar, imageRef); err != nil {
		fmt.Println(err)
		return 1
	}
	if err := fixture.OCILayoutTar(rootfs, ociTar, imageRef); err != nil {
		fmt.Println(err)
		return 1
	}
	return m.Run()
}

// result is one client command's outcome.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// client runs one client binary with fixed leading arguments and environment.
type client struct {
	t    *testing.T
	bin  string
	args []string
	env  []string
}

// run runs the client and fails the test if it cannot start or times out.
func (c *client) run(args ...string) result {
	c.t.Helper()
	return c.runIn(nil, args...)
}

func (c *client) runIn(stdin io.Reader, args ...string) result {
	c.t.Helper()
	// Output goes to files, not pipes: a detached container or a daemon's helper that keeps
	// the client's stdout must not hold the test up (runc's create leaves it to the container).
	stdout, stderr := outFile(c.t), outFile(c.t)
	cmd := exec.Command(c.bin, append(append([]string(nil), c.args...), args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout.File, stderr.File
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("%s: %v", c.bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		c.t.Fatalf("%s %v timed out\nstdout: %s\nstderr: %s", filepath.Base(c.bin), args, stdout.String(), stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("%s %v: %v", filepath.Base(c.bin), args, err)
	}
	return r
}

// outBuf is a command's output captured in an unlinked temporary file.
type outBuf struct{ *os.File }

func outFile(t *testing.T) outBuf {
	t.Helper()
	f, err := os.CreateTemp("", "berth-dropin-out")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(f.Name())
	t.Cleanup(func() { f.Close() })
	return outBuf{f}
}

// String returns everything written so far.
func (o outBuf) String() string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", o.Fd()))
	return string(b)
}

// ok runs the client and fails the test unless it exits 0; it returns stdout.
func (c *client) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("%s %s: %s", filepath.Base(c.bin), strings.Join(args, " "), r)
	}
	return r.stdout
}

// lookPaths returns the paths of the named binaries, or skips the test naming the package
// that provides them.
func lookPaths(t *testing.T, pkg string, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("%s not found: install Debian's %s package (hack/packages.txt lists it)", n, pkg)
		}
		out = append(out, p)
	}
	return out
}

// shortTempDir makes a temporary directory with a short path, for unix sockets (108 bytes at
// most, and containerd's shim adds its own path to ours) and for Podman's runroot (50 at most);
// t.TempDir's paths are too long for both.
func shortTempDir(t *testing.T, prefix string) string {
	t.Helper()
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(d); err != nil {
			t.Errorf("remove %s: %v", d, err)
		}
	})
	return d
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cgroupParent returns a fresh top-level cgroup name for a client's containers and removes
// it, in every hierarchy, when the test ends (clients leave their parent cgroups behind).
func cgroupParent(t *testing.T, prefix string) string {
	t.Helper()
	name := prefix + "-" + randomSuffix()
	t.Cleanup(func() { removeCgroupTree(t, name) })
	return name
}

// removeCgroupTree removes /sys/fs/cgroup/*/name (and the cgroup2 mount's) deepest first.
// Only empty cgroups can go: a process still inside is a leak the test reports.
func removeCgroupTree(t *testing.T, name string) {
	t.Helper()
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		top := filepath.Join(r, name)
		if _, err := os.Stat(top); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			// A cgroup whose last process just exited can stay busy for a moment.
			for try := 0; try < 50; try++ {
				if err = syscall.Rmdir(dirs[i]); err == nil || errors.Is(err, os.ErrNotExist) {
					err = nil
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("remove cgroup %s: %v", dirs[i], err)
			}
		}
	}
}

// removeIfCreated removes, when the test ends, each of paths that does not exist now and
// then holds nothing but empty directories: paths that clients hard-code (containerd's shim
// socket and fifo directories, dockerd's plugin directory).
func removeIfCreated(t *testing.T, paths ...string) {
	t.Helper()
	var created []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			created = append(created, p)
		}
	}
	t.Cleanup(func() {
		for i := len(created) - 1; i >= 0; i-- {
			removeEmptyDirs(created[i])
		}
	})
}

func removeEmptyDirs(p string) {
	entries, err := os.ReadDir(p)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			removeEmptyDirs(filepath.Join(p, e.Name()))
		}
	}
	_ = os.Remove(p)
}

// daemon is a client daemon the test started and stops by pid.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startDaemon starts bin args with its output in a log file under logDir, waits until socket
// accepts connections, and stops the daemon (SIGTERM, then SIGKILL) when the test ends.
func startDaemon(t *testing.T, logDir, socket, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: filepath.Base(bin), log: filepath.Join(logDir, filepath.Base(bin)+".log"), done: make(chan struct{})}
	lf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = lf, lf
	// Its own process group, so that a terminal's signals never reach it.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", d.name, err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := dialUnix(socket); err == nil {
			c.Close()
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited early:\n%s", d.name, d.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s:\n%s", d.name, socket, d.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop on SIGTERM; killing it", d.name)
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) logTail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// killPidFile kills, by the pid in file, a process a daemon started and left running.
func killPidFile(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	if syscall.Kill(pid, 0) != nil {
		return
	}
	t.Logf("killing leftover process %d (from %s)", pid, file)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// unmountUnder lazily unmounts whatever is still mounted below dir (a daemon killed before it
// could clean up), so that removing the temporary directory works.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mps = append(mps, f[4])
		}
	}
	for i := len(mps) - 1; i >= 0; i-- {
		t.Logf("unmounting leftover %s", mps[i])
		_ = syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
}

// eventually retries f until it returns nil or the timeout passes, and returns its last error.
func eventually(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitProcsGone waits for processes whose command line mentions marker (a shim given the
// daemon's socket path) to exit once their daemon is gone; any still there after a while is
// killed and reported, since a test must leave no process behind.
func waitProcsGone(t *testing.T, marker string) {
	t.Helper()
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && bytes.Contains(b, []byte(marker)) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	var left []int
	_ = eventually(10*time.Second, func() error {
		if left = find(); len(left) > 0 {
			return errors.New("still running")
		}
		return nil
	})
	for _, pid := range left {
		cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		t.Errorf("process %d (%s) outlived its daemon: killing it", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
