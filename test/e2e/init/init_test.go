// Package init_test runs berth-init as the container's pid 1 with berth-runtime (root, real
// kernel): bind-mounted read-only at /.berth/init into a busybox bundle from the fixture, as the
// engine's --init and a pod's infra container will.
package init_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/test/fixture"
)

// InitPath is where the bundle sees berth-init.
const InitPath = "/.berth/init"

var runtimeBin, initBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping berth-init end-to-end tests: not root")
		return 0
	}
	dir, err := os.MkdirTemp("", "berth-init-e2e-bin")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if runtimeBin, err = fixture.RuntimeBinary(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	if initBin, err = fixture.InitBinary(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	return m.Run()
}

type ctr struct {
	t            *testing.T
	root, bundle string
	id           string
	spec         *specs.Spec
}

// newCtr makes a bundle whose process is args; withInit puts berth-init in front of them.
func newCtr(t *testing.T, withInit bool, args ...string) *ctr {
	t.Helper()
	base := t.TempDir()
	c := &ctr{t: t, root: filepath.Join(base, "state"), bundle: filepath.Join(base, "bundle")}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	c.id = "init-" + hex.EncodeToString(b)
	spec, err := fixture.Bundle(c.bundle, args...)
	if err != nil {
		t.Fatal(err)
	}
	if withInit {
		// The root is read-only: the mount point is made in the bundle, as the engine will
		// in the container's writable layer.
		mp := filepath.Join(c.bundle, "rootfs", InitPath)
		if err := os.MkdirAll(filepath.Dir(mp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(mp, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: InitPath, Type: "bind", Source: initBin,
			Options: []string{"bind", "ro", "nosuid", "nodev"}})
		spec.Process.Args = append([]string{InitPath, "--"}, args...)
	}
	c.spec = spec
	if err := fixture.WriteSpec(c.bundle, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.rt("delete", "--force", c.id) })
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *ctr) rt(args ...string) result {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(runtimeBin, append([]string{"--root", c.root}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return r
}

func (c *ctr) run() result {
	c.t.Helper()
	return c.rt("run", "--bundle", c.bundle, c.id)
}

// TestPid1IsInit: the container's pid 1 is berth-init, the command runs as its child (pid 2).
func TestPid1IsInit(t *testing.T) {
	c := newCtr(t, true, "sh", "-c", `echo "$$"; tr '\0' ' ' </proc/1/cmdline; echo; readlink /proc/1/exe`)
	r := c.run()
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	want := "2\n" + InitPath + " -- sh -c " + `echo "$$"; tr '\0' ' ' </proc/1/cmdline; echo; readlink /proc/1/exe` + " \n" + InitPath + "\n"
	if r.stdout != want {
		t.Errorf("output %q, want %q", r.stdout, want)
	}
}

func TestExitCodePassesThrough(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"true"}, 0, ""},
		{[]string{"sh", "-c", "exit 3"}, 3, ""},
		{[]string{"sh", "-c", "kill -KILL $$"}, 137, ""},
		{[]string{"no-such-command"}, 127, `berth-init: exec: "no-such-command": executable file not found in $PATH`},
		{[]string{"/etc/passwd"}, 126, `berth-init: exec: "/etc/passwd": permission denied`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := newCtr(t, true, tc.args...).run()
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q, want %q", r.stderr, tc.stderr)
			}
		})
	}
}

// TestReapsInContainer: orphans in the container are reparented to pid 1 and reaped.
func TestReapsInContainer(t *testing.T) {
	script := `for i in 1 2 3 4 5; do (sleep 0.1 &); done; sleep 1; ` +
		`z=0; for f in /proc/[0-9]*/stat; do s=$(cut -d' ' -f3 "$f" 2>/dev/null); [ "$s" = Z ] && z=$((z+1)); done; echo zombies=$z`
	r := newCtr(t, true, "sh", "-c", script).run()
	if r.code != 0 || strings.TrimSpace(r.stdout) != "zombies=0" {
		t.Errorf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}

// runInBackground starts `run` of c and returns a channel with its result once it ends, after
// the container is running.
func (c *ctr) runInBackground() <-chan result {
	c.t.Helper()
	ch := make(chan result, 1)
	go func() { ch <- c.run() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s := c.rt("state", c.id); s.code == 0 && strings.Contains(s.stdout, `"running"`) {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the container did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Give pid 1 time to fork and exec its child (or exec sleep itself).
	time.Sleep(300 * time.Millisecond)
	return ch
}

// TestKillTermStopsSleep: busybox sleep as pid 1 ignores SIGTERM (the kernel drops signals
// without a handler for a namespace's init); under berth-init the forwarded TERM kills it.
func TestKillTermStopsSleep(t *testing.T) {
	t.Run("without init", func(t *testing.T) {
		c := newCtr(t, false, "sleep", "1000")
		done := c.runInBackground()
		if r := c.rt("kill", c.id, "TERM"); r.code != 0 {
			t.Fatalf("kill: %s", r.stderr)
		}
		select {
		case r := <-done:
			t.Fatalf("sleep as pid 1 stopped on TERM (exit %d): the control case is wrong", r.code)
		case <-time.After(time.Second):
		}
		c.rt("kill", c.id, "KILL")
		<-done
	})
	t.Run("with init", func(t *testing.T) {
		c := newCtr(t, true, "sleep", "1000")
		done := c.runInBackground()
		if r := c.rt("kill", c.id, "TERM"); r.code != 0 {
			t.Fatalf("kill: %s", r.stderr)
		}
		select {
		case r := <-done:
			if r.code != 128+15 {
				t.Errorf("exit %d, want 143; stderr %s", r.code, r.stderr)
			}
		case <-time.After(10 * time.Second):
			c.rt("kill", c.id, "KILL")
			<-done
			t.Fatal("TERM did not stop the container")
		}
	})
}

// TestPauseContainer: berth-init --pause as a pod's infra container runs until TERM and exits 0.
func TestPauseContainer(t *testing.T) {
	c := newCtr(t, true, "true")
	c.spec.Process.Args = []string{InitPath, "--pause"}
	if err := fixture.WriteSpec(c.bundle, c.spec); err != nil {
		t.Fatal(err)
	}
	done := c.runInBackground()
	if r := c.rt("kill", c.id, "HUP"); r.code != 0 {
		t.Fatalf("kill HUP: %s", r.stderr)
	}
	select {
	case r := <-done:
		t.Fatalf("pause exited on HUP: %d", r.code)
	case <-time.After(300 * time.Millisecond):
	}
	if r := c.rt("kill", c.id, "TERM"); r.code != 0 {
		t.Fatalf("kill TERM: %s", r.stderr)
	}
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("exit %d, want 0; stderr %s", r.code, r.stderr)
		}
	case <-time.After(10 * time.Second):
		c.rt("kill", c.id, "KILL")
		<-done
		t.Fatal("TERM did not stop pause")
	}
}
