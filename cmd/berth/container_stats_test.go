package main

import (
	"math"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
)

func TestStatsFormatting(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 1023: "1023B", 1024: "1KiB", 1536: "1.5KiB", 67108864: "64MiB", 25273114624: "23.54GiB"} {
		if got := binarySize(n); got != want {
			t.Errorf("binarySize(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1088000: "1.088MB", 102400: "102.4kB"} {
		if got := humanSize4(n); got != want {
			t.Errorf("humanSize4(%d) = %q, want %q", n, got, want)
		}
	}
	if got := reclaimable(50, 200); got != "50B (25%)" {
		t.Errorf("reclaimable: %q", got)
	}
	// Docker's formula: CPU delta over host delta times the CPUs.
	prev := &engine.StatsSample{CPUTotal: 1e9, SystemCPU: 10e9}
	cur := engine.StatsSample{CPUTotal: 1.5e9, SystemCPU: 12e9, OnlineCPUs: 2}
	if got := cpuPercent(cur, prev, time.Time{}); math.Abs(got-50) > 1e-9 {
		t.Errorf("cpuPercent = %v, want 50", got)
	}
	// No earlier sample: the container's life so far.
	start := time.Now().Add(-2 * time.Second)
	if got := cpuPercent(engine.StatsSample{Read: start.Add(2 * time.Second), CPUTotal: 1e9}, nil, start); math.Abs(got-50) > 1e-9 {
		t.Errorf("cpuPercent since start = %v, want 50", got)
	}
}

func TestTopOf(t *testing.T) {
	// This test process's own row, found by pid among the host's.
	titles, procs, err := topOf([]string{"-o", "pid,args"}, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if len(titles) != 2 || titles[0] != "PID" || len(procs) != 1 || procs[0][0] != "1" {
		t.Errorf("topOf: %v %v", titles, procs)
	}
	if _, _, err := topOf([]string{"-o", "comm"}, []int{1}); err == nil {
		t.Error("no PID column accepted")
	}
}
