package engine

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// procStart is the start time of process pid (clock ticks after boot,
// field 22 of /proc/PID/stat): a pid with the start time recorded for it
// is the same process, not a later one that reused the number.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// comm (field 2) is in parentheses and may hold spaces or ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive tells whether the process recorded as pid with start time start
// still runs (a zombie counts as gone).
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := procStart(pid)
	if err != nil || got != start {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

var (
	bootOnce sync.Once
	bootID   string
)

// currentBoot identifies this boot of the machine.
func currentBoot() string {
	bootOnce.Do(func() {
		b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err == nil {
			bootID = strings.TrimSpace(string(b))
		}
	})
	return bootID
}

var (
	selfOnce  sync.Once
	selfStart uint64
	selfErr   error
)

func self() (int, uint64, error) {
	selfOnce.Do(func() { selfStart, selfErr = procStart(os.Getpid()) })
	return os.Getpid(), selfStart, selfErr
}
