package container

import (
	"fmt"
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkUser refuses ids the kernel would misread: setresuid and setresgid take them as signed
// 32-bit values, where 4294967295 is -1, "leave unchanged", so the process would keep the
// runtime's root; and ids above 2147483647 are invalid in every user namespace.
func checkUser(u specs.User, field string) error {
	if u.UID > math.MaxInt32 {
		return fmt.Errorf("%s.uid %d is out of range (0 to %d)", field, u.UID, math.MaxInt32)
	}
	if u.GID > math.MaxInt32 {
		return fmt.Errorf("%s.gid %d is out of range (0 to %d)", field, u.GID, math.MaxInt32)
	}
	for _, g := range u.AdditionalGids {
		if g > math.MaxInt32 {
			return fmt.Errorf("%s.additionalGids: gid %d is out of range (0 to %d)", field, g, math.MaxInt32)
		}
	}
	return nil
}

// checkResources refuses negative limits other than the spec's -1 for "unlimited": the cgroup
// drivers would write them as no limit, or as a huge one, silently.
func checkResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	type limit struct {
		name string
		v    *int64
	}
	var limits []limit
	if m := r.Memory; m != nil {
		limits = append(limits, limit{"memory.limit", m.Limit}, limit{"memory.reservation", m.Reservation},
			limit{"memory.swap", m.Swap}, limit{"memory.kernelTCP", m.KernelTCP})
		//lint:ignore SA1019 the field is deprecated, but a spec may still set it: check it as the others.
		limits = append(limits, limit{"memory.kernel", m.Kernel})
	}
	if p := r.Pids; p != nil {
		limits = append(limits, limit{"pids.limit", p.Limit})
	}
	if c := r.CPU; c != nil {
		limits = append(limits, limit{"cpu.quota", c.Quota}, limit{"cpu.realtimeRuntime", c.RealtimeRuntime})
	}
	for _, l := range limits {
		if l.v != nil && *l.v < -1 {
			return fmt.Errorf("linux.resources.%s %d is invalid: a limit is -1 (unlimited) or not negative", l.name, *l.v)
		}
	}
	return nil
}
