package engine_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A berth process SIGKILLed at any point of run, rm or a pull leaves a
// store that the next command repairs. BERTH_TEST_KILL_AT=POINT[:N]
// makes the process kill itself at a named point of the engine
// (engine/killpoint.go; intents.go says how each cut is repaired).

// killedAt runs a berth command that must die at point.
func (e *env) killedAt(point string, args ...string) {
	e.t.Helper()
	cmd := e.cmd(args...)
	cmd.Env = append(cmd.Environ(), "BERTH_TEST_KILL_AT="+point)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		e.t.Fatalf("berth %v with the kill point %s: %v, not killed\n%s", args, point, err, out)
	}
}

// dirEntries counts what is in dir (0 if it does not exist).
func dirEntries(dir string) int {
	ents, _ := os.ReadDir(dir)
	return len(ents)
}

// checkRepaired checks that the commands after a kill see a consistent
// store: every container shown running runs, every one can be removed,
// and then nothing is left (no mount, process, snapshot, bundle, intent)
// and a container still runs.
func (e *env) checkRepaired(t *testing.T) {
	t.Helper()
	out := e.must("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}")
	for _, l := range strings.Split(out, "\n") {
		id, state, _ := strings.Cut(l, " ")
		if state == "running" {
			if _, errOut, code := e.berth("exec", id, "true"); code != 0 {
				t.Errorf("container %s shown running does not run: %s", id[:12], errOut)
			}
		}
		if id != "" {
			// A --rm container may go by itself meanwhile.
			if _, errOut, code := e.berth("rm", "-f", "-v", id); code != 0 && !strings.Contains(errOut, "no such container") {
				t.Errorf("rm -f %s: %s", id[:12], errOut)
			}
		}
	}
	left := ""
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = leftovers(e.root, e.runRoot); left == "" {
			break
		}
	}
	if left != "" {
		t.Errorf("left behind:\n%s", left)
	}
	for _, d := range []string{"containers", "intents", "snapshots/active"} {
		if n := dirEntries(filepath.Join(e.root, d)); n != 0 {
			t.Errorf("ROOT/%s has %d entries after removing every container", d, n)
		}
	}
	if vols := e.must("volume", "ls", "-q"); vols != "" {
		t.Errorf("anonymous volumes left: %q", vols)
		e.must("volume", "prune", "-f")
	}
	e.must("run", "--rm", "busybox", "true")
}

func TestKillPointsRun(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"create-intent", "create-rootfs", "create-spec", "create-recorded",
		"start-intent", "start-mounted", "start-spawned", "start-recorded", "start-started"} {
		t.Run(p, func(t *testing.T) {
			e.killedAt(p, "run", "-d", "-v", "/data", "busybox", "sleep", "1000")
			e.checkRepaired(t)
		})
	}
	// A foreground run --rm cut short: its container goes as it would.
	t.Run("rm foreground", func(t *testing.T) {
		e.killedAt("start-recorded", "run", "--rm", "busybox", "true")
		e.checkRepaired(t)
	})
}

func TestKillPointsRemove(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"remove-intent", "remove-runtime", "remove-rootfs", "remove-bundle", "remove-recorded"} {
		t.Run(p, func(t *testing.T) {
			id := e.must("run", "-d", "-v", "/data", "busybox", "sleep", "1000")
			e.killedAt(p, "rm", "-f", "-v", id)
			// The next command finishes the removal: the container's own
			// exit command may be that one, and still at it when ps looks.
			waitFor(t, "the removal to be finished", 5*time.Second, func() bool { return e.must("ps", "-aq") == "" })
			e.checkRepaired(t)
		})
	}
	t.Run("restart wait", func(t *testing.T) {
		// The exit command killed while it waits out the back-off: the
		// container is shown exited, not restarting for ever.
		cmd := e.cmd("run", "-d", "--restart", "always", "busybox", "true")
		cmd.Env = append(cmd.Environ(), "BERTH_TEST_KILL_AT=restart-recorded")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(string(out))
		waitFor(t, "the waiter's death", 5*time.Second, func() bool {
			return e.field(id, "{{.State.Status}} {{.RestartCount}}") == "exited 1"
		})
		e.checkRepaired(t)
	})
}

func TestKillPointsCommit(t *testing.T) {
	e := newEnv(t)
	store := func() (blobs, layers int) {
		return dirEntries(filepath.Join(e.root, "image", "blobs", "sha256")), dirEntries(filepath.Join(e.root, "snapshots", "layers"))
	}
	for _, p := range []string{"commit-paused", "commit-layer", "commit-blob", "commit-config", "commit-manifest", "commit-recorded"} {
		t.Run(p, func(t *testing.T) {
			id := e.must("run", "-d", "busybox", "sh", "-c", "echo changed > /note; exec sleep 1000")
			b0, l0 := store()
			e.killedAt(p, "commit", id, "cut:latest")
			// The next command thaws the container the commit paused, and
			// collects what only the dead commit held.
			images := e.must("images", "-q")
			if got := e.field(id, "{{.State.Status}}"); got != "running" {
				t.Errorf("container after a cut commit: %s", got)
			}
			if _, errOut, code := e.berth("exec", id, "true"); code != 0 {
				t.Errorf("exec after a cut commit: %s", errOut)
			}
			if p != "commit-recorded" {
				if n := len(strings.Fields(images)); n != 1 {
					t.Errorf("images after a cut commit: %q", images)
				}
				if b, l := store(); b != b0 || l != l0 {
					t.Errorf("after a cut commit: blobs %d -> %d, layers %d -> %d", b0, b, l0, l)
				}
			}
			e.must("commit", id, "cut:latest")
			if got := e.must("run", "--rm", "cut", "cat", "/note"); got != "changed" {
				t.Errorf("the image committed again reads %q", got)
			}
			e.must("rm", "-f", id)
			e.must("rmi", "cut")
			e.checkRepaired(t)
		})
	}
}

func TestKillPointsPull(t *testing.T) {
	addr := pullRegistry(t)
	ref := addr + "/busybox:latest"
	for _, p := range []string{"pin:1", "pin:2", "pin:3", "pin:4"} {
		t.Run(p, func(t *testing.T) {
			e := newHostNetEnv(t, false) // the registry is on the machine's loopback
			e.killedAt(p, "pull", "-q", "--tls-verify=false", ref)
			// The next command repairs: the dead pull's lease goes and
			// what only it kept is collected.
			if got := e.must("images", "-q"); got != "" {
				t.Errorf("images after a cut pull: %q", got)
			}
			blobs := dirEntries(filepath.Join(e.root, "image", "blobs", "sha256"))
			layers := dirEntries(filepath.Join(e.root, "snapshots", "layers"))
			tmp := dirEntries(filepath.Join(e.root, "image", "tmp"))
			if blobs+layers+tmp != 0 || dirEntries(filepath.Join(e.root, "leases")) != 0 {
				t.Errorf("after a cut pull: %d blobs, %d layers, %d tmp entries, %d leases", blobs, layers, tmp,
					dirEntries(filepath.Join(e.root, "leases")))
			}
			e.must("pull", "-q", "--tls-verify=false", ref)
			e.must("run", "--rm", ref, "true")
		})
	}
}
