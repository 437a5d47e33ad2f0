package runtime_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// statsEvent is the part of runc's `events` JSON the tests read.
type statsEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *struct {
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage struct {
				Usage uint64 `json:"usage"`
				Limit uint64 `json:"limit"`
			} `json:"usage"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit"`
		} `json:"pids"`
		Blkio   json.RawMessage `json:"blkio"`
		Hugetlb json.RawMessage `json:"hugetlb"`
	} `json:"data"`
}

func parseEvents(t *testing.T, out string) []statsEvent {
	t.Helper()
	var evs []statsEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev statsEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("events line %q is not JSON: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestEventsStats reads `events --stats` of a running container: one runc-shaped stats object
// with memory in use, the container's processes counted and CPU time spent.
func TestEventsStats(t *testing.T) {
	requireCgroups(t)
	e := newEnv(t, "sh", "-c", "sleep 300 & sleep 300")
	e.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: i64ptr(50)}
	e.runBackground()
	// Wait until the shell has forked its background sleep (and exec'd the other).
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := e.mustRT("ps", "--format", "json", e.id)
		var pids []int
		if err := json.Unmarshal([]byte(out), &pids); err == nil && len(pids) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container processes: %s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := e.mustRT("events", "--stats", e.id)
	evs := parseEvents(t, out)
	if len(evs) != 1 {
		t.Fatalf("events --stats printed %d objects: %s", len(evs), out)
	}
	ev := evs[0]
	if ev.Type != "stats" || ev.ID != e.id || ev.Data == nil {
		t.Fatalf("events --stats: %s", out)
	}
	if ev.Data.Memory.Usage.Usage == 0 {
		t.Errorf("memory usage 0: %s", out)
	}
	if ev.Data.Pids.Current < 2 {
		t.Errorf("pids.current %d, want >= 2 (the two sleeps): %s", ev.Data.Pids.Current, out)
	}
	if ev.Data.Pids.Limit != 50 {
		t.Errorf("pids.limit %d, want 50", ev.Data.Pids.Limit)
	}
	if ev.Data.CPU.Usage.Total == 0 {
		t.Errorf("cpu usage 0: %s", out)
	}
	// runc's object has these keys even when they hold nothing.
	if ev.Data.Blkio == nil || ev.Data.Hugetlb == nil {
		t.Errorf("blkio or hugetlb missing: %s", out)
	}
	e.delete("--force")

	r := e.rt("events", "--stats", e.id)
	if r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("events on a deleted container: %s", r)
	}
}

// TestEventsStream runs events without --stats: stats every --interval until the container
// stops, then events exits 0 by itself. Processes of the container are OOM-killed twice on the
// way, which shows up as two "oom" events.
func TestEventsStream(t *testing.T) {
	requireCgroups(t)
	// The process waits for events to start (the file appears), then tail is OOM-killed twice,
	// and the container goes on a little longer.
	e := newEnv(t, "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; tail /dev/zero; tail /dev/zero; sleep 1")
	e.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64ptr(memLimit)}
	e.runBackground()

	cmd := exec.Command(binary, "--root", e.root, "events", "--interval", "300ms", e.id)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	began := time.Now()
	time.Sleep(200 * time.Millisecond)
	rootfs := e.spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(e.bundle, rootfs)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "tmp", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("events: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("events did not end with the container\nstdout: %s", stdout.String())
	}
	t.Logf("events ran %v", time.Since(began))
	evs := parseEvents(t, stdout.String())
	var nStats, nOOM int
	for _, ev := range evs {
		if ev.ID != e.id {
			t.Errorf("event for %q, want %q", ev.ID, e.id)
		}
		switch ev.Type {
		case "stats":
			nStats++
			if ev.Data == nil {
				t.Errorf("stats event without data")
			}
		case "oom":
			nOOM++
			if ev.Data != nil {
				t.Errorf("oom event with data")
			}
		default:
			t.Errorf("unknown event type %q", ev.Type)
		}
	}
	if nStats < 2 {
		t.Errorf("%d stats events, want several:\n%s", nStats, stdout.String())
	}
	if nOOM != 2 {
		t.Errorf("%d oom events, want 2:\n%s", nOOM, stdout.String())
	}
	e.delete()
}

// TestEventsErrors: bad input and a stopped container give exit 1 and a message.
func TestEventsErrors(t *testing.T) {
	e := newEnv(t, "true")
	e.create()
	e.start()
	e.waitStopped()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"events", e.id}, "not running"},
		{[]string{"events", "--stats", "missing-container"}, "does not exist"},
		{[]string{"events", "--interval", "0s", e.id}, "interval"},
		{[]string{"events", "--interval", "soon", e.id}, "invalid value"},
		{[]string{"events"}, "missing container id"},
	} {
		r := e.rt(tt.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: want failure mentioning %q, got %s", tt.args, tt.want, r)
		}
	}
	e.delete()
}

// TestUpdate changes limits of a running container: the memory limit is read back from the
// cgroup, and a lowered pids limit makes forks beyond it fail.
func TestUpdate(t *testing.T) {
	requireCgroups(t)
	e := newEnv(t, "sleep", "300")
	pid := e.runBackground()
	paths := procCgroups(t, pid)
	memFile, pidsFile := "memory.limit_in_bytes", "pids.max"
	if cgroupV2() {
		memFile = "memory.max"
	}

	e.mustRT("update", "--memory", "48m", e.id)
	if got := cgroupRead(t, paths, "memory", memFile); got != strconv.Itoa(48<<20) {
		t.Errorf("after update --memory 48m: %s is %q", memFile, got)
	}
	e.mustRT("update", "--pids-limit", "3", e.id)
	if got := cgroupRead(t, paths, "pids", pidsFile); got != "3" {
		t.Errorf("after update --pids-limit 3: pids.max is %q", got)
	}
	// init (sleep) and the exec'd shell are two; the shell's third and fourth children cannot
	// both exist.
	r := e.rt("exec", e.id, "sh", "-c", "sleep 1 & sleep 1 & wait; echo all-forked")
	if r.code == 0 || strings.Contains(r.stdout, "all-forked") || !strings.Contains(r.stderr, "can't fork") {
		t.Errorf("forks beyond the pids limit: want failure, got %s", r)
	}

	// A resources file, and a cgroup (cpu) that create did not make on v1.
	res := `{"memory":{"limit":67108864},"cpu":{"shares":512},"pids":{"limit":100}}`
	r = e.rtStdin([]byte(res), "update", "-r", "-", e.id)
	if r.code != 0 {
		t.Fatalf("update -r -: %s", r)
	}
	if got := cgroupRead(t, paths, "memory", memFile); got != "67108864" {
		t.Errorf("after update -r: %s is %q", memFile, got)
	}
	if got := cgroupRead(t, paths, "pids", pidsFile); got != "100" {
		t.Errorf("after update -r: pids.max is %q", got)
	}
	now := procCgroups(t, pid)
	if cgroupV2() {
		if got := cgroupRead(t, now, "cpu", "cpu.weight"); got != "59" { // runc 1.3's mapping, as at create
			t.Errorf("cpu.weight %q after shares 512", got)
		}
	} else if got := cgroupRead(t, now, "cpu", "cpu.shares"); got != "512" {
		t.Errorf("cpu.shares %q after update", got)
	}
	if r := e.rt("exec", e.id, "sh", "-c", "sleep 0 & sleep 0 & wait; echo all-forked"); r.code != 0 || !strings.Contains(r.stdout, "all-forked") {
		t.Errorf("after raising the pids limit: %s", r)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"update", "--memory", "lots", e.id}, "invalid size"},
		{[]string{"update", "--pids-limit", "x", e.id}, "invalid number"},
		{[]string{"update", "--blkio-weight", "5", e.id}, "10-1000"},
		{[]string{"update", "-r", "/nonexistent.json", e.id}, "read resources"},
		{[]string{"update", "--memory", "1m", "missing-container"}, "does not exist"},
	} {
		r := e.rt(tt.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: want exit 1 mentioning %q, got %s", tt.args, tt.want, r)
		}
	}
	e.delete("--force")
	// delete removes the hierarchies update added too.
	for c, dir := range procCgroupsAfter(now) {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %q left after delete: %s", c, dir)
		}
	}
}

// procCgroupsAfter keeps the container's own cgroup directories of a procCgroups map.
func procCgroupsAfter(paths map[string]string) map[string]string {
	out := map[string]string{}
	for c, dir := range paths {
		if strings.Contains(dir, "/berth-") {
			out[c] = dir
		}
	}
	return out
}
