package engine_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPauseUnpause(t *testing.T) {
	e := newEnv(t)
	// The container bumps a counter file ten times a second: it stands
	// still exactly while the container is frozen.
	id := e.runReady("--name", "ticker", "busybox", "sh", "-c", "i=0; echo ready; while true; do i=$((i+1)); echo $i > /count; sleep 0.1; done")
	counter := filepath.Join(e.must("inspect", "-f", "{{.GraphDriver.Data.MergedDir}}", id), "count")
	read := func() string { b, _ := os.ReadFile(counter); return string(b) }
	if out := e.must("pause", "ticker"); out != "ticker" {
		t.Errorf("pause printed %q", out)
	}
	if got := e.must("ps", "--format", "{{.State}} {{.Status}}"); !strings.HasPrefix(got, "paused Up ") || !strings.HasSuffix(got, " (Paused)") {
		t.Errorf("ps: %q", got)
	}
	if got := e.must("inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", id); got != "paused true true" {
		t.Errorf("inspect State: %q", got)
	}
	if got := e.must("ps", "--filter", "status=paused", "-q"); got != id[:12] {
		t.Errorf("ps --filter status=paused: %q", got)
	}
	if got := e.must("info", "--format", "{{.ContainersPaused}} {{.ContainersRunning}}"); got != "1 0" {
		t.Errorf("info paused/running: %q", got)
	}
	frozen := read()
	time.Sleep(400 * time.Millisecond)
	if now := read(); now != frozen {
		t.Errorf("the counter moved while paused: %q -> %q", frozen, now)
	}
	want125(t, e, "already paused", "pause", "ticker")
	want125(t, e, "is paused", "exec", "ticker", "true")
	if out := e.must("unpause", id); out != id {
		t.Errorf("unpause printed %q", out)
	}
	waitFor(t, "the counter to move again", 5*time.Second, func() bool { return read() != frozen })
	if got := e.must("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", id); got != "running false" {
		t.Errorf("inspect after unpause: %q", got)
	}
	want125(t, e, "not paused", "unpause", "ticker")
	if n, m := len(readEventLog(t, e, id, "pause")), len(readEventLog(t, e, id, "unpause")); n != 1 || m != 1 {
		t.Errorf("events: %d pause, %d unpause", n, m)
	}
	created := e.must("create", "busybox", "true")
	want125(t, e, "not running", "pause", created)
	want125(t, e, "not running", "unpause", created)
	want125(t, e, "no such container", "pause", "gone")
	want125(t, e, "1 arg", "pause")
	if got := e.must("inspect", "-f", "{{.State.Status}}", created); got != "created" {
		t.Errorf("created container: %q", got)
	}
}

// A paused container can still be stopped, killed and removed: the
// engine thaws it after the signal, as Docker does.
func TestPausedStopKillRm(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantExit string
	}{
		{"stop", []string{"stop", "-t", "1"}, "exited 143"},
		{"kill", []string{"kill"}, "exited 137"},
		{"kill TERM", []string{"kill", "-s", "TERM"}, "exited 143"},
		{"rm -f", []string{"rm", "-f"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.runReady("busybox", "sh", "-c", "trap 'exit 143' TERM"+trapLoop)
			e.must("pause", id)
			start := time.Now()
			e.must(append(tc.args, id)...)
			if tc.wantExit == "" {
				if _, _, code := e.berth("inspect", id); code == 0 {
					t.Error("rm -f left the container")
				}
				return
			}
			waitFor(t, "the container to exit", 10*time.Second, func() bool {
				return e.must("inspect", "-f", "{{.State.Status}}", id) == "exited"
			})
			if got := e.must("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id); got != tc.wantExit {
				t.Errorf("after %s: %q, want %q", tc.name, got, tc.wantExit)
			}
			if got := e.must("inspect", "-f", "{{.State.Paused}}", id); got != "false" {
				t.Errorf("still paused: %q", got)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s took %s", tc.name, d)
			}
			// It starts again, unpaused.
			e.must("start", id)
			if got := e.must("inspect", "-f", "{{.State.Status}}", id); got != "running" {
				t.Errorf("restarted: %q", got)
			}
			e.must("rm", "-f", id)
		})
	}
}

// pause, stats, top and update go through the container's own runtime:
// runc and crun are driven by their command line.
func TestCmdsOtherRuntimes(t *testing.T) {
	for _, rt := range []string{"runc", "crun"} {
		t.Run(rt, func(t *testing.T) {
			if _, err := exec.LookPath(rt); err != nil {
				t.Skipf("%s not installed", rt)
			}
			if rt == "crun" {
				hideHybridCgroup2(t)
			}
			e := newEnv(t)
			e.runReady("--name", "other", "--runtime", rt, "busybox", "sh", "-c", "sleep 600 & echo ready; wait")
			e.must("pause", "other")
			if got := e.must("inspect", "-f", "{{.State.Status}}", "other"); got != "paused" {
				t.Errorf("paused: %q", got)
			}
			if got := e.must("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "other"); got != "other 2" {
				t.Errorf("stats: %q", got)
			}
			e.must("unpause", "other")
			if out := e.must("top", "other", "-o", "pid,comm"); !strings.Contains(out, "sleep") {
				t.Errorf("top:\n%s", out)
			}
			e.must("update", "--memory", "64m", "--pids-limit", "30", "other")
			if got := cgroupFile(t, e, "other", "memory", "memory.limit_in_bytes"); got != "67108864" {
				t.Errorf("memory: %q", got)
			}
			if got := cgroupFile(t, e, "other", "pids", "pids.max"); got != "30" {
				t.Errorf("pids: %q", got)
			}
			e.must("pause", "other")
			e.must("rm", "-f", "other")
		})
	}
}
