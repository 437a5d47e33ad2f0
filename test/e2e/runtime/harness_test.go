// Package runtime_test drives the berth-runtime binary end to end, as root, against the real
// kernel, with busybox bundles from the fixture builder.
package runtime_test

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

// binary is the berth-runtime under test.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping berth-runtime end-to-end tests: not root")
		return 0
	}
	dir, err := os.MkdirTemp("", "berth-e2e-bin")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binary, err = fixture.RuntimeBinary(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	return m.Run()
}

// env is one test's runtime state root and bundle.
type env struct {
	t      *testing.T
	root   string // --root
	bundle string
	spec   *specs.Spec
	id     string
}

// newEnv makes a state root and a busybox bundle running args. Directories are world-searchable
// so that user-namespaced containers can reach their rootfs.
func newEnv(t *testing.T, args ...string) *env {
	t.Helper()
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: filepath.Join(base, "state"), bundle: filepath.Join(base, "bundle"), id: uniqueID(t)}
	spec, err := fixture.Bundle(e.bundle, args...)
	if err != nil {
		t.Fatal(err)
	}
	e.spec = spec
	t.Cleanup(func() { e.cleanup() })
	return e
}

func uniqueID(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.ToLower(name) + "-" + hex.EncodeToString(b)
}

// write saves the (modified) spec into the bundle.
func (e *env) write() {
	e.t.Helper()
	if err := fixture.WriteSpec(e.bundle, e.spec); err != nil {
		e.t.Fatal(err)
	}
}

// result of one berth-runtime invocation.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// rt runs berth-runtime --root ROOT args... with a timeout.
func (e *env) rt(args ...string) result {
	e.t.Helper()
	return e.rtStdin(nil, args...)
}

func (e *env) rtStdin(stdin []byte, args ...string) result {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		e.t.Fatalf("berth-runtime %v timed out\nstdout: %s\nstderr: %s", args, stdout.String(), stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// run writes the spec and runs the container in the foreground, returning its output.
func (e *env) run() result {
	e.t.Helper()
	e.write()
	return e.rt("run", "--bundle", e.bundle, e.id)
}

// mustRun is run that expects exit status 0.
func (e *env) mustRun() string {
	e.t.Helper()
	r := e.run()
	if r.code != 0 {
		e.t.Fatalf("run failed: %s", r)
	}
	return r.stdout
}

// cleanup deletes whatever the test left and checks that nothing of the container remains.
func (e *env) cleanup() {
	entries, _ := os.ReadDir(e.root)
	for _, d := range entries {
		e.rt("delete", "--force", d.Name())
	}
	entries, _ = os.ReadDir(e.root)
	for _, d := range entries {
		e.t.Errorf("state left behind: %s", d.Name())
	}
	for _, dir := range cgroupDirs(e.id) {
		if _, err := os.Stat(dir); err == nil {
			e.t.Errorf("cgroup left behind: %s", dir)
		}
	}
}

// cgroupDirs lists where the default cgroup of container id would be, on v1 and v2.
func cgroupDirs(id string) []string {
	var out []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup/berth-" + id}
	}
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, d := range entries {
		out = append(out, filepath.Join("/sys/fs/cgroup", d.Name(), "berth-"+id))
	}
	return out
}
