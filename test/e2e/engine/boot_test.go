package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSystemBoot simulates a host reboot for this test's engine: every
// process it started (monitors found by the roots in their command
// lines, inits in the containers' cgroups) is killed, everything under
// its roots unmounted and the tmpfs serving as its run root replaced;
// then `system boot` must clean up and bring back what the policies say.
func TestSystemBoot(t *testing.T) {
	e := newEnv(t)
	if err := unix.Mount("tmpfs", e.runRoot, "tmpfs", 0, "mode=0700"); err != nil {
		t.Fatalf("tmpfs run root: %v", err)
	}
	t.Cleanup(func() {
		ids, _, _ := e.berth("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(ids) {
			e.berth("rm", "-f", id)
		}
		unix.Unmount(e.runRoot, unix.MNT_DETACH)
	})
	run := func(name string, args ...string) string {
		return e.must(append([]string{"run", "-d", "--name", name}, append(args, "busybox", "sleep", "1000")...)...)
	}
	ids := map[string]string{
		"always":         run("always", "--restart", "always"),
		"unless":         run("unless", "--restart", "unless-stopped"),
		"unless-stopped": run("unless-stopped", "--restart", "unless-stopped"),
		"none":           run("none"),
		"onfailure":      run("onfailure", "--restart", "on-failure"),
		"always-stopped": run("always-stopped", "--restart", "always"),
		"always-created": e.must("create", "--name", "always-created", "--restart", "always", "busybox", "sleep", "1000"),
	}
	e.must("stop", "-t", "0", "unless-stopped", "always-stopped")

	// The reboot.
	var pids []int
	for _, p := range processesOf(e.root, e.runRoot) {
		pid, _ := strconv.Atoi(strings.SplitN(p, ":", 2)[0])
		pids = append(pids, pid)
	}
	for _, id := range ids {
		for _, procs := range cgroupProcs(id) {
			pids = append(pids, procs...)
		}
	}
	if len(pids) < 10 {
		t.Fatalf("found %d processes of the engine (want 5 monitors and 5 inits): %v", len(pids), pids)
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitFor(t, "the engine's processes to die", 5*time.Second, func() bool {
		for _, pid := range pids {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
				return false
			}
		}
		return true
	})
	ms := mounts(e.root, e.runRoot)
	slices.SortFunc(ms, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, m := range ms {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	if err := unix.Unmount(e.runRoot, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", e.runRoot, "tmpfs", 0, "mode=0700"); err != nil {
		t.Fatal(err)
	}
	staleCgroups := 0
	for _, id := range ids {
		staleCgroups += len(cgroupDirs(id))
	}
	if staleCgroups == 0 {
		t.Log("no cgroups left by the kill: the cgroup clean-up is not exercised")
	}

	out := e.must("system", "boot")
	started := strings.Fields(out)
	slices.Sort(started)
	if want := []string{"always", "always-stopped", "unless"}; !slices.Equal(started, want) {
		t.Errorf("system boot started %q, want %q", started, want)
	}
	for name, want := range map[string]string{
		"always": "running", "unless": "running", "always-stopped": "running",
		"unless-stopped": "exited", "none": "exited", "onfailure": "exited", "always-created": "created",
	} {
		if got := e.field(name, "{{.State.Status}}"); got != want {
			t.Errorf("%s after boot: %s, want %s", name, got, want)
		}
	}
	// The exited ones hold nothing: no mount, no cgroup.
	for _, name := range []string{"unless-stopped", "none", "onfailure"} {
		id := ids[name]
		if d := cgroupDirs(id); len(d) > 0 {
			t.Errorf("%s: cgroups left: %v", name, d)
		}
		for _, m := range mounts(e.root, e.runRoot) {
			if strings.Contains(m, id) {
				t.Errorf("%s: still mounted: %s", name, m)
			}
		}
	}
	// What was brought back works, and the others start as usual.
	e.must("exec", "always", "true")
	e.must("start", "none")
	e.must("exec", "none", "true")
	// A second boot changes nothing.
	if out := e.must("system", "boot"); out != "" {
		t.Errorf("second boot started %q", out)
	}
}

// cgroupDirs are the cgroup directories of a container (the runtime's
// default /berth-ID in every hierarchy).
func cgroupDirs(id string) []string {
	var out []string
	for _, pat := range []string{"/sys/fs/cgroup/*/berth-" + id, "/sys/fs/cgroup/berth-" + id} {
		m, _ := filepath.Glob(pat)
		out = append(out, m...)
	}
	return out
}

// cgroupProcs are the pids in a container's cgroups.
func cgroupProcs(id string) [][]int {
	var out [][]int
	for _, d := range cgroupDirs(id) {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		var pids []int
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		out = append(out, pids)
	}
	return out
}
