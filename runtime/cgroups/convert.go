package cgroups

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// sharesToWeight converts v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000). The mapping
// is quadratic in log2(shares) so that the v1 default 1024 lands on the v2 default 100 (a
// linear mapping gives 39, which starves containers that set the default explicitly), and the
// ends map to the ends. 0 means "not set".
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares <= 2 {
		return 1
	}
	if shares >= 262144 {
		return 10000
	}
	l := math.Log2(float64(shares))
	exp := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exp)))
}

// blkioToIOWeight converts a v1 blkio weight (10..1000) to v2 io.weight (1..10000), linearly.
func blkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (uint64(w)-10)*9999/990
}

// swapToV2 converts the OCI (v1) memory+swap limit to v2 memory.swap.max, which counts swap
// alone. It returns the value to write, and false when nothing is to be written.
func swapToV2(swap, memory int64) (string, bool, error) {
	// Memory unlimited and swap unset: v1 would leave both unlimited, so do the same.
	if memory == -1 && swap == 0 {
		return "max", true, nil
	}
	switch {
	case swap == 0:
		return "", false, nil
	case swap == -1:
		return "max", true, nil
	case swap < -1:
		return "", false, fmt.Errorf("invalid memory swap limit %d", swap)
	}
	if memory <= 0 {
		return "", false, errors.New("memory swap limit needs a memory limit")
	}
	if swap < memory {
		return "", false, fmt.Errorf("memory+swap limit %d must be at least the memory limit %d", swap, memory)
	}
	return strconv.FormatInt(swap-memory, 10), true, nil
}

// limitString renders a byte or count limit: -1 (or any negative) is unlimited.
func limitString(v int64, v2 bool) string {
	if v < 0 {
		if v2 {
			return "max"
		}
		return "-1"
	}
	return strconv.FormatInt(v, 10)
}
