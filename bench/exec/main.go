// Command exec times `RUNTIME exec CONTAINER true` in a running container for several OCI
// runtimes side by side: one long-running container per runtime, then exec calls interleaved
// across the runtimes (rotating the order, so that machine noise hits all alike). It prints
// medians, p90, peak RSS and ratios against the first runtime. bench/runtime-exec.sh sets up the
// bundle (a long sleep) and the environment.
package main

import (
	"flag"
	"fmt"
	"github.com/berth-dev/berth/bench/internal/stats"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type runtime struct {
	name, bin, root, id string
	times               []time.Duration
	rss                 []int64 // KiB
	failures            int
	lastErr             error
}

func main() { os.Exit(realMain()) }

// realMain returns the exit status, so that its deferred clean-up runs before the exit.
func realMain() int {
	bundle := flag.String("bundle", "", "OCI bundle whose process runs for the whole benchmark")
	n := flag.Int("n", 200, "exec calls per runtime")
	rtFlag := flag.String("runtimes", "", "comma-separated name=binary list; the first is the one compared")
	flag.Parse()
	if *bundle == "" || *rtFlag == "" {
		fmt.Fprintln(os.Stderr, "usage: exec -bundle DIR -runtimes berth=PATH,crun=PATH,runc=PATH [-n N]")
		return 2
	}
	tmp, err := os.MkdirTemp("", "exec-bench")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	var rts []*runtime
	for _, kv := range strings.Split(*rtFlag, ",") {
		name, bin, ok := strings.Cut(kv, "=")
		if !ok {
			return fail(fmt.Errorf("bad runtime %q", kv))
		}
		rts = append(rts, &runtime{name: name, bin: bin, root: filepath.Join(tmp, name), id: "bench-exec-" + name})
	}
	// Whatever happens, take the containers down again.
	defer func() {
		for _, rt := range rts {
			_ = exec.Command(rt.bin, "--root", rt.root, "delete", "--force", rt.id).Run()
		}
	}()
	for _, rt := range rts {
		cmd := exec.Command(rt.bin, "--root", rt.root, "run", "--detach", "--bundle", *bundle, rt.id)
		// stdio stays /dev/null: a pipe would be held open by the container.
		if err := cmd.Run(); err != nil {
			return fail(fmt.Errorf("%s run --detach: %w", rt.name, err))
		}
		// Warm up caches (binary pages, dentries).
		if _, _, err := execOnce(rt); err != nil {
			return fail(fmt.Errorf("%s does not exec: %w", rt.name, err))
		}
	}
	for i := 0; i < *n; i++ {
		for j := range rts {
			rt := rts[(i+j)%len(rts)]
			d, rss, err := execOnce(rt)
			if err != nil {
				rt.failures++
				rt.lastErr = err
				continue
			}
			rt.times = append(rt.times, d)
			rt.rss = append(rt.rss, rss)
		}
	}
	base := rts[0]
	fmt.Printf("%-8s %12s %12s %12s %10s %9s %9s\n", "runtime", "exec median", "exec p90", "exec min", "peak RSS", "time x", "rss x")
	for _, rt := range rts {
		fmt.Printf("%-8s %12s %12s %12s %8dKiB %9.2f %9.2f  (failures %d)\n", rt.name,
			stats.Ms(stats.Pct(rt.times, 50)), stats.Ms(stats.Pct(rt.times, 90)), stats.Ms(stats.Pct(rt.times, 0)), stats.Max(rt.rss),
			stats.Ratio(stats.Pct(base.times, 50), stats.Pct(rt.times, 50)), float64(stats.Max(base.rss))/float64(max(stats.Max(rt.rss), 1)), rt.failures)
		if rt.lastErr != nil {
			fmt.Printf("  last failure: %v\n", rt.lastErr)
		}
	}
	fmt.Printf("ratios: %s / other (below 1: %s is faster or smaller)\n", base.name, base.name)
	return 0
}

func execOnce(rt *runtime) (time.Duration, int64, error) {
	cmd := exec.Command(rt.bin, "--root", rt.root, "exec", rt.id, "true")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, out)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "exec:", err)
	return 1
}
