package oci

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/console"
	"github.com/berth-dev/berth/runtime/nsexec"
	"github.com/berth-dev/berth/test/fixture"
)

// berthRuntime is the berth-runtime binary under test.
var berthRuntime string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping runtime/oci tests: not root")
		return 0
	}
	// As a monitor does: the containers that a runtime binary starts and leaves behind become
	// our children when it exits, so that their exit status is ours to read.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Println(err)
		return 1
	}
	dir, err := os.MkdirTemp("", "berth-oci-bin")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if berthRuntime, err = fixture.RuntimeBinary(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	return m.Run()
}

// runtimes are the implementations every test runs against, each with its own state root.
func runtimes(t *testing.T) []struct {
	name string
	rt   func(t *testing.T) Runtime
} {
	out := []struct {
		name string
		rt   func(t *testing.T) Runtime
	}{
		// A library caller in a binary without the nsexec constructor names one that has it.
		{"library-exe", func(t *testing.T) Runtime {
			return NewLibrary(LibraryConfig{Root: t.TempDir(), Exe: berthRuntime})
		}},
		{"berth-runtime", func(t *testing.T) Runtime { return mustBinary(t, berthRuntime) }},
	}
	if nsexec.HasConstructor {
		out = append(out, struct {
			name string
			rt   func(t *testing.T) Runtime
		}{"library", func(t *testing.T) Runtime { return NewLibrary(LibraryConfig{Root: t.TempDir()}) }})
	}
	if _, err := exec.LookPath("runc"); err == nil {
		out = append(out, struct {
			name string
			rt   func(t *testing.T) Runtime
		}{"runc", func(t *testing.T) Runtime { return mustBinary(t, "runc") }})
	} else {
		t.Log("runc not installed: not testing it")
	}
	if _, err := exec.LookPath("crun"); err == nil {
		out = append(out, struct {
			name string
			rt   func(t *testing.T) Runtime
		}{"crun", func(t *testing.T) Runtime { return mustBinary(t, crunWrapper(t)) }})
	}
	return out
}

// crunWrapper returns a script that runs crun where it works on this hybrid cgroup host: in a
// private mount namespace in which the cgroup2 controllers file reads empty (crun 1.8 refuses a
// host whose cgroup2 mount owns a controller). The host is not changed.
func crunWrapper(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctl := "/sys/fs/cgroup/unified/cgroup.controllers"
	if _, err := os.Stat(ctl); err != nil {
		ctl = "" // a pure v2 host: crun runs as it is
	}
	script := "#!/bin/sh\nexec crun \"$@\"\n"
	if ctl != "" {
		script = fmt.Sprintf("#!/bin/sh\nexec unshare -m --propagation private sh -c 'mount --bind %s %s && exec crun \"$@\"' crun \"$@\"\n", empty, ctl)
	}
	path := filepath.Join(dir, "crun")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustBinary(t *testing.T, path string) Runtime {
	b, err := NewBinary(BinaryConfig{Path: path, Root: t.TempDir(), TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forEach runs f as a subtest for every runtime.
func forEach(t *testing.T, f func(t *testing.T, rt Runtime)) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) { f(t, r.rt(t)) })
	}
}

func uniqueID(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := strings.NewReplacer("/", "-", " ", "-", "_", "-").Replace(t.Name())
	if len(n) > 40 {
		n = n[len(n)-40:]
	}
	return "oci-" + strings.Trim(n, "-") + "-" + hex.EncodeToString(b)
}

// bundle makes a busybox bundle that runs args; edit changes its spec first. ociVersion 1.0.2:
// the version every runtime here accepts.
func bundle(t *testing.T, edit func(*specs.Spec), args ...string) (string, *specs.Spec) {
	dir, spec := fixture.NewBundle(t, args...)
	spec.Version = "1.0.2"
	if edit != nil {
		edit(spec)
	}
	if err := fixture.WriteSpec(dir, spec); err != nil {
		t.Fatal(err)
	}
	return dir, spec
}

// waitPid reaps pid (our child, or our orphan as a subreaper) and returns its exit code.
func waitPid(t *testing.T, pid int) int {
	t.Helper()
	type res struct {
		ws  unix.WaitStatus
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			ch <- res{ws, err}
			return
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("wait for %d: %v", pid, r.err)
		}
		if r.ws.Signaled() {
			return 128 + int(r.ws.Signal())
		}
		return r.ws.ExitStatus()
	case <-time.After(20 * time.Second):
		t.Fatalf("process %d did not exit", pid)
		return -1
	}
}

// cleanup deletes the container when the test ends, whatever state it is in, and reaps it.
func cleanup(t *testing.T, rt Runtime, id string, pid *int) {
	t.Cleanup(func() {
		ctx := context.Background()
		_ = rt.Resume(ctx, id)
		if err := rt.Delete(ctx, id, true); err != nil {
			t.Errorf("cleanup: delete %s: %v", id, err)
		}
		if *pid > 0 {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(*pid, &ws, unix.WNOHANG, nil)
		}
	})
}

func pipe(t *testing.T) (r, w *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func wantStatus(t *testing.T, rt Runtime, id, want string) *State {
	t.Helper()
	st, err := rt.State(context.Background(), id)
	if err != nil {
		t.Fatalf("state %s: %v", id, err)
	}
	if string(st.Status) != want {
		t.Fatalf("state %s: status %q, want %q", id, st.Status, want)
	}
	return st
}

// TestLifecyclePipes: create with stdio pipes, state, start, the process's own output and exit
// code (reaped by us), delete, and nothing left.
func TestLifecyclePipes(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		dir, _ := bundle(t, nil, "sh", "-c", "read x; echo out:$x; echo err >&2; exit 3")
		id := uniqueID(t)
		inR, inW := pipe(t)
		outR, outW := pipe(t)
		errR, errW := pipe(t)
		pid, err := rt.Create(ctx, id, CreateOpts{Bundle: dir, Stdin: inR, Stdout: outW, Stderr: errW})
		cleanup(t, rt, id, &pid)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		inR.Close()
		outW.Close()
		errW.Close()
		st := wantStatus(t, rt, id, "created")
		if st.Pid != pid || st.ID != id || st.Bundle != dir {
			t.Errorf("state: pid %d id %q bundle %q, want %d %q %q", st.Pid, st.ID, st.Bundle, pid, id, dir)
		}
		list, err := rt.List(ctx)
		if err != nil || !slices.ContainsFunc(list, func(s State) bool { return s.ID == id }) {
			t.Errorf("list: %v, %v; want %s in it", list, err, id)
		}
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		if _, err := inW.Write([]byte("hi\n")); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(outR)
		errOut, _ := io.ReadAll(errR)
		if code := waitPid(t, pid); code != 3 {
			t.Errorf("exit code %d, want 3", code)
		}
		if string(out) != "out:hi\n" || string(errOut) != "err\n" {
			t.Errorf("stdout %q stderr %q, want %q and %q", out, errOut, "out:hi\n", "err\n")
		}
		wantStatus(t, rt, id, "stopped")
		if err := rt.Delete(ctx, id, false); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := rt.State(ctx, id); !errors.Is(err, ErrNotExist) {
			t.Fatalf("state after delete: %v, want ErrNotExist", err)
		}
	})
}

// TestExtraFiles: files given to create and exec reach the process at fd 3 on, and nothing
// else of ours does.
func TestExtraFiles(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		dir, spec := bundle(t, nil, "sh", "-c", "echo init >&3; echo four >&4; ls /proc/self/fd; sleep 1000")
		id := uniqueID(t)
		r3, w3 := pipe(t)
		r4, w4 := pipe(t)
		outR, outW := pipe(t)
		pid, err := rt.Create(ctx, id, CreateOpts{Bundle: dir, Stdout: outW, ExtraFiles: []*os.File{w3, w4}})
		cleanup(t, rt, id, &pid)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		w3.Close()
		w4.Close()
		outW.Close()
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		line := func(r *os.File) string {
			b := make([]byte, 64)
			n, _ := r.Read(b)
			return string(b[:n])
		}
		if got := line(r3); got != "init\n" {
			t.Errorf("fd 3 of init: %q", got)
		}
		if got := line(r4); got != "four\n" {
			t.Errorf("fd 4 of init: %q", got)
		}
		// ls lists 0-2, 3 and 4, and its own directory fd: nothing of the runtime's.
		if fds := strings.Fields(line(outR)); len(fds) > 6 {
			t.Errorf("init has fds %v, want 0-4 and ls's own", fds)
		}
		proc := *spec.Process
		proc.Args = []string{"sh", "-c", "echo exec >&3"}
		e3r, e3w := pipe(t)
		epid, err := rt.Exec(ctx, id, ExecOpts{Process: &proc, ExtraFiles: []*os.File{e3w}})
		if err != nil {
			t.Fatalf("exec: %v", err)
		}
		e3w.Close()
		if got := line(e3r); got != "exec\n" {
			t.Errorf("fd 3 of exec: %q", got)
		}
		waitPid(t, epid)
		if err := rt.Kill(ctx, id, unix.SIGKILL, true); err != nil {
			t.Fatal(err)
		}
		waitPid(t, pid)
		pid = 0
	})
}

// readAll reads a pty master until the slave side is gone (EIO) or the deadline.
func readAll(t *testing.T, m *os.File) string {
	t.Helper()
	var b bytes.Buffer
	buf := make([]byte, 4096)
	_ = m.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := m.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func listen(t *testing.T) *console.Listener {
	// Short: a socket path holds 107 bytes, and test temp dirs are long.
	dir, err := os.MkdirTemp("", "oci-con")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := console.Listen(filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestConsoleSocket: a container with a terminal sends its pty master to the console socket;
// the process sees a tty, and its output comes out of the master.
func TestConsoleSocket(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		dir, _ := bundle(t, func(s *specs.Spec) { s.Process.Terminal = true },
			"sh", "-c", "tty; stty size; echo done")
		id := uniqueID(t)
		l := listen(t)
		pid, err := rt.Create(ctx, id, CreateOpts{Bundle: dir, ConsoleSocket: l.Path()})
		cleanup(t, rt, id, &pid)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		master, _, err := l.Receive(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		if err := console.SetSize(int(master.Fd()), 24, 80); err != nil {
			t.Fatal(err)
		}
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		out := readAll(t, master)
		if code := waitPid(t, pid); code != 0 {
			t.Errorf("exit code %d, output %q", code, out)
		}
		if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "24 80") || !strings.Contains(out, "done") {
			t.Errorf("terminal output %q: want the pty's name, size 24 80 and done", out)
		}
	})
}

// running creates and starts a container whose init sleeps, and returns its id, pid and spec.
func running(t *testing.T, rt Runtime) (string, *int, *specs.Spec) {
	t.Helper()
	dir, spec := bundle(t, nil, "sleep", "1000")
	id := uniqueID(t)
	pid := new(int)
	var err error
	*pid, err = rt.Create(context.Background(), id, CreateOpts{Bundle: dir})
	cleanup(t, rt, id, pid)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := rt.Start(context.Background(), id); err != nil {
		t.Fatalf("start: %v", err)
	}
	return id, pid, spec
}

// TestExec: a process exec'd with pipes and one with a terminal through the console socket;
// both are ours to reap, with their own exit codes.
func TestExec(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		id, pid, spec := running(t, rt)
		proc := *spec.Process
		proc.Args = []string{"sh", "-c", "echo exec:$(cat); exit 7"}
		inR, inW := pipe(t)
		outR, outW := pipe(t)
		epid, err := rt.Exec(ctx, id, ExecOpts{Process: &proc, Stdin: inR, Stdout: outW, Stderr: outW})
		if err != nil {
			t.Fatalf("exec: %v", err)
		}
		inR.Close()
		outW.Close()
		if _, err := inW.Write([]byte("in")); err != nil {
			t.Fatal(err)
		}
		inW.Close()
		out, _ := io.ReadAll(outR)
		if code := waitPid(t, epid); code != 7 {
			t.Errorf("exec exit code %d, want 7", code)
		}
		if string(out) != "exec:in\n" {
			t.Errorf("exec output %q", out)
		}

		tproc := *spec.Process
		tproc.Terminal = true
		tproc.Args = []string{"sh", "-c", "tty; exit 5"}
		l := listen(t)
		epid, err = rt.Exec(ctx, id, ExecOpts{Process: &tproc, ConsoleSocket: l.Path()})
		if err != nil {
			t.Fatalf("exec with a terminal: %v", err)
		}
		master, _, err := l.Receive(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		tout := readAll(t, master)
		if code := waitPid(t, epid); code != 5 {
			t.Errorf("exec -t exit code %d, want 5 (output %q)", code, tout)
		}
		if !strings.Contains(tout, "/dev/pts/") {
			t.Errorf("exec -t output %q, want a pty name", tout)
		}

		pids, err := rt.Ps(ctx, id)
		if err != nil || !slices.Contains(pids, *pid) {
			t.Errorf("ps: %v, %v; want the init %d", pids, err, *pid)
		}
		if err := rt.Kill(ctx, id, unix.SIGKILL, false); err != nil {
			t.Fatalf("kill: %v", err)
		}
		if code := waitPid(t, *pid); code != 128+9 {
			t.Errorf("init exit code %d, want 137", code)
		}
		*pid = 0
		if err := rt.Delete(ctx, id, false); err != nil {
			t.Fatalf("delete: %v", err)
		}
	})
}

// TestUpdateStats: limits changed on a live container show in its counters.
func TestUpdateStats(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		id, _, _ := running(t, rt)
		limit := int64(77)
		if err := rt.Update(ctx, id, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}); err != nil {
			t.Fatalf("update: %v", err)
		}
		s, err := rt.Stats(ctx, id)
		if isCrun(rt) && errors.Is(err, errors.ErrUnsupported) {
			t.Logf("crun has no stats: %v", err)
			return
		}
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		if s.Pids.Current < 1 || s.Pids.Limit != 77 {
			t.Errorf("stats pids %+v, want current >= 1 and limit 77", s.Pids)
		}
	})
}

// TestEvents: stats every interval and one "oom" event when the memory controller kills a
// process of the container, until the container stops.
func TestEvents(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		limit := int64(32 << 20)
		dir, _ := bundle(t, func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		}, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; tail /dev/zero; sleep 0.5")
		id := uniqueID(t)
		pid, err := rt.Create(ctx, id, CreateOpts{Bundle: dir})
		cleanup(t, rt, id, &pid)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		evCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		evs := make(chan Event, 1000)
		done := make(chan error, 1)
		go func() { done <- rt.Events(evCtx, id, 200*time.Millisecond, func(e Event) { evs <- e }) }()
		time.Sleep(300 * time.Millisecond)
		if err := os.WriteFile(filepath.Join(dir, "rootfs", "tmp", "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		err = <-done
		if isCrun(rt) && errors.Is(err, errors.ErrUnsupported) {
			t.Logf("crun has no events: %v", err)
			return
		}
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		close(evs)
		var nStats, nOOM int
		for e := range evs {
			switch {
			case e.Type == "stats" && e.Stats != nil && e.ID == id:
				nStats++
			case e.Type == "oom" && e.ID == id:
				nOOM++
			default:
				t.Errorf("unexpected event %+v", e)
			}
		}
		if nStats < 1 || nOOM != 1 {
			t.Errorf("%d stats and %d oom events, want some stats and 1 oom", nStats, nOOM)
		}
		waitPid(t, pid)
		pid = 0
		if err := rt.Events(ctx, id, time.Second, func(Event) {}); !errors.Is(err, ErrNotRunning) {
			t.Errorf("events of a stopped container: %v, want ErrNotRunning", err)
		}
	})
}

// TestEventsCancel: Events of a running container ends with its context.
func TestEventsCancel(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		id, _, _ := running(t, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		defer cancel()
		n := 0
		start := time.Now()
		err := rt.Events(ctx, id, 100*time.Millisecond, func(Event) { n++ })
		if isCrun(rt) && errors.Is(err, errors.ErrUnsupported) {
			return
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("events: %v, want the context's deadline", err)
		}
		if d := time.Since(start); d > 5*time.Second || n < 2 {
			t.Errorf("events returned after %s with %d events", d, n)
		}
	})
}

func openFds(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+" -> "+target)
	}
	return out
}

// TestParallelNoLeaks runs containers through their whole life from several goroutines at once,
// with an exec each, as a long-lived engine or monitor does: every one works, and the caller
// is left with no more fds than before (the library runs in this very process).
func TestParallelNoLeaks(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		dir, spec := bundle(t, nil, "sleep", "1000")
		proc := *spec.Process
		proc.Args = []string{"true"}
		one := func(i int) error {
			id := fmt.Sprintf("%s-%d", uniqueID(t), i)
			pid, err := rt.Create(ctx, id, CreateOpts{Bundle: dir})
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			defer func() { _ = rt.Delete(ctx, id, true) }()
			if err := rt.Start(ctx, id); err != nil {
				return fmt.Errorf("start: %w", err)
			}
			epid, err := rt.Exec(ctx, id, ExecOpts{Process: &proc})
			if err != nil {
				return fmt.Errorf("exec: %w", err)
			}
			var ws unix.WaitStatus
			if _, err := unix.Wait4(epid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
				return fmt.Errorf("exec'd process: %v, status %v", err, ws)
			}
			if err := rt.Kill(ctx, id, unix.SIGKILL, false); err != nil {
				return fmt.Errorf("kill: %w", err)
			}
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
				return fmt.Errorf("wait: %w", err)
			}
			return rt.Delete(ctx, id, false)
		}
		// One round first: whatever the runtime sets up once (package state, cached files) is
		// not a leak.
		if err := one(0); err != nil {
			t.Fatal(err)
		}
		before := openFds(t)
		const n = 6
		errs := make(chan error, n)
		for i := 1; i <= n; i++ {
			go func() { errs <- one(i) }()
		}
		for i := 0; i < n; i++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if after := openFds(t); len(after) != len(before) {
			t.Errorf("fds before: %v\nafter: %v", before, after)
		}
		if list, err := rt.List(ctx); err != nil || len(list) != 0 {
			t.Errorf("left in the root: %v, %v", list, err)
		}
	})
}

// TestErrors: each misuse gives the same error value from every runtime.
func TestErrors(t *testing.T) {
	forEach(t, func(t *testing.T, rt Runtime) {
		ctx := context.Background()
		id, pid, spec := running(t, rt)
		proc := *spec.Process
		proc.Args = []string{"true"}
		dir, _ := bundle(t, nil, "true")
		steps := []struct {
			name string
			do   func() error
			want error
		}{
			{"state of a missing container", func() error { _, err := rt.State(ctx, "missing-"+id); return err }, ErrNotExist},
			{"start of a missing container", func() error { return rt.Start(ctx, "missing-"+id) }, ErrNotExist},
			{"kill of a missing container", func() error { return rt.Kill(ctx, "missing-"+id, unix.SIGTERM, false) }, ErrNotExist},
			{"delete of a missing container", func() error { return rt.Delete(ctx, "missing-"+id, false) }, ErrNotExist},
			{"delete --force of a missing container", func() error { return rt.Delete(ctx, "missing-"+id, true) }, nil},
			{"exec in a missing container", func() error { _, err := rt.Exec(ctx, "missing-"+id, ExecOpts{Process: &proc}); return err }, ErrNotExist},
			{"create of a taken id", func() error { _, err := rt.Create(ctx, id, CreateOpts{Bundle: dir}); return err }, ErrExist},
			{"start of a running container", func() error { return rt.Start(ctx, id) }, ErrNotCreated},
			{"delete of a running container", func() error { return rt.Delete(ctx, id, false) }, ErrNotStopped},
			{"resume of a running container", func() error { return rt.Resume(ctx, id) }, ErrNotPaused},
			{"pause", func() error { return rt.Pause(ctx, id) }, nil},
			{"exec in a paused container", func() error { _, err := rt.Exec(ctx, id, ExecOpts{Process: &proc}); return err }, ErrPaused},
			{"resume", func() error { return rt.Resume(ctx, id) }, nil},
			{"kill", func() error {
				if err := rt.Kill(ctx, id, unix.SIGKILL, false); err != nil {
					return err
				}
				waitPid(t, *pid)
				*pid = 0
				return nil
			}, nil},
			{"kill of a stopped container", func() error { return rt.Kill(ctx, id, unix.SIGTERM, false) }, ErrNotRunning},
			{"exec in a stopped container", func() error { _, err := rt.Exec(ctx, id, ExecOpts{Process: &proc}); return err }, ErrNotRunning},
			{"pause of a stopped container", func() error { return rt.Pause(ctx, id) }, ErrNotRunning},
			{"start of a stopped container", func() error { return rt.Start(ctx, id) }, ErrNotRunning},
			{"delete of a stopped container", func() error { return rt.Delete(ctx, id, false) }, nil},
		}
		for _, s := range steps {
			err := s.do()
			if isCrun(rt) && s.name == "resume of a running container" && err == nil {
				// crun 1.8 thaws a running container without complaint.
				continue
			}
			if s.want == nil {
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				continue
			}
			if !errors.Is(err, s.want) {
				t.Errorf("%s: got %v, want %v", s.name, err, s.want)
			}
			t.Logf("%s: %v", s.name, err)
		}
	})
}

func isCrun(rt Runtime) bool { return filepath.Base(rt.Name()) == "crun" }

// TestLibraryWithoutConstructor: a binary built without cgo cannot be its own child; the
// library says so instead of starting a second copy of the caller.
func TestLibraryWithoutConstructor(t *testing.T) {
	if nsexec.HasConstructor {
		t.Skip("built with cgo: run with CGO_ENABLED=0 to test this")
	}
	lib := NewLibrary(LibraryConfig{Root: t.TempDir()})
	dir, _ := bundle(t, nil, "true")
	id := uniqueID(t)
	pid, err := lib.Create(context.Background(), id, CreateOpts{Bundle: dir})
	cleanup(t, lib, id, &pid)
	if err == nil || !strings.Contains(err.Error(), "without cgo") {
		t.Fatalf("create: %v, want an error saying the binary was built without cgo", err)
	}
	if _, err := lib.State(context.Background(), id); !errors.Is(err, ErrNotExist) {
		t.Fatalf("state after the failed create: %v, want ErrNotExist", err)
	}
}

// TestSharedRoot: the library and berth-runtime keep the same state, so one manages what the
// other made.
func TestSharedRoot(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	cfg := LibraryConfig{Root: root}
	if !nsexec.HasConstructor {
		cfg.Exe = berthRuntime
	}
	lib := NewLibrary(cfg)
	bin, err := NewBinary(BinaryConfig{Path: berthRuntime, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := bundle(t, nil, "sleep", "1000")
	id := uniqueID(t)
	pid, err := lib.Create(ctx, id, CreateOpts{Bundle: dir})
	cleanup(t, lib, id, &pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := bin.Start(ctx, id); err != nil {
		t.Fatalf("berth-runtime start of a library container: %v", err)
	}
	wantStatus(t, lib, id, "running")
	if err := bin.Kill(ctx, id, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	waitPid(t, pid)
	pid = 0
	if err := lib.Delete(ctx, id, false); err != nil {
		t.Fatal(err)
	}
}

// TestKindOf pins the mapping of runtime messages (berth-runtime's, runc 1.1's, crun 1.8's) to
// error values.
func TestKindOf(t *testing.T) {
	tests := []struct {
		msg  string
		want error
	}{
		{"container does not exist", ErrNotExist},
		{"container c1 does not exist", ErrNotExist},
		{"exec failed: container does not exist", ErrNotExist},
		{"error opening file `/run/crun/c1/status`: No such file or directory", ErrNotExist},
		{"cannot open directory '/run/crun/c1': No such file or directory", ErrNotExist},
		{"runc create failed: container with given ID already exists", ErrExist},
		{"container `c1` already exists", ErrExist},
		{"container with id c1 already exists", ErrExist},
		{"container not running", ErrNotRunning},
		{"container with id c1 is not running", ErrNotRunning},
		{"exec failed: cannot exec in a stopped container", ErrNotRunning},
		{"cannot start a container that has stopped", ErrNotRunning},
		{"cannot start an already running container", ErrNotCreated},
		{"cannot open `/run/crun/c1/exec.fifo`: No such file or directory", ErrNotCreated},
		{"cannot delete container c1 that is not stopped: running", ErrNotStopped},
		{"cannot delete container c1 that is not stopped: paused", ErrNotStopped},
		{"the container `c1` is not in `created` or `stopped` state", ErrNotStopped},
		{"exec failed: cannot exec in a paused container (use --ignore-paused to override)", ErrPaused},
		{"cannot start a container in the paused state", ErrPaused},
		{"container not paused", ErrNotPaused},
		{"container c1 is running, not paused", ErrNotPaused},
		{"cannot pause container c1: the container has no cgroup (rootless, without a writable cgroup)", ErrNoCgroup},
		{"open pidfd: No such process", ErrNotRunning},
		{"the container `c1` is paused", ErrPaused},
		{"container paused-1 is stopped, not running", ErrNotRunning},
		{"container not-running-1 does not exist", ErrNotExist},
		{"cannot delete container already-exists that is not stopped: running", ErrNotStopped},
		{"unknown command events", errors.ErrUnsupported},
		{"open /x/config.json: permission denied", nil},
	}
	for _, tt := range tests {
		id := "c1"
		for _, w := range strings.Fields(tt.msg) {
			if strings.Count(w, "-") == 1 && !strings.HasPrefix(w, "--") {
				id = w // the tests' container names with a dash
			}
		}
		if got := kindOf(tt.msg, id); got != tt.want {
			t.Errorf("kindOf(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

// TestNew picks the implementation by the configured runtime name.
func TestNew(t *testing.T) {
	for _, name := range []string{"", "library"} {
		rt, err := New(name, t.TempDir())
		if _, ok := rt.(*Library); err != nil || !ok {
			t.Errorf("New(%q): %T, %v; want the library", name, rt, err)
		}
	}
	rt, err := New(berthRuntime, t.TempDir())
	if b, ok := rt.(*Binary); err != nil || !ok || b.Name() != berthRuntime {
		t.Errorf("New(%q): %T, %v; want that binary", berthRuntime, rt, err)
	}
	if _, err := New("no-such-runtime", ""); err == nil {
		t.Error("New of a missing binary succeeded")
	}
}

func TestWithoutID(t *testing.T) {
	tests := []struct{ msg, id, want string }{
		{"container c does not exist", "c", "container ID does not exist"},
		{"container `c` already exists", "c", "container `ID` already exists"},
		{"cannot open `/run/crun/c/exec.fifo`", "c", "cannot open `/run/crun/ID/exec.fifo`"},
		{"container c.1 is paused, c.10 too", "c.1", "container ID is paused, c.10 too"},
		{"no id here", "", "no id here"},
	}
	for _, tt := range tests {
		if got := withoutID(tt.msg, tt.id); got != tt.want {
			t.Errorf("withoutID(%q, %q) = %q, want %q", tt.msg, tt.id, got, tt.want)
		}
	}
}

// TestBinaryErrorText: a failed command's error carries the runtime's own message and exit code.
func TestBinaryErrorText(t *testing.T) {
	b := mustBinary(t, berthRuntime)
	_, err := b.State(context.Background(), "no-such")
	var e *Error
	if !errors.As(err, &e) || e.ExitCode != 1 || !strings.Contains(e.Msg, "no-such does not exist") || e.Command != "state" {
		t.Fatalf("state of a missing container: %#v", err)
	}
	if _, err := NewBinary(BinaryConfig{Path: "no-such-runtime-binary"}); err == nil {
		t.Fatal("NewBinary of a missing binary succeeded")
	}
	bad, err := NewBinary(BinaryConfig{Path: berthRuntime, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Create(context.Background(), "x", CreateOpts{Bundle: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("create from an empty bundle: %v, want an error naming config.json", err)
	}
}
