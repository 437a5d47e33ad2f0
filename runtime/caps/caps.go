// Package caps maps OCI capability names to the kernel's bit numbers.
package caps

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// names in kernel order: the index is the capability number.
var names = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// Names returns every capability name this build knows, in kernel order.
func Names() []string { return append([]string(nil), names...) }

var (
	lastOnce sync.Once
	last     int
)

// Last returns the highest capability number the running kernel knows.
func Last() int {
	lastOnce.Do(func() {
		last = len(names) - 1
		if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < 64 {
				last = n
			}
		}
	})
	return last
}

// Number returns the bit number of a capability name ("CAP_CHOWN").
func Number(name string) (int, bool) {
	for i, n := range names {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// Set holds the five capability sets as bit masks.
type Set struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// FromSpec converts the spec's capability lists. Names this kernel or build does not know are
// skipped with a warning, as runc does, so that a newer profile still runs on an older kernel.
func FromSpec(c *specs.LinuxCapabilities) (Set, []string) {
	var s Set
	if c == nil {
		return s, nil
	}
	var warnings []string
	warned := map[string]bool{}
	conv := func(list []string) uint64 {
		var m uint64
		for _, n := range list {
			i, ok := Number(strings.ToUpper(n))
			if !ok || i > Last() {
				if !warned[n] {
					warnings = append(warnings, fmt.Sprintf("unknown capability %q ignored", n))
					warned[n] = true
				}
				continue
			}
			m |= 1 << uint(i)
		}
		return m
	}
	s.Bounding = conv(c.Bounding)
	s.Effective = conv(c.Effective)
	s.Permitted = conv(c.Permitted)
	s.Inheritable = conv(c.Inheritable)
	s.Ambient = conv(c.Ambient)
	return s, warnings
}

// Permitted returns the calling thread's permitted set.
func Permitted() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32, nil
}

// NamesOf lists the names of the capabilities in mask.
func NamesOf(mask uint64) []string {
	var out []string
	for i := 0; i < 64; i++ {
		if mask&(1<<uint(i)) == 0 {
			continue
		}
		if i < len(names) {
			out = append(out, names[i])
		} else {
			out = append(out, "capability "+strconv.Itoa(i))
		}
	}
	return out
}
