package runtime_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcessAttributes covers the process settings the other files do not: the scheduler,
// the I/O priority and the personality, each read back from inside the container.
func TestProcessAttributes(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		edit func(s *specs.Spec)
		want string
	}{
		{
			name: "scheduler batch nice",
			// Field 19 of /proc/self/stat is nice, field 41 the policy (3 = SCHED_BATCH).
			cmd:  `set -- $(cat /proc/self/stat); shift 18; n=$1; shift 22; echo nice=$n policy=$1`,
			edit: func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5} },
			want: "nice=5 policy=3",
		},
		{
			name: "ioprio best effort",
			cmd:  `ionice -p $$`,
			edit: func(s *specs.Spec) {
				s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
			},
			want: "best-effort: prio 6",
		},
		{
			name: "personality linux32",
			cmd:  `uname -m`,
			edit: func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32} },
			want: "i686",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "sh", "-c", tt.cmd)
			tt.edit(e.spec)
			if out := strings.TrimSpace(e.mustRun()); !strings.Contains(out, tt.want) {
				t.Fatalf("output %q, want %q", out, tt.want)
			}
		})
	}
}

// TestNoPivot runs a container with chroot instead of pivot_root (--no-pivot), as runc does for
// roots that cannot be pivoted (an initramfs).
func TestNoPivot(t *testing.T) {
	e := newEnv(t, "sh", "-c", "ls /; cat /etc/hostname")
	e.write()
	r := e.rt("run", "--no-pivot", "--bundle", e.bundle, e.id)
	if r.code != 0 || !strings.Contains(r.stdout, "bin") {
		t.Fatalf("run --no-pivot: %s", r)
	}
}

// TestKillAll signals every process of a container, not only init: a container without its
// own pid namespace has processes that init's death does not take along.
func TestKillAll(t *testing.T) {
	e := newEnv(t, "sh", "-c", "sleep 300 & sleep 300 & wait")
	var ns []specs.LinuxNamespace
	for _, n := range e.spec.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			ns = append(ns, n)
		}
	}
	e.spec.Linux.Namespaces = ns
	e.spec.Linux.MaskedPaths = nil
	pid, _ := e.create()
	e.start()
	// Wait for both sleeps to exist.
	var kids []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/" + itoa(pid) + "/task/" + itoa(pid) + "/children")
		kids = strings.Fields(string(b))
		if len(kids) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(kids) != 2 {
		t.Fatalf("children of init: %v", kids)
	}
	if r := e.rt("kill", "--all", e.id, "KILL"); r.code != 0 {
		t.Fatalf("kill --all: %s", r)
	}
	for _, k := range kids {
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile("/proc/" + k + "/stat")
			if err != nil || strings.Contains(string(b), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %s survived kill --all", k)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	e.waitStopped()
	if r := e.rt("delete", e.id); r.code != 0 {
		t.Fatalf("delete: %s", r)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
