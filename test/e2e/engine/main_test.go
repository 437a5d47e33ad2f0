// Package engine_test drives the berth CLI's container commands end to
// end, as root, with real containers: berth-runtime, berth-monitor and
// berth-init as shipped, the busybox image of test/fixture loaded into an
// engine root of each test's own.
package engine_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/fixture"
)

// binary is the berth CLI under test; imageTar the busybox image (an OCI
// archive named busybox:latest) that each test loads.
var binary, imageTar string

// rootfsDir is the fixture's busybox root the image was made of.
var rootfsDir string

// volBinary is binary, by the name the volume tests use.
var volBinary string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Getuid() != 0 {
		fmt.Println("skipping berth engine end-to-end tests: not root")
		return 0
	}
	dir, err := os.MkdirTemp("", "berth-e2e-engine")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = os.Getenv("BERTH_BINARY")
	if guest := os.Getenv("BERTH_TEST_GUEST"); guest != "" {
		// The pure cgroup v2 guest (hack/vm-test.sh) has the shipped
		// binaries on PATH and no Go toolchain; it is there for the
		// resource flags, so those tests are what runs unless told.
		if binary == "" {
			p, err := exec.LookPath("berth")
			if err != nil {
				fmt.Println("guest: berth not on PATH: add bin/berth to VM_EXTRA_BINS")
				return 1
			}
			binary = p
		}
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" {
			f.Value.Set("TestResourceFlags|TestRunForeground")
		}
	}
	if binary == "" {
		binary = filepath.Join(dir, "berth")
		if out, err := exec.Command("go", "build", "-o", binary, "github.com/berth-dev/berth/cmd/berth").CombinedOutput(); err != nil {
			fmt.Printf("build berth: %v\n%s", err, out)
			return 1
		}
	}
	volBinary = binary
	// The helpers as shipped (hack/test.sh exports them) or built here;
	// berth finds them through the same variables.
	for _, name := range []string{"berth-runtime", "berth-monitor", "berth-init"} {
		p, err := fixture.Binary(name, dir)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		env := "BERTH_" + strings.ToUpper(strings.TrimPrefix(name, "berth-")) + "_BINARY"
		os.Setenv(env, p)
	}
	rootfs := filepath.Join(dir, "rootfs")
	rootfsDir = rootfs
	if err := fixture.BusyboxRootfs(rootfs); err != nil {
		fmt.Println(err)
		return 1
	}
	imageTar = filepath.Join(dir, "busybox.tar")
	if err := fixture.OCILayoutTar(rootfs, imageTar, "docker.io/library/busybox:latest"); err != nil {
		fmt.Println(err)
		return 1
	}
	// A berth.toml on the host must not change what these tests see.
	cfg := filepath.Join(dir, "berth.toml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		fmt.Println(err)
		return 1
	}
	os.Setenv("BERTH_CONFIG", cfg)
	guest = os.Getenv("BERTH_TEST_GUEST") != ""
	return m.Run()
}

// guest is set in the pure cgroup v2 qemu guest (hack/vm-test.sh). It
// has no CNI plugins, no iptables and no `ip netns`, and a kernel of its
// own with loopback only: there the default network is none and berth
// runs in the guest's one namespace.
var guest bool

// envConfig is the berth.toml of every env: the upstream resolver a
// TEST-NET address that nothing answers (no test looks a name up through
// it, and none may reach the machine's), and in the guest no bridge.
func envConfig() string {
	c := "[network]\ndns_upstream = [\"192.0.2.53\"]\n"
	if guest {
		c += "default_network = \"none\"\n"
	}
	return c
}

// env is one test's engine: its own root and run root, with busybox
// loaded, and its own network namespace, in which every berth command
// runs: `run` and `create` default to the bridge network, whose bridge,
// NAT and iptables rules must never reach the machine's network (issue
// 12, "Safety in tests"). Cleanup removes every container (so no
// monitor, mount or process outlives the test), checks that nothing is
// left mounted and that the containers left nothing in the namespace
// (checkNetClean), and removes the namespace.
type env struct {
	t             *testing.T
	root, runRoot string
	// netns is the network namespace every berth command runs in
	// (nsenter --net), /run/netns/NS; empty in the guest.
	netns, ns string
	// config is the berth.toml of this env (BERTH_CONFIG): envConfig.
	config string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return makeEnv(t, true, true)
}

// newHostNetEnv is an env whose commands run in the machine's network
// namespace, for the tests that talk to a registry on its loopback (the
// pull tests); its config makes the default network none, so that no
// container of it gets a bridge or a rule on the machine. Busybox is
// loaded when load is set.
func newHostNetEnv(t *testing.T, load bool) *env {
	t.Helper()
	return makeEnv(t, false, load)
}

func makeEnv(t *testing.T, ownNet, load bool) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{t: t, root: filepath.Join(base, "root"), runRoot: filepath.Join(base, "run"),
		config: filepath.Join(base, "berth.toml")}
	cfg := envConfig()
	if !ownNet && !guest {
		cfg += "default_network = \"none\"\n"
	}
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if ownNet && !guest {
		// Made first, so that it goes last (t.Cleanup runs backwards).
		e.ns = testNetns(t)
		e.netns = "/run/netns/" + e.ns
	}
	t.Cleanup(func() {
		e.cleanup()
		if e.ns != "" {
			checkNetClean(t, e, e.ns)
		}
	})
	if load {
		e.must("load", "-q", "-i", imageTar)
	}
	return e
}

func (e *env) cmd(args ...string) *exec.Cmd {
	full := append([]string{"--root", e.root, "--runroot", e.runRoot}, args...)
	cmd := exec.Command(binary, full...)
	if e.netns != "" {
		cmd = exec.Command("nsenter", append([]string{"--net=" + e.netns, binary}, full...)...)
	}
	if e.config != "" {
		cmd.Env = append(os.Environ(), "BERTH_CONFIG="+e.config)
	}
	return cmd
}

// berth runs a command and returns its stdout, stderr and exit status.
func (e *env) berth(args ...string) (string, string, int) {
	e.t.Helper()
	return e.berthIn(nil, args...)
}

func (e *env) berthIn(stdin []byte, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := e.cmd(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("berth %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// must runs a command that has to succeed and returns its stdout, trimmed.
func (e *env) must(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.berth(args...)
	if code != 0 {
		e.t.Fatalf("berth %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return strings.TrimSpace(out)
}

func (e *env) cleanup() {
	// Pods first: their infra containers go only with them.
	e.berth("pod", "rm", "-a", "-f")
	ids, _, _ := e.berth("ps", "-aq", "--no-trunc")
	for _, id := range strings.Fields(ids) {
		e.berth("rm", "-f", "-v", id)
	}
	// The monitors' exit commands may still be running: give them a
	// moment before looking for leftovers.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := leftovers(e.root, e.runRoot)
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("left behind:\n%s", left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leftovers lists mounts under the roots and processes that name them.
func leftovers(roots ...string) string {
	var out []string
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		for _, r := range roots {
			if len(f) > 4 && strings.HasPrefix(f[4], r+"/") {
				out = append(out, "mount "+f[4])
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cl := strings.ReplaceAll(string(b), "\x00", " ")
		for _, r := range roots {
			if strings.Contains(cl, r+"/") || strings.Contains(cl, r+" ") {
				out = append(out, "process "+filepath.Base(filepath.Dir(p))+": "+cl)
			}
		}
	}
	return strings.Join(out, "\n")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
