package cgroups

import (
	"os/exec"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerDevices is the device allowlist a default `docker run` asks for (deny all, then the
// default devices and ptys), the rule set every container gets.
func dockerDevices() []specs.LinuxDeviceCgroup {
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}, {10, 200}} {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(d[0]), Minor: i64(d[1]), Access: "rwm"})
	}
	return rules
}

// BenchmarkLifecycle times Open+Create+Apply+Destroy, the cgroup work of `run` and `delete`.
// Apply moves a long-lived helper in; moving it back out (instead of it exiting) is counted.
func BenchmarkLifecycle(b *testing.B) {
	for _, bc := range []struct {
		name string
		res  func() *specs.LinuxResources
	}{
		{"devices-only", func() *specs.LinuxResources { return &specs.LinuxResources{Devices: dockerDevices()} }},
		{"typical-limits", func() *specs.LinuxResources {
			return &specs.LinuxResources{
				Devices: dockerDevices(),
				Memory:  &specs.LinuxMemory{Limit: i64(512 * mib)},
				CPU:     &specs.LinuxCPU{Shares: u64(1024), Quota: i64(100000), Period: u64(100000)},
				Pids:    &specs.LinuxPids{Limit: i64(1024)},
			}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			parent := testParent(b)
			home := openTest(b, parent+"/home")
			if err := home.Create(&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024), Cpus: "0"}}); err != nil {
				b.Fatal(err)
			}
			// A single-threaded process, like a container's init when it is moved in (a Go
			// helper's threads make each move much slower).
			h := startSleeper(b)
			// Runs before testParent's cleanup: the helper must be gone before rmdir.
			b.Cleanup(func() { h.kill(); _ = home.Destroy() })
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m, err := Open(parent+"/c"+strconv.Itoa(i), "")
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Create(bc.res()); err != nil {
					b.Fatal(err)
				}
				if err := m.Apply(h.pid()); err != nil {
					b.Fatal(err)
				}
				if err := home.Apply(h.pid()); err != nil {
					b.Fatal(err)
				}
				if err := m.Destroy(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// startSleeper starts a single-threaded sleeping process: busybox's or the system's sleep.
func startSleeper(b *testing.B) *helper {
	p, err := exec.LookPath("sleep")
	if err != nil {
		p = busybox(b)
	}
	args := []string{"1000"}
	if p == busybox(b) {
		args = []string{"sleep", "1000"}
	}
	cmd := exec.Command(p, args...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	h := &helper{cmd: cmd}
	b.Cleanup(h.kill)
	return h
}
