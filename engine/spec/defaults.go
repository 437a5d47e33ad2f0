package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/caps"
)

// DefaultPath is the PATH a container gets when its image sets none (Docker's).
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultShmSize is /dev/shm's size without --shm-size (Docker's 64 MiB).
const DefaultShmSize = 64 << 20

// InitPath is where --init's binary is bound in the container.
const InitPath = "/.berth/init"

// DefaultCapabilities is Docker's default capability set, in Docker's order.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// hostCapabilities is what --privileged and --cap-add ALL give: every capability the kernel
// knows that this process holds. Docker takes the kernel's whole list, which dockerd as full root
// always holds; a daemonless engine may run with fewer (in a container, under a restricted
// root), and the runtime can grant only what it holds. A variable for tests.
var hostCapabilities = func() []string {
	all := caps.Names()
	all = all[:min(caps.Last()+1, len(all))]
	held, err := caps.Permitted()
	if err != nil {
		return all
	}
	var out []string
	for _, n := range all {
		if i, _ := caps.Number(n); held&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// defaultMaskedPaths are Docker 28's (daemon/oci/defaults.go): /proc/interrupts joined the list
// in 28.0 with the per-CPU thermal_throttle directories, which maskedPaths adds from the host.
var defaultMaskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

var defaultReadonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// thermalGlob finds the host's per-CPU thermal_throttle directories (their interrupt counts leak
// host activity, the reason Docker 28 masks them). A variable so tests can point it elsewhere.
var thermalGlob = "/sys/devices/system/cpu/cpu*/thermal_throttle"

func maskedPaths() []string {
	out := slices.Clone(defaultMaskedPaths)
	m, _ := filepath.Glob(thermalGlob)
	return append(out, m...)
}

func i64p(v int64) *int64 { return &v }

// defaultDeviceRules are Docker's cgroup device rules: deny all, then the default devices; fuse
// is denied explicitly as Docker does. The runtime adds its own rules for ptys and /dev/console.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: i64p(major), Minor: i64p(minor), Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, 1, 5),     // /dev/zero
		rule(true, 1, 3),     // /dev/null
		rule(true, 1, 9),     // /dev/urandom
		rule(true, 1, 8),     // /dev/random
		rule(true, 5, 0),     // /dev/tty
		rule(true, 5, 1),     // /dev/console
		rule(false, 10, 229), // /dev/fuse
	}
}

// defaultMounts are Docker's, with /dev/shm sized; /sys/fs/cgroup is read-only.
func defaultMounts(shmSize int64) []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shmSize)}},
	}
}

// NormalizeCapability turns a --cap-add/--cap-drop name into CAP_X form (case-insensitive, with
// or without the prefix); "ALL" stays ALL.
func NormalizeCapability(flag, c string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(c))
	if u == "ALL" {
		return u, nil
	}
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	if _, ok := caps.Number(u); !ok {
		return "", fmt.Errorf("invalid %s %q: unknown capability", flag, c)
	}
	return u, nil
}

// capabilities is Docker's TweakCapabilities: ALL in adds gives every capability but the dropped
// ones; ALL in drops gives only the added ones; otherwise the defaults minus drops plus adds.
func capabilities(add, drop []string, privileged bool) ([]string, error) {
	if privileged {
		return hostCapabilities(), nil
	}
	norm := func(flag string, in []string) ([]string, error) {
		var out []string
		for _, c := range in {
			n, err := NormalizeCapability(flag, c)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	adds, err := norm("--cap-add", add)
	if err != nil {
		return nil, err
	}
	drops, err := norm("--cap-drop", drop)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(adds, "ALL"):
		for _, c := range hostCapabilities() {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drops, "ALL"):
		caps = adds
	default:
		for _, c := range DefaultCapabilities {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range adds {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}
