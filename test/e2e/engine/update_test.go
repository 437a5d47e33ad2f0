package engine_test

import (
	"strings"
	"testing"
)

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--name", "upd", "--memory", "32m", "busybox", "sleep", "600")
	if out := e.must("update", "--memory", "64m", "--memory-swap", "128m", "--memory-reservation", "16m", "--cpus", "0.5",
		"--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "20", "--restart", "on-failure:3", "upd"); out != "upd" {
		t.Errorf("update printed %q", out)
	}
	live := []struct{ controller, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"memory", "memory.soft_limit_in_bytes", "16777216"},
		{"pids", "pids.max", "20"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.shares", "512"},
	}
	for _, l := range live {
		if got := cgroupFile(t, e, "upd", l.controller, l.file); got != l.want {
			t.Errorf("live %s: %q, want %q", l.file, got, l.want)
		}
	}
	hc := "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}} " +
		"{{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{json .HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
	const want = "67108864 134217728 16777216 500000000 512 0 20 on-failure:3"
	if got := e.must("inspect", "-f", hc, id); got != want {
		t.Errorf("inspect: %q, want %q", got, want)
	}
	if n := len(readEventLog(t, e, id, "update")); n != 1 {
		t.Errorf("%d update events", n)
	}

	// Lifting a limit writes it unlimited.
	e.must("update", "--pids-limit", "-1", "upd")
	if got := cgroupFile(t, e, "upd", "pids", "pids.max"); got != "max" {
		t.Errorf("pids.max after -1: %q", got)
	}

	// Bad input: one line, 125, nothing changed.
	const after = "67108864 134217728 16777216 500000000 512 0 null on-failure:3"
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"no flags", "one or more flags", []string{"update", "upd"}},
		{"memory too small", "minimum", []string{"update", "--memory", "3m", "upd"}},
		{"memory not a size", "memory", []string{"update", "--memory", "lots", "upd"}},
		{"memory above swap", "memoryswap", []string{"update", "--memory", "200m", "upd"}},
		{"swap below memory", "memory-swap", []string{"update", "--memory-swap", "32m", "upd"}},
		{"cpus too many", "cpus", []string{"update", "--cpus", "999", "upd"}},
		{"cpus not a number", "cpus", []string{"update", "--cpus", "x", "upd"}},
		{"cpuset absent", "cpuset-cpus", []string{"update", "--cpuset-cpus", "1000", "upd"}},
		{"restart bogus", "restart policy", []string{"update", "--restart", "sometimes", "upd"}},
		{"restart count with always", "on-failure", []string{"update", "--restart", "always:3", "upd"}},
		{"restart negative count", "negative", []string{"update", "--restart", "on-failure:-1", "upd"}},
		{"unknown flag", "unknown flag", []string{"update", "--bogus", "1", "upd"}},
		{"missing container", "no such container", []string{"update", "--memory", "64m", "gone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want125(t, e, tc.want, tc.args...)
			if got := e.must("inspect", "-f", hc, id); got != after {
				t.Errorf("changed: %q, want %q", got, after)
			}
		})
	}
	if got := cgroupFile(t, e, "upd", "memory", "memory.limit_in_bytes"); got != "67108864" {
		t.Errorf("live memory after bad input: %q", got)
	}

	// A removed container.
	e.must("rm", "-f", "upd")
	want125(t, e, "no such container", "update", "--memory", "64m", id)

	// A stopped or created container: the record and the bundle, used by
	// the next start.
	c := e.must("create", "--name", "later", "busybox", "sleep", "600")
	e.must("update", "--memory", "48m", "--pids-limit", "7", "later")
	e.must("start", "later")
	if got := cgroupFile(t, e, c, "memory", "memory.limit_in_bytes"); got != "50331648" {
		t.Errorf("memory after start: %q", got)
	}
	if got := cgroupFile(t, e, c, "pids", "pids.max"); got != "7" {
		t.Errorf("pids after start: %q", got)
	}
	e.must("stop", "-t", "0", "later")
	e.must("update", "--restart", "always", "--memory", "40m", "later")
	e.must("start", "later")
	if got := cgroupFile(t, e, c, "memory", "memory.limit_in_bytes"); got != "41943040" {
		t.Errorf("memory after stop, update, start: %q", got)
	}
	if got := e.must("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", c); got != "always" {
		t.Errorf("restart policy: %q", got)
	}
	// --rm containers take no restart policy (Docker's rule).
	rm := e.must("run", "-d", "--rm", "busybox", "sleep", "600")
	want125(t, e, "AutoRemove", "update", "--restart", "always", rm)
	if strings.TrimSpace(e.must("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", rm)) != "no" {
		t.Error("--rm container got a policy")
	}
}
