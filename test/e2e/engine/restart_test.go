package engine_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Restart policies carried out with no daemon: the monitor's exit command
// decides, waits the back-off and starts the container under a new
// monitor (engine/container_restart_policy.go).

func (e *env) field(ref, format string) string {
	e.t.Helper()
	return e.must("inspect", "-f", format, ref)
}

// crash kills a container's init from outside berth, as a crash would.
func (e *env) crash(ref string) int {
	e.t.Helper()
	pid, err := strconv.Atoi(e.field(ref, "{{.State.Pid}}"))
	if err != nil || pid <= 0 {
		e.t.Fatalf("pid of %s: %q", ref, e.field(ref, "{{.State.Pid}}"))
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		e.t.Fatalf("kill %d: %v", pid, err)
	}
	return pid
}

// runningAgain waits until ref runs under another pid than old.
func (e *env) runningAgain(ref string, old int, d time.Duration) int {
	e.t.Helper()
	var pid int
	waitFor(e.t, ref+" running again", d, func() bool {
		f := strings.Fields(e.field(ref, "{{.State.Status}} {{.State.Pid}}"))
		pid, _ = strconv.Atoi(f[len(f)-1])
		return f[0] == "running" && pid > 0 && pid != old
	})
	return pid
}

func TestRestartPolicyBadInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ args, want string }{
		{"--restart bogus", "unknown policy 'bogus'"},
		{"--restart on-failure:x", "maximum retry count must be an integer"},
		{"--restart always:3", "maximum retry count can only be used with 'on-failure'"},
		{"--restart on-failure:-1", "maximum retry count cannot be negative"},
		{"--restart :3", "no policy provided before colon"},
		{"--rm --restart always", "conflicting options: --restart and --rm"},
	} {
		for _, verb := range []string{"run", "create"} {
			args := append(append([]string{verb}, strings.Fields(tc.args)...), "busybox", "true")
			out, errOut, code := e.berth(args...)
			if code != 125 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || out != "" {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want 125 and one line with %q", verb, tc.args, code, out, errOut, tc.want)
			}
		}
	}
	if ids := e.must("ps", "-aq"); ids != "" {
		t.Errorf("bad --restart left containers: %q", ids)
	}
	// --rm with the policy "no" is fine, as in Docker.
	e.must("run", "--rm", "--restart", "no", "busybox", "true")
}

func TestRestartPolicyInspect(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ flag, want string }{
		{"", "no 0"},
		{"--restart=no", "no 0"},
		{"--restart=always", "always 0"},
		{"--restart=unless-stopped", "unless-stopped 0"},
		{"--restart=on-failure", "on-failure 0"},
		{"--restart=on-failure:5", "on-failure 5"},
	} {
		args := []string{"create"}
		if tc.flag != "" {
			args = append(args, tc.flag)
		}
		id := e.must(append(args, "busybox", "true")...)
		if got := e.field(id, "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"); got != tc.want {
			t.Errorf("%q: RestartPolicy %q, want %q", tc.flag, got, tc.want)
		}
	}
}

// logTimes are the times of a container's log lines.
func (e *env) logTimes(ref string) []time.Time {
	e.t.Helper()
	var out []time.Time
	for _, l := range strings.Split(e.must("logs", "-t", ref), "\n") {
		ts, _, _ := strings.Cut(l, " ")
		if tm, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			out = append(out, tm)
		}
	}
	return out
}

func TestRestartBackoff(t *testing.T) {
	e := newEnv(t)
	// Each run prints one line: the log's times are the starts.
	id := e.must("run", "-d", "--restart", "on-failure", "busybox", "sh", "-c", "echo run; exit 1")
	sawRestarting := false
	waitFor(t, "6 runs", 20*time.Second, func() bool {
		if !sawRestarting {
			f := e.must("ps", "--format", "{{.Status}}|{{.State}}")
			if strings.HasPrefix(f, "Restarting (1) ") && strings.HasSuffix(f, "|restarting") &&
				e.field(id, "{{.State.Restarting}} {{.State.Running}} {{.State.Status}}") == "true true restarting" {
				sawRestarting = true
			}
		}
		return len(e.logTimes(id)) >= 6
	})
	e.must("stop", id)
	times := e.logTimes(id)
	if !sawRestarting {
		t.Error("never saw the container restarting in ps and inspect")
	}
	var gaps []time.Duration
	for i := 1; i < 6; i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	t.Logf("gaps between starts: %v", gaps)
	for i, g := range gaps {
		delay := 100 * time.Millisecond << i // Docker's: 100 ms, doubling
		if g < delay || g > delay+2*time.Second {
			t.Errorf("gap %d is %v, want the back-off %v plus a start", i, g, delay)
		}
	}
	if gaps[4] < 3*gaps[0] {
		t.Errorf("gaps %v do not grow as a doubling back-off does", gaps)
	}
	n, _ := strconv.Atoi(e.field(id, "{{.RestartCount}}"))
	if n < 5 {
		t.Errorf("RestartCount %d after 6 runs", n)
	}
	// stop ended the wait: it stays down.
	time.Sleep(500 * time.Millisecond)
	if got := e.field(id, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 1" {
		t.Errorf("after stop: %q", got)
	}
	if got := len(e.logTimes(id)); got != len(times) {
		t.Errorf("ran again after stop: %d runs, then %d", len(times), got)
	}
}

func TestRestartOnFailureMax(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	id := e.must("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
	waitFor(t, "the retries to end", 10*time.Second, func() bool {
		return e.field(id, "{{.State.Status}} {{.RestartCount}}") == "exited 2"
	})
	time.Sleep(600 * time.Millisecond) // the next back-off would be 400 ms
	if got := e.field(id, "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}"); got != "exited 2 3" {
		t.Errorf("after on-failure:2: %q, want exited 2 3", got)
	}
	if got := e.must("logs", id); got != "run\nrun\nrun" {
		t.Errorf("logs: %q, want three runs", got)
	}
	// A policy's restart is a die and a start, as in Docker.
	if got := e.must("events", "--since", unixArg(start), "--until", unixArg(time.Now()), "--format", "{{.Action}}",
		"-f", "container="+id); got != "create\nstart\ndie\nstart\ndie\nstart\ndie" {
		t.Errorf("events of three runs:\n%s", got)
	}
	// Exit 0 is no failure.
	id = e.must("run", "-d", "--restart", "on-failure", "busybox", "true")
	e.must("wait", id)
	time.Sleep(400 * time.Millisecond)
	if got := e.field(id, "{{.State.Status}} {{.RestartCount}}"); got != "exited 0" {
		t.Errorf("on-failure after exit 0: %q", got)
	}
}

func TestRestartAlwaysAndStop(t *testing.T) {
	e := newEnv(t)
	t.Run("exit 0", func(t *testing.T) {
		id := e.must("run", "-d", "--restart", "always", "busybox", "sh", "-c", "echo run")
		waitFor(t, "a second run", 10*time.Second, func() bool { return len(e.logTimes(id)) >= 2 })
		e.must("stop", "-t", "0", id)
		n := len(e.logTimes(id))
		time.Sleep(700 * time.Millisecond)
		if got := e.field(id, "{{.State.Status}}"); got != "exited" || len(e.logTimes(id)) != n {
			t.Errorf("always after stop: %s, %d runs then %d", got, n, len(e.logTimes(id)))
		}
	})
	t.Run("stop, start, crash, kill", func(t *testing.T) {
		id := e.must("run", "-d", "--restart", "always", "busybox", "sleep", "1000")
		e.must("stop", "-t", "0", id)
		time.Sleep(400 * time.Millisecond)
		if got := e.field(id, "{{.State.Status}} {{.RestartCount}}"); got != "exited 0" {
			t.Fatalf("after stop: %q", got)
		}
		// start brings the policy back: a crash is restarted.
		e.must("start", id)
		old := e.crash(id)
		e.runningAgain(id, old, 5*time.Second)
		if got := e.field(id, "{{.RestartCount}}"); got != "1" {
			t.Errorf("RestartCount after a crash: %s", got)
		}
		// docker kill (SIGKILL) ends the policy too.
		e.must("kill", id)
		time.Sleep(400 * time.Millisecond)
		if got := e.field(id, "{{.State.Status}}"); got != "exited" {
			t.Errorf("after kill: %s", got)
		}
		// A start resets the count.
		e.must("start", id)
		if got := e.field(id, "{{.RestartCount}}"); got != "0" {
			t.Errorf("RestartCount after start: %s", got)
		}
	})
	t.Run("rm -f while restarting", func(t *testing.T) {
		id := e.must("run", "-d", "--restart", "always", "busybox", "false")
		waitFor(t, "the container restarting", 10*time.Second, func() bool {
			return e.field(id, "{{.State.Status}}") == "restarting"
		})
		if _, errOut, code := e.berth("rm", id); code == 0 || !strings.Contains(errOut, "restarting") {
			t.Errorf("rm of a restarting container: %d %q", code, errOut)
		}
		e.must("rm", "-f", id)
		if _, _, code := e.berth("inspect", id); code == 0 {
			t.Error("still there after rm -f")
		}
		left := ""
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if left = leftovers(e.root, e.runRoot); !strings.Contains(left, id) {
				break
			}
		}
		if strings.Contains(left, id) {
			t.Errorf("left after rm -f of a restarting container:\n%s", left)
		}
	})
}

func TestRestartCommand(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	id := e.must("run", "-d", "busybox", "sleep", "1000")
	old, _ := strconv.Atoi(e.field(id, "{{.State.Pid}}"))
	if got := e.must("restart", "-t", "0", id); got != id {
		t.Errorf("restart printed %q", got)
	}
	e.runningAgain(id, old, 5*time.Second)
	// Docker's events of a restart: the stop's, then start and restart.
	if got := e.must("events", "--since", unixArg(start), "--until", unixArg(time.Now()), "--format", "{{.Action}}",
		"-f", "container="+id); !strings.HasSuffix(got, "kill\ndie\nstop\nstart\nrestart") {
		t.Errorf("events of create, start, restart:\n%s", got)
	}
	e.must("stop", "-t", "0", id)
	e.must("restart", id) // a stopped one is started
	if got := e.field(id, "{{.State.Status}}"); got != "running" {
		t.Errorf("restart of a stopped container: %s", got)
	}
	// -s: the signal stop sends first.
	e.must("restart", "-s", "KILL", "-t", "5", id)
	if out, errOut, code := e.berth("restart", "nosuch"); code != 1 || out != "" || !strings.Contains(errOut, "nosuch") {
		t.Errorf("restart nosuch: %d %q %q", code, out, errOut)
	}
}

// TestRestartTwenty: 20 crashes of an always container, each brought
// back by the policy (and a restart command in between, which resets the
// back-off as Docker's does), leave one monitor, one rootfs mount and the
// same number of the monitor's fds.
func TestRestartTwenty(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--restart", "always", "busybox", "sleep", "1000")
	fds := func() (int, int) {
		mons := processesOf(e.root, e.runRoot)
		if len(mons) != 1 {
			t.Fatalf("want one berth process (the monitor), have %q", mons)
		}
		pid, _, _ := strings.Cut(mons[0], ":")
		ents, _ := os.ReadDir("/proc/" + pid + "/fd")
		return len(ents), len(mounts(e.root, e.runRoot))
	}
	fd0, mnt0 := fds()
	for i := 0; i < 20; i++ {
		old := e.crash(id)
		pid := e.runningAgain(id, old, 5*time.Second)
		if got := e.field(id, "{{.RestartCount}}"); got != "1" {
			t.Fatalf("round %d: RestartCount %s", i, got)
		}
		e.must("restart", "-t", "0", id)
		e.runningAgain(id, pid, 5*time.Second)
	}
	waitFor(t, "exit commands to finish", 5*time.Second, func() bool { return len(processesOf(e.root, e.runRoot)) == 1 })
	fd1, mnt1 := fds()
	if fd1 != fd0 || mnt1 != mnt0 {
		t.Errorf("after 20 restarts: monitor fds %d -> %d, mounts %d -> %d", fd0, fd1, mnt0, mnt1)
	}
	if runDir, _ := os.ReadDir(filepath.Join(e.runRoot, "c")); len(runDir) > 2 {
		t.Errorf("run dir: %d entries", len(runDir))
	}
}

// processesOf lists "PID: cmdline" of the processes naming the roots.
func processesOf(roots ...string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		cl := strings.ReplaceAll(string(b), "\x00", " ")
		for _, r := range roots {
			if strings.Contains(cl, r+"/") || strings.Contains(cl, r+" ") {
				out = append(out, filepath.Base(filepath.Dir(p))+": "+cl)
				break
			}
		}
	}
	return out
}

// mounts lists the mount points under the roots.
func mounts(roots ...string) []string {
	var out []string
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		for _, r := range roots {
			if len(f) > 4 && strings.HasPrefix(f[4], r+"/") {
				out = append(out, f[4])
			}
		}
	}
	return out
}
