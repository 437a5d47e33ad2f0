package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary re-executes itself as the processes put into cgroups, so that the tests
// need nothing but the kernel (they also run in a busybox-only v2 guest). A helper waits for a
// line on stdin, sent once it has been moved into its cgroup, then does its job.
const helperEnv = "BERTH_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		os.Exit(m.Run())
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	switch mode {
	case "sleep":
		time.Sleep(time.Hour)
	case "hold":
		// Charge 16 MiB to the cgroup we were moved into, then wait.
		b := make([]byte, 16<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		b[0]++
	case "alloc":
		// Touch 512 MiB page by page; a memory limit far below kills us.
		var keep [][]byte
		for i := 0; i < 512; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("survived", len(keep))
	case "tick":
		for {
			if _, err := os.Stdout.Write([]byte{'.'}); err != nil {
				os.Exit(0)
			}
			time.Sleep(5 * time.Millisecond)
		}
	case "open":
		// Arguments: path:r|w pairs; prints "ok" or the errno name per argument.
		for _, a := range os.Args[1:] {
			p, mode, _ := strings.Cut(a, ":")
			flag := os.O_RDONLY
			if mode == "w" {
				flag = os.O_WRONLY
			}
			f, err := os.OpenFile(p, flag, 0)
			if err != nil {
				var errno syscall.Errno
				if errors.As(err, &errno) {
					fmt.Println(a, errno.Error())
				} else {
					fmt.Println(a, err)
				}
				continue
			}
			f.Close()
			fmt.Println(a, "ok")
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		os.Exit(2)
	}
	os.Exit(0)
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   io.ReadCloser
}

func startHelper(t testing.TB, mode string, args ...string) *helper {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: out}
	t.Cleanup(func() { h.kill() })
	return h
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

func (h *helper) kill() {
	if h.cmd.ProcessState == nil {
		_ = h.cmd.Process.Kill()
		_ = h.cmd.Wait()
	}
}

// goOn lets the helper start its job.
func (h *helper) goOn(t testing.TB) {
	t.Helper()
	if _, err := h.stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// testParent returns a unique absolute cgroup path for this test and removes it (in every
// hierarchy) when the test ends, failing the test if it cannot.
func testParent(t testing.TB) string {
	t.Helper()
	needRoot(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	parent := "/berth-cgtest-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		for _, d := range hierarchyDirs(t, parent) {
			if err := removeTree(d); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return parent
}

// hierarchyDirs returns the directory of an absolute cgroup path in every hierarchy.
func hierarchyDirs(t testing.TB, cg string) []string {
	t.Helper()
	v2, err := isUnified()
	if err != nil {
		t.Fatal(err)
	}
	if v2 {
		return []string{path.Join(cgroupRoot, cg)}
	}
	mounts, err := v1Mounts()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]bool{}
	for _, mt := range mounts {
		if !seen[mt.point] {
			seen[mt.point] = true
			out = append(out, hostPath(mt.point, mt.root, cg))
		}
	}
	return out
}

func openTest(t testing.TB, cg string) Manager {
	t.Helper()
	m, err := Open(cg, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// file reads a cgroup file of m: "controller/file" on v1, "file" on v2.
func file(t testing.TB, m Manager, name string) string {
	t.Helper()
	dir := m.Paths()[""]
	if m.Version() == 1 {
		ctrl, f, _ := strings.Cut(name, "/")
		dir, name = m.Paths()[ctrl], f
		if dir == "" {
			t.Fatalf("no %s hierarchy in %v", ctrl, m.Paths())
		}
	}
	s, err := read(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// busybox finds busybox for the tests that need a shell.
func busybox(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		return p
	}
	t.Skip("busybox not installed")
	return ""
}

func assertGone(t testing.TB, paths map[string]string) {
	t.Helper()
	for c, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s cgroup %s still exists (%v)", c, p, err)
		}
	}
}

func waitExit(t testing.TB, h *helper, timeout time.Duration) *os.ProcessState {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(done) }()
	select {
	case <-done:
		return h.cmd.ProcessState
	case <-time.After(timeout):
		t.Fatalf("helper %d did not exit within %v", h.pid(), timeout)
		return nil
	}
}

func hybridUnified() string {
	p := filepath.Join(cgroupRoot, "unified")
	if ok, _ := isUnified(); ok {
		return ""
	}
	if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err != nil {
		return ""
	}
	return p
}
