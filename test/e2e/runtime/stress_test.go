package runtime_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStress creates, starts, execs into and deletes many containers, ten at a time, from one
// bundle, and then checks that nothing is left: no mount under the bundle or the state root, no
// cgroup directory, no state, no process.
//
// 100 containers here (~2 s on the 2-core dev VM); 30 in the v2 qemu guest (BERTH_TEST_GUEST=v2,
// ~7.5 s there: exec-heavy work runs 2-4x slower under TCG) and with -short.
func TestStress(t *testing.T) {
	total, parallel := 100, 10
	if os.Getenv("BERTH_TEST_GUEST") != "" || testing.Short() {
		total = 30
	}
	e := newEnv(t, "sleep", "300")
	e.write()
	mountsBefore := mountsUnder(t, e.bundle, e.root)
	prefix := e.id + "-"

	type outcome struct {
		id      string
		initPid int
		start   uint64 // init's start time, so that a recycled pid is not taken for it
		err     error
	}
	results := make([]outcome, total)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			id := prefix + strconv.Itoa(i)
			results[i] = outcome{id: id}
			results[i].initPid, results[i].start, results[i].err = stressOne(e, id)
		}(i)
	}
	wg.Wait()
	t.Logf("%d containers, %d at a time: %v", total, parallel, time.Since(began))
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("container %s: %v", r.id, r.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d containers failed", failed, total)
	}

	// Nothing left behind.
	if after := mountsUnder(t, e.bundle, e.root); len(after) != len(mountsBefore) {
		t.Errorf("mounts under the bundle and the state root: %v, before: %v", after, mountsBefore)
	}
	if left := e.stateEntries(); len(left) > 0 {
		t.Errorf("state left behind: %v", left)
	}
	for _, r := range results {
		for _, dir := range cgroupDirs(r.id) {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("cgroup left behind: %s", dir)
			}
		}
		if r.initPid > 0 {
			// A dead init stays a zombie until its parent reaps it: pid 1 here, after the
			// runtime that forked it has exited (a subreaper such as conmon in production).
			st, state, err := procStart(r.initPid)
			if err != nil || st != r.start {
				continue
			}
			if state != 'Z' && state != 'X' {
				t.Errorf("init %d of %s is still running (state %c)", r.initPid, r.id, state)
			}
		}
	}
	// Any process in a cgroup of one of the containers, exec'd ones included.
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "/berth-"+prefix) {
			t.Errorf("process %s is still in a container's cgroup:\n%s", filepath.Base(filepath.Dir(p)), b)
		}
	}
}

// stressOne runs one container through create, start, exec (checking its output) and delete. It
// returns init's pid and start time for the leak check.
func stressOne(e *env, id string) (int, uint64, error) {
	// The container inherits stdio: /dev/null, so that no pipe waits for it.
	run := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(binary, append([]string{"--root", e.root}, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if args[0] == "create" {
			cmd.Stdout, cmd.Stderr = nil, nil
		}
		cmd.WaitDelay = 5 * time.Second
		timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
		defer timer.Stop()
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%v: %v: %s", args, err, stderr.String())
		}
		return stdout.String(), nil
	}
	if _, err := run("create", "--bundle", e.bundle, id); err != nil {
		return 0, 0, err
	}
	pid, start, err := stressState(e, id)
	if err == nil {
		_, err = run("start", id)
	}
	if err == nil {
		var out string
		out, err = run("exec", id, "sh", "-c", "echo exec-$$")
		if err == nil && !strings.HasPrefix(out, "exec-") {
			err = fmt.Errorf("exec printed %q", out)
		}
	}
	if _, derr := run("delete", "--force", id); derr != nil && err == nil {
		err = derr
	}
	return pid, start, err
}

// stressState reads init's pid from `state`, and its start time.
func stressState(e *env, id string) (int, uint64, error) {
	cmd := exec.Command(binary, "--root", e.root, "state", id)
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("state %s: %v", id, err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
		return 0, 0, fmt.Errorf("state %s: no pid in %s", id, out)
	}
	pid := st.Pid
	start, _, err := procStart(pid)
	return pid, start, err
}

// procStart reads a process's start time (clock ticks since boot) and state letter.
func procStart(pid int) (uint64, byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("bad stat of %d", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("bad stat of %d", pid)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return st, f[0][0], err
}

// mountsUnder lists the mount points of the test's mount namespace at or below dirs. Only
// these: other test packages run at the same time (go test runs packages in parallel) and
// mount and unmount elsewhere.
func mountsUnder(t *testing.T, dirs ...string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, d := range dirs {
			if f[4] == d || strings.HasPrefix(f[4], d+"/") {
				out = append(out, f[4])
			}
		}
	}
	return out
}
