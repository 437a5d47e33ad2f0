package container

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/cgroups"
)

// cgroup loads the manager of the container's cgroup.
func (c *Container) cgroup() (cgroups.Manager, error) {
	if len(c.s.CgroupPaths) == 0 {
		return nil, errorf(ErrNoCgroup, "container %s has no cgroup of its own", c.s.ID)
	}
	cg, err := cgroups.Load(c.s.CgroupPaths)
	if err != nil {
		return nil, fmt.Errorf("cgroup of %s: %w", c.s.ID, err)
	}
	return cg, nil
}

// UpdateResources changes the limits of a live container (runc update). The v1 driver may make
// hierarchies Create skipped (a first cpu or blkio limit), so the paths are saved again, and the
// saved config records the new limits so that a later update or `state` sees them.
func (c *Container) UpdateResources(r *specs.LinuxResources) error {
	if r == nil {
		return errors.New("update: no resources given")
	}
	if err := checkResources(r); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if st := c.Status(); st == StatusStopped {
		return errorf(ErrNotRunning, "cannot update a stopped container %s", c.s.ID)
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	setErr := cg.Set(r)
	// Saved even when Set failed part way: a hierarchy it made must still be removed by delete.
	c.s.CgroupPaths = cg.Paths()
	if spec, err := c.spec(); setErr == nil && err == nil {
		if spec.Linux == nil {
			spec.Linux = &specs.Linux{}
		}
		spec.Linux.Resources = mergeResources(spec.Linux.Resources, r)
		c.s.RawSpec = nil // encoded again by save
	}
	if err := c.save(); err != nil {
		return err
	}
	if setErr != nil {
		return fmt.Errorf("update %s: %w", c.s.ID, setErr)
	}
	return nil
}

// Stats reads the container's cgroup counters (events --stats).
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// OOMKills counts the processes of the container the memory controller has killed.
func (c *Container) OOMKills() (uint64, error) {
	cg, err := c.cgroup()
	if err != nil {
		return 0, err
	}
	return cg.OOMKills()
}

// mergeResources lays the fields update set over the saved ones; only the fields update can
// change (memory, cpu, pids, blkio weight) are merged.
func mergeResources(old, upd *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if old != nil {
		cp := *old
		out = &cp
	}
	if m := upd.Memory; m != nil {
		mem := specs.LinuxMemory{}
		if out.Memory != nil {
			mem = *out.Memory
		}
		setI64(&mem.Limit, m.Limit)
		setI64(&mem.Reservation, m.Reservation)
		setI64(&mem.Swap, m.Swap)
		out.Memory = &mem
	}
	if u := upd.CPU; u != nil {
		cpu := specs.LinuxCPU{}
		if out.CPU != nil {
			cpu = *out.CPU
		}
		if u.Shares != nil {
			cpu.Shares = u.Shares
		}
		setI64(&cpu.Quota, u.Quota)
		if u.Period != nil {
			cpu.Period = u.Period
		}
		if u.Cpus != "" {
			cpu.Cpus = u.Cpus
		}
		if u.Mems != "" {
			cpu.Mems = u.Mems
		}
		out.CPU = &cpu
	}
	if upd.Pids != nil {
		p := *upd.Pids
		out.Pids = &p
	}
	if b := upd.BlockIO; b != nil && b.Weight != nil {
		bio := specs.LinuxBlockIO{}
		if out.BlockIO != nil {
			bio = *out.BlockIO
		}
		bio.Weight = b.Weight
		out.BlockIO = &bio
	}
	return out
}

func setI64(dst **int64, v *int64) {
	if v != nil {
		*dst = v
	}
}
