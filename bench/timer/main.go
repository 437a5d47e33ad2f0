// Command timer runs a command N times, P at once (each {} in its arguments replaced by the run's
// index), and prints one line: label, runs, median, p90 and wall time in milliseconds, wall/N and
// failures. With -out it appends each duration to a file; -sum FILE summarizes such a file. bench/engine.sh uses it so that no shell fork sits inside a timed span.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/bench/internal/stats"
)

func main() {
	n := flag.Int("n", 1, "runs")
	p := flag.Int("p", 1, "runs at once")
	label := flag.String("label", "cmd", "label printed first")
	out := flag.String("out", "", "append each run's duration (ns) to this file")
	sum := flag.String("sum", "", "print the summary of the durations in this file and exit")
	flag.Parse()
	ms := func(d time.Duration) string { return strings.TrimSuffix(stats.Ms(d), "ms") }
	if *sum != "" {
		b, err := os.ReadFile(*sum)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var ds []time.Duration
		for _, f := range strings.Fields(string(b)) {
			v, _ := strconv.ParseInt(f, 10, 64)
			ds = append(ds, time.Duration(v))
		}
		fmt.Printf("%s %d %s %s\n", *label, len(ds), ms(stats.Median(ds)), ms(stats.Pct(ds, 90)))
		return
	}
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: timer -n N -p P -label L -- CMD ARGS ({} = run index)")
		os.Exit(2)
	}
	var mu sync.Mutex
	var ds []time.Duration
	failures := 0
	var firstErr string
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a := make([]string, len(args))
				for j, s := range args {
					a[j] = strings.ReplaceAll(s, "{}", strconv.Itoa(i))
				}
				cmd := exec.Command(a[0], a[1:]...)
				var errb strings.Builder
				cmd.Stderr = &errb
				t := time.Now()
				err := cmd.Run()
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					failures++
					if firstErr == "" {
						firstErr = fmt.Sprintf("%v: %s", err, strings.TrimSpace(errb.String()))
					}
				} else {
					ds = append(ds, d)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < *n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	wall := time.Since(start)
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			for _, d := range ds {
				fmt.Fprintln(f, int64(d))
			}
			f.Close()
		}
	}
	fmt.Printf("%s %d %s %s %s %s %d\n", *label, *n, ms(stats.Median(ds)), ms(stats.Pct(ds, 90)), ms(wall), ms(wall/time.Duration(*n)), failures)
	if firstErr != "" {
		fmt.Fprintf(os.Stderr, "timer %s: first failure: %s\n", *label, firstErr)
	}
}
