package engine_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type statsJSON struct {
	Container, Name, ID, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	// A busy container held to a fifth of a CPU, an idle one with two
	// processes, and a stopped one.
	busy := e.must("run", "-d", "--name", "busy", "--cpus", "0.2", "--memory", "64m", "busybox", "sh", "-c", "while :; do :; done")
	idle := e.runReady("--name", "idle", "busybox", "sh", "-c", "sleep 600 & echo ready; wait")
	stopped := e.must("create", "--name", "stopped", "busybox", "true")
	time.Sleep(300 * time.Millisecond)

	out := e.must("stats", "--no-stream")
	lines := strings.Split(out, "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS") {
		t.Errorf("stats --no-stream:\n%s", out)
	}
	if strings.Contains(out, "stopped") {
		t.Errorf("a stopped container without -a:\n%s", out)
	}
	rows := map[string]statsJSON{}
	for _, l := range strings.Split(e.must("stats", "--no-stream", "-a", "--format", "json"), "\n") {
		var r statsJSON
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("json line %q: %v", l, err)
		}
		rows[r.Name] = r
	}
	if len(rows) != 3 {
		t.Fatalf("stats -a: %v", rows)
	}
	b, i, s := rows["busy"], rows["idle"], rows["stopped"]
	pct := func(v string) float64 {
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil || !strings.HasSuffix(v, "%") {
			t.Errorf("percentage %q", v)
		}
		return f
	}
	if c := pct(b.CPUPerc); c < 2 || c > 40 {
		t.Errorf("busy CPU %s, want about 20%%", b.CPUPerc)
	}
	if c := pct(i.CPUPerc); c > 5 {
		t.Errorf("idle CPU %s", i.CPUPerc)
	}
	if !strings.HasSuffix(b.MemUsage, " / 64MiB") || pct(b.MemPerc) <= 0 || b.PIDs != "1" || b.ID != busy[:12] || b.Container != busy {
		t.Errorf("busy: %+v", b)
	}
	if !strings.Contains(i.MemUsage, "iB / ") || i.PIDs != "2" || i.NetIO != "0B / 0B" || !strings.Contains(i.BlockIO, " / ") || i.ID != idle[:12] {
		t.Errorf("idle: %+v", i)
	}
	if s != (statsJSON{Container: stopped, Name: "stopped", ID: stopped[:12], CPUPerc: "0.00%", MemUsage: "0B / 0B", MemPerc: "0.00%",
		NetIO: "0B / 0B", BlockIO: "0B / 0B", PIDs: "0"}) {
		t.Errorf("stopped: %+v", s)
	}

	// Named containers, templates, --no-trunc.
	if got := e.must("stats", "--no-stream", "--format", "{{.Container}} {{.Name}} {{.PIDs}}", "idle", busy[:8]); got != "idle idle 2\n"+busy[:8]+" busy 1" {
		t.Errorf("named: %q", got)
	}
	if got := e.must("stats", "--no-stream", "--format", `table {{.Name}}\t{{.PIDs}}`, "idle"); got != "NAME      PIDS\nidle      2" {
		t.Errorf("table template: %q", got)
	}
	if got := e.must("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}", "busy"); got != busy {
		t.Errorf("--no-trunc: %q", got)
	}
	if got := e.must("stats", "--no-stream", "--format", "table", "idle"); !strings.HasPrefix(got, "CONTAINER ID") {
		t.Errorf("--format table: %q", got)
	}

	// Streaming redraws every second until interrupted.
	cmd := e.cmd("stats", "idle")
	var buf bytes.Buffer
	cmd.Stdout = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2300 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if n := strings.Count(buf.String(), "\033[2J\033[H"); n < 2 || n > 4 || err != nil {
		t.Errorf("streaming: %d frames, %v:\n%q", n, err, buf.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.ExitStatus() != 0 {
		t.Errorf("streaming exit: %v", cmd.ProcessState)
	}

	want125(t, e, "no such container", "stats", "--no-stream", "gone")
	want125(t, e, "invalid --format", "stats", "--no-stream", "--format", "{{.Name")
	want125(t, e, "unknown flag", "stats", "--bogus")
}
