package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/runtime/console"
	"github.com/berth-dev/berth/test/fixture"
)

// The binaries: $BERTH_MONITOR_BINARY and $BERTH_RUNTIME_BINARY (bin/ after hack/build.sh), or
// static builds made once for the package.
var (
	binOnce           sync.Once
	binDir            string
	monitorBin, rtBin string
	binErr            error
)

func TestMain(m *testing.M) {
	// A child that spawns a monitor and exits: the logs must outlive it.
	if o := os.Getenv("MONITOR_TEST_SPAWN"); o != "" {
		var opts Options
		if err := json.Unmarshal([]byte(o), &opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		p, err := Spawn(context.Background(), opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(p)
		os.Exit(0)
	}
	code := m.Run()
	// Nothing of ours may be left: every monitor and container of this run has an id with our pid.
	mark := []byte(fmt.Sprintf("mon-%d-", os.Getpid()))
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, mark) {
			fmt.Fprintf(os.Stderr, "left behind: %s: %q\n", p, b)
			code = 1
		}
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func binaries(t *testing.T) (mon, rt string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "monitor-bin")
		if binErr != nil {
			return
		}
		if rtBin, binErr = fixture.RuntimeBinary(binDir); binErr != nil {
			return
		}
		monitorBin, binErr = fixture.MonitorBinary(binDir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return monitorBin, rtBin
}

type ctr struct {
	t    *testing.T
	dir  string
	opts Options
	p    *Process
}

var idSeq int

// newCtr makes a bundle running args and the monitor options for it (not yet spawned).
func newCtr(t *testing.T, runtime string, terminal bool, args ...string) *ctr {
	mon, rt := binaries(t)
	if runtime != "" {
		rt = runtime
	}
	bundle, spec := fixture.NewBundle(t, args...)
	if terminal {
		spec.Process.Terminal = true
		if err := fixture.WriteSpec(bundle, spec); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	idSeq++
	id := fmt.Sprintf("mon-%d-%d", os.Getpid(), idSeq)
	c := &ctr{t: t, dir: dir, opts: Options{
		Binary: mon, Runtime: rt, RuntimeRoot: filepath.Join(dir, "rt"), RuntimeLog: filepath.Join(dir, "runtime.log"),
		ID: id, Bundle: bundle, PidFile: filepath.Join(dir, "pid"), ExitFile: filepath.Join(dir, "exit"),
		AttachSocket: filepath.Join(dir, "attach"), Terminal: terminal,
		LogDriver: LogJSONFile, LogPath: filepath.Join(dir, "ctr.log"), MonitorLog: filepath.Join(dir, "monitor.log"),
	}}
	if terminal {
		c.opts.ConsoleSocket = filepath.Join(dir, "console")
	}
	t.Cleanup(c.cleanup)
	return c
}

func (c *ctr) runtime(args ...string) error {
	a := append([]string{"--root", c.opts.RuntimeRoot}, args...)
	out, err := exec.Command(c.opts.Runtime, a...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", c.opts.Runtime, strings.Join(a, " "), err, out)
	}
	return nil
}

func (c *ctr) cleanup() {
	if c.p != nil && Alive(c.p.Pid, c.p.StartTime) {
		syscall.Kill(c.p.Pid, syscall.SIGKILL)
	}
	c.runtime("delete", "--force", c.opts.ID)
	if c.p != nil {
		waitGone(c.t, c.p.Pid, c.p.StartTime)
	}
	if b, err := os.ReadFile(c.opts.MonitorLog); err == nil && len(b) > 0 {
		c.t.Logf("monitor log: %s", b)
	}
}

func (c *ctr) spawn() {
	c.t.Helper()
	p, err := Spawn(context.Background(), c.opts)
	if err != nil {
		c.t.Fatal(err)
	}
	c.p = p
}

func (c *ctr) start() {
	c.t.Helper()
	if err := c.runtime("start", c.opts.ID); err != nil {
		c.t.Fatal(err)
	}
}

// wait waits for the exit file and then for the monitor to leave.
func (c *ctr) wait(timeout time.Duration) *Exit {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		e, err := ReadExit(c.opts.ExitFile)
		if err == nil {
			waitGone(c.t, c.p.Pid, c.p.StartTime)
			return e
		}
		if !errors.Is(err, os.ErrNotExist) {
			c.t.Fatal(err)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no exit file after %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitGone(t *testing.T, pid int, start uint64) {
	t.Helper()
	for i := 0; Alive(pid, start); i++ {
		if i == 500 {
			t.Errorf("process %d still there after 5 s", pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *ctr) logs(o LogOptions) string {
	c.t.Helper()
	o.Driver, o.Path = c.opts.LogDriver, c.opts.LogPath
	var b bytes.Buffer
	if err := ReadLogs(context.Background(), o, Copier(&b, &b, false)); err != nil {
		c.t.Fatal(err)
	}
	return b.String()
}

func fds(t *testing.T, pid int) []string {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		out = append(out, e.Name()+"->"+l)
	}
	return out
}

// TestLogsOutliveCaller spawns the monitor from a child process that exits at once; the
// container runs after that, and its output, exit code and time are all there.
func TestLogsOutliveCaller(t *testing.T) {
	for _, driver := range []string{LogJSONFile, LogK8sFile} {
		t.Run(driver, func(t *testing.T) {
			c := newCtr(t, "", false, "sh", "-c", "sleep 0.2; echo out; echo err >&2; printf 'no newline'; exit 7")
			c.opts.LogDriver = driver
			o, _ := json.Marshal(c.opts)
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "MONITOR_TEST_SPAWN="+string(o))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("spawning child: %v %s", err, out)
			}
			c.p = &Process{}
			if err := json.Unmarshal(out, c.p); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			c.start()
			st, err := Status(*c.p, c.opts.ExitFile)
			if err != nil || st.State != Running || !st.MonitorAlive {
				t.Errorf("status while running: %+v %v", st, err)
			}
			e := c.wait(10 * time.Second)
			if e.Code != 7 || e.Signal != 0 || e.Time.Before(before) || e.Time.After(time.Now()) {
				t.Errorf("exit %+v", e)
			}
			if st, err := Status(*c.p, c.opts.ExitFile); err != nil || st.State != Exited || st.Exit.Code != 7 {
				t.Errorf("status after exit: %+v %v", st, err)
			}
			var stdout, stderr bytes.Buffer
			var entries []Entry
			err = ReadLogs(context.Background(), LogOptions{Driver: driver, Path: c.opts.LogPath}, func(e Entry) error {
				entries = append(entries, e)
				return Copier(&stdout, &stderr, false)(e)
			})
			if err != nil || stdout.String() != "out\nno newline" || stderr.String() != "err\n" {
				t.Errorf("logs: %q %q %v", stdout.String(), stderr.String(), err)
			}
			if len(entries) != 3 || !entries[2].Partial || entries[0].Time.Before(before) {
				t.Errorf("entries %+v", entries)
			}
			if _, err := os.Stat(c.opts.AttachSocket); !os.IsNotExist(err) {
				t.Errorf("attach socket left behind: %v", err)
			}
		})
	}
}

// TestExitCommand: the hook runs after the exit file is written and the log is closed.
func TestExitCommand(t *testing.T) {
	c := newCtr(t, "", false, "sh", "-c", "echo last words")
	hook := filepath.Join(c.dir, "hook")
	c.opts.ExitCommand = []string{"/bin/sh", "-c", `cat "$0" "$1" > "$2.tmp" && mv "$2.tmp" "$2"`,
		c.opts.ExitFile, c.opts.LogPath, hook}
	c.spawn()
	c.start()
	c.wait(10 * time.Second)
	var b []byte
	for i := 0; i < 500; i++ {
		var err error
		if b, err = os.ReadFile(hook); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !bytes.Contains(b, []byte(`"exitCode":0`)) || !bytes.Contains(b, []byte(`"log":"last words\n"`)) {
		t.Errorf("the exit command saw %q", b)
	}
}

// TestRotationFollow: a follower started before the container sees every line in order while
// the monitor rotates the log under it; afterwards at most max-file files are left.
func TestRotationFollow(t *testing.T) {
	// About 70 bytes a record, 3 ms a line: a file lasts some 150 ms, so that a follower that
	// polls every 5 ms keeps up even on a loaded machine (one that falls more than max-file
	// files behind loses the files rotated away, as with Docker).
	const lines = 300
	c := newCtr(t, "", false, "sh", "-c", fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo line $i; i=$((i+1)); usleep 3000; done", lines))
	c.opts.LogMaxSize, c.opts.LogMaxFile = 4096, 3
	c.spawn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(ctx, LogOptions{Driver: LogJSONFile, Path: c.opts.LogPath, Follow: true, Poll: 5 * time.Millisecond,
			Stopped: func() bool { _, err := os.Stat(c.opts.ExitFile); return err == nil }}, Copier(&got, &got, false))
	}()
	c.start()
	if e := c.wait(30 * time.Second); e.Code != 0 {
		t.Errorf("exit %+v", e)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range lines {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got.String() != want.String() {
		g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Errorf("follow saw %d lines, want %d; line %d is %q, want %q", len(g)-1, len(w)-1, i, g[i], w[i])
				break
			}
		}
	}
	files, _ := filepath.Glob(c.opts.LogPath + "*")
	if len(files) != 3 {
		t.Errorf("log files %v, want 3", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() > 4096 {
			t.Errorf("%s: %v bytes, %v", f, st.Size(), err)
		}
	}
	// What is left is the newest contiguous part.
	rest := c.logs(LogOptions{})
	if !strings.HasSuffix(want.String(), rest) || len(rest) < 1024/80 {
		t.Errorf("after rotation: %q", rest)
	}
	if tail := c.logs(LogOptions{Tail: 2}); tail != fmt.Sprintf("line %d\nline %d\n", lines-2, lines-1) {
		t.Errorf("tail 2: %q", tail)
	}
}

// TestTerminalAttach attaches a pty the test opens (its slave plays the user's terminal) to a
// container with a terminal: window size, input, output, the exit status; then detach keys.
func TestTerminalAttach(t *testing.T) {
	c := newCtr(t, "", true, "sh", "-c", "read x; stty size; echo got:$x; exit 5")
	c.spawn()
	master, slave, err := console.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	if _, err := console.MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	resize := make(chan WindowSize, 1)
	resize <- WindowSize{Rows: 40, Cols: 100}
	res := make(chan error, 1)
	var exit *Exit
	go func() {
		var err error
		exit, err = Attach(context.Background(), c.opts.AttachSocket, AttachOptions{Stdin: slave, Stdout: slave, Resize: resize})
		res <- err
	}()
	waitAttached(t, c.p.Pid)
	c.start()
	if _, err := master.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, master, "got:hello")
	if !strings.Contains(out, "40 100") {
		t.Errorf("terminal output %q: no window size 40 100", out)
	}
	select {
	case err := <-res:
		if err != nil || exit == nil || exit.Code != 5 {
			t.Errorf("attach: %+v %v", exit, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach did not return after the container exited")
	}
	if e := c.wait(10 * time.Second); e.Code != 5 {
		t.Errorf("exit %+v", e)
	}
	if l := c.logs(LogOptions{}); !strings.Contains(l, "got:hello\r\n") {
		t.Errorf("log %q", l)
	}
}

// waitAttached waits until the monitor accepted a client (a second socket besides its listener).
func waitAttached(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		n := 0
		for _, f := range fds(t, pid) {
			if strings.Contains(f, "socket:") {
				n++
			}
		}
		if n >= 2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the monitor accepted no attach client")
}

func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var b []byte
	buf := make([]byte, 4096)
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !bytes.Contains(b, []byte(want)) {
		n, err := f.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			t.Fatalf("reading for %q: %v (got %q)", want, err, b)
		}
	}
	return string(b)
}

func TestDetach(t *testing.T) {
	c := newCtr(t, "", true, "sh", "-c", "cat")
	c.spawn()
	c.start()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	var out syncBuffer
	res := make(chan error, 1)
	go func() {
		_, err := Attach(context.Background(), c.opts.AttachSocket, AttachOptions{Stdin: pr, Stdout: &out, DetachKeys: []byte{16, 17}})
		res <- err
	}()
	pw.Write([]byte("one\r"))
	for i := 0; !strings.Contains(out.String(), "one\r\none\r\n") && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	pw.Write([]byte("\x10\x11"))
	select {
	case err := <-res:
		if !errors.Is(err, ErrDetached) {
			t.Errorf("attach: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("detach keys did not detach")
	}
	if st, err := Status(*c.p, c.opts.ExitFile); err != nil || st.State != Running {
		t.Errorf("status after detach: %+v %v", st, err)
	}
	if err := c.runtime("kill", c.opts.ID, "KILL"); err != nil {
		t.Fatal(err)
	}
	if e := c.wait(10 * time.Second); e.Code != 137 || e.Signal != 9 {
		t.Errorf("exit %+v", e)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStdinAttach sends input through the attach socket to a container without a terminal
// and closes its stdin.
func TestStdinAttach(t *testing.T) {
	c := newCtr(t, "", false, "sh", "-c", "read x; echo got:$x; cat; echo done >&2")
	c.opts.Stdin = true
	c.spawn()
	c.start()
	var stdout, stderr syncBuffer
	exit, err := Attach(context.Background(), c.opts.AttachSocket, AttachOptions{
		Stdin: strings.NewReader("hello\nworld\n"), CloseStdin: true, Stdout: &stdout, Stderr: &stderr})
	if err != nil || exit == nil || exit.Code != 0 {
		t.Fatalf("attach: %+v %v", exit, err)
	}
	if stdout.String() != "got:hello\nworld\n" || stderr.String() != "done\n" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	c.wait(10 * time.Second)
}

// TestMonitorKilled: with the monitor gone the container runs on unwatched (Running, no
// monitor); once it ends too, its status is Unknown, and nothing blocks.
func TestMonitorKilled(t *testing.T) {
	c := newCtr(t, "", false, "sleep", "1000")
	c.spawn()
	c.start()
	res := make(chan error, 1)
	var exit *Exit
	go func() {
		var err error
		exit, err = Attach(context.Background(), c.opts.AttachSocket, AttachOptions{Stdout: io.Discard})
		res <- err
	}()
	waitAttached(t, c.p.Pid)
	if err := syscall.Kill(c.p.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c.p.Pid, c.p.StartTime)
	select {
	case err := <-res:
		if err != nil || exit != nil {
			t.Errorf("attach when the monitor died: %+v %v", exit, err)
		}
	case <-time.After(5 * time.Second):
		t.Error("attach hangs after the monitor died")
	}
	st, err := Status(*c.p, c.opts.ExitFile)
	if err != nil || st.State != Running || st.MonitorAlive {
		t.Errorf("status with the monitor killed: %+v %v", st, err)
	}
	if err := syscall.Kill(c.p.InitPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c.p.InitPid, c.p.InitStartTime)
	st, err = Status(*c.p, c.opts.ExitFile)
	if err != nil || st.State != Unknown || st.Exit != nil {
		t.Errorf("status with monitor and init gone: %+v %v", st, err)
	}
	// Attach to a dead monitor fails at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Attach(ctx, c.opts.AttachSocket, AttachOptions{}); err == nil || ctx.Err() != nil {
		t.Errorf("attach to a dead monitor: %v", err)
	}
}

// TestCreateFails: the runtime's own message comes back, and no monitor stays.
func TestCreateFails(t *testing.T) {
	c := newCtr(t, "", false, "true")
	if err := os.Remove(filepath.Join(c.opts.Bundle, "config.json")); err != nil {
		t.Fatal(err)
	}
	_, err := Spawn(context.Background(), c.opts)
	var ce *CreateError
	if !errors.As(err, &ce) || ce.Status == 0 || !strings.Contains(ce.Message, "config.json") {
		t.Fatalf("spawn with a broken bundle: %v", err)
	}
	for _, p := range []string{c.opts.AttachSocket, c.opts.ExitFile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if _, err := Spawn(context.Background(), Options{Binary: c.opts.Binary}); err == nil {
		t.Error("spawn without options: no error")
	}
	o := c.opts
	o.LogDriver = "syslog"
	if _, err := Spawn(context.Background(), o); err == nil {
		t.Error("unknown log driver: no error")
	}
}

// TestRunc runs one container under runc, with the k8s-file driver.
func TestRunc(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("no runc")
	}
	c := newCtr(t, runc, false, "sh", "-c", "echo from runc; exit 3")
	c.opts.LogDriver = LogK8sFile
	c.spawn()
	c.start()
	if e := c.wait(10 * time.Second); e.Code != 3 {
		t.Errorf("exit %+v", e)
	}
	if l := c.logs(LogOptions{}); l != "from runc\n" {
		t.Errorf("log %q", l)
	}
}

// TestMonitorFds: the monitor holds only what it needs, and the container's init only its stdio.
func TestMonitorFds(t *testing.T) {
	c := newCtr(t, "", false, "sleep", "1000")
	c.opts.Stdin = true
	c.spawn()
	c.start()
	var init []string
	for i := 0; i < 100; i++ {
		// Until it execs, the init still holds the runtime's exec fifo and sync socket.
		if init = fds(t, c.p.InitPid); len(init) == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(init) != 3 {
		t.Errorf("init fds %v", init)
	}
	// 0-2; signalfd, stdout and stderr pipes, stdin pipe, the log, the attach listener.
	var mon []string
	for i := 0; i < 100; i++ {
		// The sync pipe is closed just after the message Spawn waited for.
		if mon = fds(t, c.p.Pid); len(mon) == 9 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(mon) != 9 {
		t.Errorf("monitor fds %v", mon)
	}
	for _, f := range mon {
		if strings.Contains(f, "->/dev/pts") || strings.HasSuffix(f, "pid") {
			t.Errorf("monitor holds %s", f)
		}
	}
	// sleep as pid 1 of its namespace ignores SIGTERM.
	if err := c.runtime("kill", c.opts.ID, "KILL"); err != nil {
		t.Fatal(err)
	}
	if e := c.wait(10 * time.Second); e.Signal != int(syscall.SIGKILL) || e.Code != 137 {
		t.Errorf("exit %+v", e)
	}
}

// TestLongLinesAndSlowClient: a line longer than 16 KiB becomes partial records as Docker cuts
// it; an attach client that reads nothing is dropped and does not hold the container up.
func TestLongLinesAndSlowClient(t *testing.T) {
	c := newCtr(t, "", false, "sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; head -c 3000000 /dev/zero >&2; echo end")
	c.spawn()
	conn, err := net.Dial("unix", c.opts.AttachSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitAttached(t, c.p.Pid)
	c.start()
	c.wait(20 * time.Second)
	var entries []Entry
	var stderr int
	err = ReadLogs(context.Background(), LogOptions{Driver: LogJSONFile, Path: c.opts.LogPath}, func(e Entry) error {
		if e.Stream == "stderr" {
			stderr += len(e.Data)
			return nil
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var partial []bool
	for _, e := range entries {
		sizes = append(sizes, len(e.Data))
		partial = append(partial, e.Partial)
	}
	if fmt.Sprint(sizes, partial) != "[16384 16384 7233 4] [true true false false]" {
		t.Errorf("records %v partial %v", sizes, partial)
	}
	if stderr != 3000000 {
		t.Errorf("stderr: %d bytes logged", stderr)
	}
	// The client was dropped: reading gives what was queued, then EOF, and no exit frame.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if err != nil || n > 4<<20 {
		t.Errorf("slow client: read %d bytes, %v", n, err)
	}
}

// TestSpawnTimeout: a runtime that never finishes its create is killed with its monitor when the
// caller gives up.
func TestSpawnTimeout(t *testing.T) {
	c := newCtr(t, "", false, "true")
	o := c.opts // the clean-up still deletes with the real runtime
	o.Runtime = filepath.Join(c.dir, "hanging-runtime")
	if err := os.WriteFile(o.Runtime, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Spawn(ctx, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spawn with a hanging runtime: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("spawn took %v", d)
	}
	for i := 0; ; i++ {
		left := false
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(c.opts.ID)) {
				left = true
			}
		}
		if !left {
			break
		}
		if i == 100 {
			t.Fatal("the monitor or its runtime is still there")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
