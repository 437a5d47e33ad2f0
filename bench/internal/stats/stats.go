// Package stats holds the small summaries the side-by-side benchmarks print.
package stats

import (
	"fmt"
	"sort"
	"time"
)

// Pct returns the p-th percentile (nearest rank) of d.
func Pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

// Median is Pct(d, 50).
func Median(d []time.Duration) time.Duration { return Pct(d, 50) }

// Max returns the largest value of v, 0 for none.
func Max(v []int64) int64 {
	var m int64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// Ratio returns a/b, 0 when b is 0.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Ms formats d in milliseconds.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
