package engine_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestLogs(t *testing.T) {
	e := newEnv(t)
	t.Run("rotation", func(t *testing.T) {
		id := e.must("run", "-d", "--log-opt", "max-size=10k", "--log-opt", "max-file=3", "busybox", "seq", "1", "5000")
		if got := e.must("wait", id); got != "0" {
			t.Fatalf("wait: %s", got)
		}
		base := filepath.Join(e.root, "containers", id, id+"-json.log")
		var total int64
		for i, suffix := range []string{"", ".1", ".2"} {
			fi, err := os.Stat(base + suffix)
			if err != nil {
				t.Fatalf("log file %d: %v", i, err)
			}
			if fi.Size() > 10<<10 {
				t.Errorf("%s is %d bytes, over max-size", fi.Name(), fi.Size())
			}
			total += fi.Size()
		}
		if _, err := os.Stat(base + ".3"); err == nil {
			t.Error("more than max-file files kept")
		}
		lines := strings.Split(strings.TrimSpace(e.must("logs", id)), "\n")
		if lines[len(lines)-1] != "5000" || len(lines) < 100 {
			t.Fatalf("logs: %d lines, last %q", len(lines), lines[len(lines)-1])
		}
		first, _ := strconv.Atoi(lines[0])
		for i, l := range lines {
			if l != strconv.Itoa(first+i) {
				t.Fatalf("line %d is %q, want %d: rotated logs must read in order without gaps", i, l, first+i)
			}
		}
		if got := e.must("logs", "--tail", "2", id); got != "4999\n5000" {
			t.Errorf("--tail 2: %q", got)
		}
		ts := e.must("logs", "-t", "--tail", "1", id)
		if tm, rest, _ := strings.Cut(ts, " "); rest != "5000" || !strings.HasSuffix(tm, "Z") {
			t.Errorf("-t: %q", ts)
		} else if _, err := time.Parse(time.RFC3339Nano, tm); err != nil {
			t.Errorf("-t: %v", err)
		}
		if got := e.must("logs", "--since", "1h", "--until", "2h", id); got != "" {
			t.Errorf("--until before --since: %q", got)
		}
	})
	t.Run("follow", func(t *testing.T) {
		id := e.must("run", "-d", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done; echo done >&2")
		out, errOut, code := e.berth("logs", "-f", id)
		if code != 0 || out != "1\n2\n3\n4\n5\n" || errOut != "done\n" {
			t.Errorf("logs -f: %q %q %d", out, errOut, code)
		}
	})
	t.Run("survive the CLI", func(t *testing.T) {
		// A foreground run whose CLI is killed: the monitor keeps logging.
		cmd := e.cmd("run", "--name", "orphan", "busybox", "sh", "-c", "echo before; sleep 0.5; echo after")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first line", 5*time.Second, func() bool {
			out, _, _ := e.berth("logs", "orphan")
			return out == "before\n"
		})
		cmd.Process.Kill()
		cmd.Wait()
		if got := e.must("wait", "orphan"); got != "0" {
			t.Errorf("wait: %q", got)
		}
		if got := e.must("logs", "orphan"); got != "before\nafter" {
			t.Errorf("logs: %q", got)
		}
	})
	t.Run("k8s-file and none", func(t *testing.T) {
		id := e.must("run", "-d", "--log-driver", "k8s-file", "busybox", "echo", "cri")
		e.must("wait", id)
		if got := e.must("logs", id); got != "cri" {
			t.Errorf("k8s-file logs: %q", got)
		}
		b, _ := os.ReadFile(filepath.Join(e.root, "containers", id, "ctr.log"))
		if f := strings.Fields(string(b)); len(f) != 4 || f[1] != "stdout" || f[2] != "F" || f[3] != "cri" {
			t.Errorf("ctr.log: %q", b)
		}
		id = e.must("run", "-d", "--log-driver", "none", "busybox", "echo", "x")
		e.must("wait", id)
		if _, errOut, code := e.berth("logs", id); code == 0 || !strings.Contains(errOut, "does not support reading") {
			t.Errorf("logs of --log-driver none: %d %q", code, errOut)
		}
	})
}

// readUntil reads f until want shows up in what was read.
func readUntil(t *testing.T, f *os.File, want string, d time.Duration) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(d)
	for !bytes.Contains(got, []byte(want)) {
		f.SetReadDeadline(deadline)
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v; read %q", want, err, got)
		}
	}
	return string(got)
}

func TestTerminal(t *testing.T) {
	e := newEnv(t)
	cmd := e.cmd("run", "-it", "--name", "tty", "busybox", "sh")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 90})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	ptmx.WriteString("stty size; tty; echo $((6*7))\r")
	readUntil(t, ptmx, "42", 10*time.Second)
	// The container's terminal had our size from the start.
	if got := e.must("exec", "tty", "sh", "-c", "stty size < /dev/console 2>/dev/null || true"); got != "" && got != "30 90" {
		t.Logf("console size via exec: %q", got)
	}
	pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 132})
	time.Sleep(200 * time.Millisecond)
	ptmx.WriteString("stty size\r")
	readUntil(t, ptmx, "50 132", 10*time.Second)
	// The detach keys leave it running; attach comes back to it.
	ptmx.Write([]byte{0x10, 0x11})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("berth after the detach keys: %v", err)
	}
	if got := e.inspect("tty").State.Status; got != "running" {
		t.Fatalf("after detaching: %s", got)
	}
	cmd2 := e.cmd("attach", "tty")
	ptmx2, err := pty.StartWithSize(cmd2, &pty.Winsize{Rows: 30, Cols: 90})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx2.Close()
	time.Sleep(200 * time.Millisecond)
	ptmx2.WriteString("echo again; exit 3\r")
	readUntil(t, ptmx2, "again", 10*time.Second)
	err = cmd2.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("attach ended with %v, want exit status 3", err)
	}
	if got := e.must("wait", "tty"); got != "3" {
		t.Errorf("wait: %q", got)
	}
	// exec -it through a pty, with the runtime relaying the terminal.
	e.must("run", "-d", "--name", "box", "busybox", "sleep", "600")
	// Asked at once: the runtime puts the size in process.consoleSize,
	// set on the pty before the process starts.
	cmd3 := e.cmd("exec", "-it", "box", "sh", "-c", "tty; stty size")
	ptmx3, err := pty.StartWithSize(cmd3, &pty.Winsize{Rows: 24, Cols: 77})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx3.Close()
	out := readUntil(t, ptmx3, "24 77", 10*time.Second)
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("exec -it output %q", out)
	}
	cmd3.Wait()
}

func TestParallelRunAndRemove(t *testing.T) {
	e := newEnv(t)
	const n = 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := e.berth("run", "-d", "--name", fmt.Sprintf("p%d", i), "busybox", "sleep", "600")
			if code != 0 {
				errs <- fmt.Errorf("run %d: %d %s", i, code, errOut)
				return
			}
			ids[i] = strings.TrimSpace(out)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ps := e.must("ps", "-q", "--no-trunc")
	for i, id := range ids {
		if id == "" || !strings.Contains(ps, id) {
			t.Errorf("container %d (%q) missing from ps", i, id)
		}
	}
	if got := len(strings.Fields(ps)); got != n {
		t.Errorf("ps lists %d running containers, want %d", got, n)
	}
	errs = make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errOut, code := e.berth("rm", "-f", fmt.Sprintf("p%d", i)); code != 0 {
				errs <- fmt.Errorf("rm %d: %s", i, errOut)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.must("ps", "-aq"); got != "" {
		t.Errorf("left after rm -f: %s", got)
	}
	// The names are free again.
	e.must("create", "--name", "p0", "busybox")
}

// monitorOf finds the pid of the berth-monitor watching the container.
func monitorOf(t *testing.T, id string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "berth-monitor") && strings.Contains(string(b), "\x00"+id+"\x00") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	t.Fatalf("no monitor for %s", id)
	return 0
}

func TestMonitorKilled(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "busybox", "sleep", "600")
	pid := e.inspect(id).State.Pid
	syscall.Kill(monitorOf(t, id), syscall.SIGKILL)
	// The container outlives its monitor: still running, nobody logging.
	time.Sleep(100 * time.Millisecond)
	if got := e.inspect(id).State.Status; got != "running" {
		t.Errorf("with the monitor gone but the init alive: %s", got)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "the dead container to show", 5*time.Second, func() bool {
		return e.inspect(id).State.Status == "exited"
	})
	j := e.inspect(id)
	if j.State.ExitCode != -1 {
		t.Errorf("exit code %d, want -1 (unknown)", j.State.ExitCode)
	}
	if got := e.must("ps", "-a", "--format", "{{.Status}}"); !strings.HasPrefix(got, "Exited (-1)") {
		t.Errorf("ps: %q", got)
	}
	e.must("rm", id)
}

func TestExecLeavesNothing(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--name", "box", "busybox", "sleep", "600")
	mon := monitorOf(t, id)
	count := func() (procs, fds, mounts int) {
		out := e.must("exec", "box", "ps", "-o", "pid")
		procs = len(strings.Fields(out)) - 2 // the header, ps itself
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", mon))
		// The mounts that are this test's: the host's under its roots
		// (other tests on the machine mount elsewhere), and every one in
		// the container's mount namespace.
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, e.root) || strings.Contains(l, e.runRoot) {
				mounts++
			}
		}
		cmi, _ := os.ReadFile(fmt.Sprintf("/proc/%s/mountinfo", e.must("inspect", "-f", "{{.State.Pid}}", "box")))
		return procs, len(ents), mounts + strings.Count(string(cmi), "\n")
	}
	p0, f0, m0 := count()
	for i := range 200 {
		if _, errOut, code := e.berth("exec", "box", "true"); code != 0 {
			t.Fatalf("exec %d: %d %s", i, code, errOut)
		}
	}
	p1, f1, m1 := count()
	if p1 != p0 || f1 != f0 || m1 != m0 {
		t.Errorf("after 200 execs: processes %d -> %d, monitor fds %d -> %d, mounts %d -> %d", p0, p1, f0, f1, m0, m1)
	}
	entries, _ := filepath.Glob(filepath.Join(e.runRoot, "c", id[:12], "exec-*"))
	if len(entries) != 0 {
		t.Errorf("exec files left: %v", entries)
	}
}

func TestManyLayers(t *testing.T) {
	e := newEnv(t)
	base, err := tarball.ImageFromPath(imageTar, nil)
	if err != nil {
		// The fixture is an OCI archive: read it through berth save instead.
		path := filepath.Join(t.TempDir(), "base.tar")
		e.must("save", "-o", path, "busybox")
		if base, err = tarball.ImageFromPath(path, nil); err != nil {
			t.Fatal(err)
		}
	}
	img := v1.Image(base)
	for i := 1; i < 128; i++ {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := fmt.Sprintf("layer %d\n", i)
		tw.WriteHeader(&tar.Header{Name: "layers/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layers/%03d", i), Mode: 0o644, Size: int64(len(body))})
		io.WriteString(tw, body)
		tw.Close()
		b := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "deep.tar")
	ref, _ := name.NewTag("deep:128")
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
	e.must("load", "-q", "-i", path)
	if got := e.must("run", "--rm", "deep:128", "sh", "-c", "ls /layers | wc -l; cat /layers/127"); got != "127\nlayer 127" {
		t.Errorf("128-layer image: %q", got)
	}
}

func TestResourceFlags(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		t.Skip("cgroup v1 host: the v2 files are checked here (the v2 guest runs this too)")
	}
	e := newEnv(t)
	out := e.must("run", "--rm", "--memory", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--cpu-shares", "512",
		"--pids-limit", "50", "busybox", "sh", "-c",
		"cd /sys/fs/cgroup && cat memory.max memory.swap.max cpu.max pids.max cpu.weight")
	// cpu.weight 59 is the shares-to-weight mapping of runc 1.3 and crun
	// (log-scaled, so 1024 shares stay the default 100), which
	// berth-runtime follows.
	want := "67108864\n67108864\n50000 100000\n50\n59"
	if out != want {
		t.Errorf("cgroup files:\n%s\nwant:\n%s", out, want)
	}
	j := e.inspect(e.must("create", "--memory", "64m", "--cpus", "1.5", "busybox"))
	if j.HostConfig.Memory != 64<<20 || j.HostConfig.NanoCpus != 1_500_000_000 {
		t.Errorf("inspect HostConfig: %+v", j.HostConfig)
	}
}

// TestOOMKilled: a container whose memory limit the kernel enforces with
// its OOM killer shows State.OOMKilled, as Docker does; one that exits on
// its own does not.
func TestOOMKilled(t *testing.T) {
	e := newEnv(t)
	// The shell's variable grows past 16 MiB; no swap on these hosts
	// (--memory-swap equal to --memory where swap accounting exists).
	id := e.must("run", "-d", "--memory", "16m", "--memory-swap", "16m", "busybox", "sh", "-c",
		`x=a; while :; do x="$x$x"; done`)
	if out := e.must("wait", id); out != "137" {
		t.Fatalf("wait: %q, want 137", out)
	}
	if j := e.inspect(id); !j.State.OOMKilled || j.State.ExitCode != 137 {
		t.Errorf("state after the OOM kill: %+v", j.State)
	}
	id = e.must("run", "-d", "--memory", "16m", "busybox", "sh", "-c", "kill -9 $$")
	e.must("wait", id)
	if j := e.inspect(id); j.State.OOMKilled {
		t.Errorf("a SIGKILL of its own reads as an OOM kill: %+v", j.State)
	}
}

func TestNamespaceSharing(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "--name", "first", "--hostname", "shared", "--ipc", "shareable", "busybox", "sh", "-c", "echo hi > /dev/shm/note; exec sleep 600")
	tests := []struct {
		flag, script, want string
	}{
		{"--pid", "ps -o comm | grep -c sleep", "1"},
		{"--uts", "hostname", "shared"},
		{"--ipc", "cat /dev/shm/note", "hi"},
		{"--network", "ls /sys/class/net", map[bool]string{false: "eth0\nlo", true: "lo"}[guest]}, // first's, on the default network
	}
	for _, tc := range tests {
		t.Run(tc.flag, func(t *testing.T) {
			if got := e.must("run", "--rm", tc.flag, "container:first", "busybox", "sh", "-c", tc.script); got != tc.want {
				t.Errorf("%s container:first: %q, want %q", tc.flag, got, tc.want)
			}
		})
	}
	e.must("run", "-d", "--name", "private", "busybox", "sleep", "600")
	if _, errOut, code := e.berth("run", "--rm", "--ipc", "container:private", "busybox", "true"); code != 125 || !strings.Contains(errOut, "not shareable") {
		t.Errorf("joining a private IPC namespace: %d %q", code, errOut)
	}
	e.must("stop", "-t", "0", "first")
	if _, errOut, code := e.berth("run", "--rm", "--pid", "container:first", "busybox", "true"); code != 125 || !strings.Contains(errOut, "not running") {
		t.Errorf("joining a stopped container: %d %q", code, errOut)
	}
}
