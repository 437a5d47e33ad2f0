package engine_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBuildParallelStages: two stages that need nothing of each other
// run at the same time (each writes the system's uptime before and after
// its sleep; the intervals overlap), the final stage takes both, and
// each line of the interleaved progress names its step.
func TestBuildParallelStages(t *testing.T) {
	e := newEnv(t)
	step := `RUN cut -d" " -f1 /proc/uptime > /t && sleep 1 && echo stage-%s && cut -d" " -f1 /proc/uptime >> /t`
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox AS a\n" + strings.ReplaceAll(step, "%s", "a") + "\n" +
			"FROM busybox AS b\n" + strings.ReplaceAll(step, "%s", "b") + "\n" +
			"FROM busybox\nCOPY --from=a /t /a\nCOPY --from=b /t /b\n",
	})
	start := time.Now()
	iid := filepath.Join(t.TempDir(), "iid")
	progress := e.build("-t", "par", "--iidfile", iid, dir)
	t.Logf("build took %v", time.Since(start))
	interval := func(file string) [2]float64 {
		f := strings.Fields(e.must("run", "--rm", "par", "cat", file))
		if len(f) != 2 {
			t.Fatalf("%s: %q", file, f)
		}
		var iv [2]float64
		for i := range f {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				t.Fatal(err)
			}
			iv[i] = v
		}
		return iv
	}
	a, b := interval("/a"), interval("/b")
	if !(a[0] < b[1] && b[0] < a[1]) {
		t.Errorf("the stages ran one after the other: a %v, b %v\n%s", a, b, progress)
	}
	// Each output line is its vertex's: "#N <secs> stage-x" under the
	// header "#N [x 2/2] RUN ...".
	vertexOf := map[string]string{}
	for _, l := range strings.Split(progress, "\n") {
		id, rest, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(id, "#") {
			continue
		}
		for _, s := range []string{"a", "b"} {
			if strings.HasPrefix(rest, "["+s+" 2/2] RUN") {
				vertexOf["hdr-"+s] = id
			}
			if strings.HasSuffix(rest, " stage-"+s) {
				vertexOf["out-"+s] = id
			}
		}
	}
	for _, s := range []string{"a", "b"} {
		if vertexOf["hdr-"+s] == "" || vertexOf["hdr-"+s] != vertexOf["out-"+s] {
			t.Errorf("stage %s: output not under its step (%v):\n%s", s, vertexOf, progress)
		}
	}
	// Rebuilt, nothing runs, and the result is the same image.
	id1, _ := os.ReadFile(iid)
	again := e.build("-t", "par", "--iidfile", iid, dir)
	if strings.Count(again, "CACHED") < 4 || strings.Contains(again, " stage-a\n") {
		t.Errorf("rebuild ran steps:\n%s", again)
	}
	if id2, _ := os.ReadFile(iid); string(id1) != string(id2) {
		t.Errorf("rebuild gave %s, then %s", id1, id2)
	}
}

// TestBuildParallelFailure: a stage that fails cancels the one running
// beside it: the build fails at once with the failing step's error, the
// other step is CANCELED, and no container, process or mount of either
// is left.
func TestBuildParallelFailure(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "FROM busybox AS slow\nRUN echo started && sleep 31\n" +
			"FROM busybox AS bad\nRUN sleep 0.5; echo failing; exit 3\n" +
			"FROM busybox\nCOPY --from=slow /etc/passwd /a\nCOPY --from=bad /etc/passwd /b\n",
	})
	start := time.Now()
	_, errOut, code := e.berth("build", "--progress", "plain", "--network", "none", dir)
	took := time.Since(start)
	if code == 0 {
		t.Fatalf("the build succeeded:\n%s", errOut)
	}
	if took > 15*time.Second {
		t.Errorf("the failure took %v: the other stage was not stopped", took)
	}
	for _, want := range []string{"exit code: 3", "CANCELED", "failing"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "context canceled") {
		t.Errorf("the error is the cancellation's, not the failure's:\n%s", errOut)
	}
	if ps := e.must("ps", "-aq"); ps != "" {
		t.Errorf("containers left: %q", ps)
	}
	if p := sleepers("31"); p != "" {
		t.Errorf("the cancelled step's process is left: %s", p)
	}
	// The monitors' exit commands may still be running a moment.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := leftovers(e.root, e.runRoot)
		if left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("left behind:\n%s", left)
			break
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.root, "build", "tmp")); len(ents) != 0 {
		t.Errorf("ROOT/build/tmp: %d entries left", len(ents))
	}
}

// sleepers are the pids of processes running "sleep ARG".
func sleepers(arg string) string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if string(b) == "sleep\x00"+arg+"\x00" {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return strings.Join(out, " ")
}
