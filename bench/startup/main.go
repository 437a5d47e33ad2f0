// Command startup times `RUNTIME run` of a bundle for several OCI runtimes side by side:
// sequential runs interleaved across runtimes (so machine noise hits all alike), then batches of
// concurrent runs. It prints medians, peak RSS (from the kernel's rusage of each run) and ratios
// against the first runtime. bench/runtime-startup.sh sets up the bundle and the environment.
package main

import (
	"flag"
	"fmt"
	"github.com/berth-dev/berth/bench/internal/stats"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

type runtime struct {
	name, bin, root string
	seq, conc       []time.Duration
	cpu, concCPU    []time.Duration // user+sys of the runtime and what it waited for
	rss             []int64         // KiB
	failures        int
}

func main() {
	bundle := flag.String("bundle", "", "OCI bundle to run")
	n := flag.Int("n", 100, "sequential runs per runtime")
	conc := flag.Int("concurrent", 20, "containers started at once per batch")
	batches := flag.Int("batches", 3, "concurrent batches per runtime")
	rtFlag := flag.String("runtimes", "", "comma-separated name=binary list; the first is the one compared")
	flag.Parse()
	if *bundle == "" || *rtFlag == "" {
		fmt.Fprintln(os.Stderr, "usage: startup -bundle DIR -runtimes berth=PATH,crun=PATH,runc=PATH")
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "startup-bench")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	var rts []*runtime
	for _, kv := range strings.Split(*rtFlag, ",") {
		name, bin, ok := strings.Cut(kv, "=")
		if !ok {
			fail(fmt.Errorf("bad runtime %q", kv))
		}
		rts = append(rts, &runtime{name: name, bin: bin, root: filepath.Join(tmp, name)})
	}
	// Warm up caches (binary pages, dentries) once per runtime.
	for _, rt := range rts {
		if _, _, _, err := runOnce(rt, *bundle, "warm"); err != nil {
			fail(fmt.Errorf("%s does not run the bundle: %w", rt.name, err))
		}
	}
	for i := 0; i < *n; i++ {
		// Rotate the order every iteration.
		for j := range rts {
			rt := rts[(i+j)%len(rts)]
			d, cpu, rss, err := runOnce(rt, *bundle, fmt.Sprintf("s%d", i))
			if err != nil {
				rt.failures++
				continue
			}
			rt.seq = append(rt.seq, d)
			rt.cpu = append(rt.cpu, cpu)
			rt.rss = append(rt.rss, rss)
		}
	}
	for b := 0; b < *batches; b++ {
		for j := range rts {
			rt := rts[(b+j)%len(rts)]
			var wg sync.WaitGroup
			var mu sync.Mutex
			for k := 0; k < *conc; k++ {
				wg.Add(1)
				go func(k int) {
					defer wg.Done()
					d, cpu, _, err := runOnce(rt, *bundle, fmt.Sprintf("c%d-%d", b, k))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						rt.failures++
						return
					}
					rt.conc = append(rt.conc, d)
					rt.concCPU = append(rt.concCPU, cpu)
				}(k)
			}
			wg.Wait()
		}
	}
	base := rts[0]
	fmt.Printf("%-8s %12s %12s %12s %10s %10s %10s %9s %9s %9s %9s\n", "runtime", "seq median", "seq p90", "conc median", "cpu/run", "conc cpu", "peak RSS", "seq x", "conc x", "cpu x", "rss x")
	for _, rt := range rts {
		fmt.Printf("%-8s %12s %12s %12s %10s %10s %8dKiB %9.2f %9.2f %9.2f %9.2f  (failures %d)\n", rt.name,
			stats.Ms(stats.Median(rt.seq)), stats.Ms(stats.Pct(rt.seq, 90)), stats.Ms(stats.Median(rt.conc)), stats.Ms(stats.Median(rt.cpu)), stats.Ms(stats.Median(rt.concCPU)), stats.Max(rt.rss),
			stats.Ratio(stats.Median(base.seq), stats.Median(rt.seq)), stats.Ratio(stats.Median(base.conc), stats.Median(rt.conc)),
			stats.Ratio(stats.Median(base.cpu), stats.Median(rt.cpu)),
			float64(stats.Max(base.rss))/float64(stats.Max(rt.rss)), rt.failures)
	}
	fmt.Println("cpu/run, conc cpu: median user+sys CPU time of one run, sequential and concurrent (the runtime")
	fmt.Println("and the processes it waited for); with many at once on few cores the concurrent median follows it.")
	fmt.Printf("ratios: %s time / other time (below 1: %s is faster)\n", base.name, base.name)
}

func runOnce(rt *runtime, bundle, id string) (time.Duration, time.Duration, int64, error) {
	cmd := exec.Command(rt.bin, "--root", rt.root, "run", "--bundle", bundle, "bench-"+id)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%v: %s", err, out)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "startup:", err)
	os.Exit(1)
}
