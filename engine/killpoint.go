package engine

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// KillAtEnv names the test hook that makes a berth process SIGKILL
// itself at a named point of an operation ("create-snapshot"), or at its
// Nth pass there ("pull-pin:3"), so that tests can check that the next
// command repairs what any cut leaves. Unset, a kill point costs a
// string comparison.
const KillAtEnv = "BERTH_TEST_KILL_AT"

var (
	killAtName, killAtNth = parseKillAt(os.Getenv(KillAtEnv))
	killAtSeen            atomic.Int64
)

func parseKillAt(v string) (string, int64) {
	name, nth, ok := strings.Cut(v, ":")
	if !ok {
		return name, 1
	}
	n, err := strconv.ParseInt(nth, 10, 64)
	if err != nil || n < 1 {
		n = 1
	}
	return name, n
}

// killPoint is where a test may kill this process (KillAtEnv).
func killPoint(name string) {
	if killAtName == "" || killAtName != name {
		return
	}
	if killAtSeen.Add(1) != killAtNth {
		return
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
