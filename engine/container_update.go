package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/engine/spec"
)

// UpdateOptions are `update`'s flags; nil fields are left as they are.
type UpdateOptions struct {
	Memory, MemorySwap, MemoryReservation *int64
	NanoCPUs, CPUShares                   *int64
	CpusetCpus                            *string
	PidsLimit                             *int64
	// Restart is --restart as given (no, always, unless-stopped,
	// on-failure[:N]).
	Restart *string
}

// Empty says no flag was given.
func (o UpdateOptions) Empty() bool {
	return o.Memory == nil && o.MemorySwap == nil && o.MemoryReservation == nil && o.NanoCPUs == nil &&
		o.CPUShares == nil && o.CpusetCpus == nil && o.PidsLimit == nil && o.Restart == nil
}

// UpdateContainer changes a container's resource limits and restart
// policy: in the running container through the runtime, and in its
// record and bundle for later starts. Everything is checked before
// anything changes; a runtime that refuses the new limits leaves the
// record and bundle as they were.
func (e *Engine) UpdateContainer(ctx context.Context, ref string, o UpdateOptions) (Container, error) {
	if o.Empty() {
		return Container{}, errors.New("you must provide one or more flags when using this command")
	}
	var policy *RestartPolicy
	if o.Restart != nil {
		p, err := ParseRestartPolicy(*o.Restart)
		if err != nil {
			return Container{}, err
		}
		policy = &p
	}
	c, release, err := e.lockedContainer(ref)
	if err != nil {
		return c, err
	}
	defer release()
	if policy != nil && policy.Name != "no" && c.AutoRemove {
		return c, errors.New("restart policy cannot be updated because AutoRemove is enabled for the container")
	}
	so := c.Options
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&so.Memory, o.Memory)
	set(&so.MemorySwap, o.MemorySwap)
	set(&so.MemoryReservation, o.MemoryReservation)
	set(&so.NanoCPUs, o.NanoCPUs)
	set(&so.CPUShares, o.CPUShares)
	set(&so.PidsLimit, o.PidsLimit)
	if so.PidsLimit < 0 {
		so.PidsLimit = 0 // unlimited, as create records it
	}
	if o.CpusetCpus != nil {
		so.CpusetCpus = *o.CpusetCpus
	}
	if o.Memory != nil && o.MemorySwap == nil && c.Options.MemorySwap > 0 && *o.Memory > c.Options.MemorySwap {
		return c, errors.New("memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
	}
	res, err := spec.Resources(&so)
	if err != nil {
		return c, err
	}
	bundle := filepath.Join(e.bundleDir(c.ID), "config.json")
	s, err := readSpec(e.bundleDir(c.ID))
	if err != nil {
		return c, fmt.Errorf("update container %s: spec: %w", shortID(c.ID), err)
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	r := s.Linux.Resources
	r.Memory, r.CPU, r.Pids = res.Memory, res.CPU, res.Pids
	if c.State == StateRunning && resourcesGiven(o) {
		if err := e.applyResources(ctx, &c, res); err != nil {
			return c, err
		}
	}
	nb, err := json.Marshal(&s)
	if err != nil {
		return c, err
	}
	if err := writeFileAtomic(bundle, nb); err != nil {
		return c, fmt.Errorf("update container %s: %w", shortID(c.ID), err)
	}
	c.Options = so
	if policy != nil {
		c.RestartPolicy = *policy
	}
	if err := e.PutContainer(c); err != nil {
		return c, err
	}
	e.emitContainer(&c, "update", nil)
	return c, nil
}

func resourcesGiven(o UpdateOptions) bool {
	o.Restart = nil
	return !o.Empty()
}

// applyResources sets the new limits in the live container. A limit that
// was lifted (pids-limit 0 or -1, memory-swap -1) is written as
// unlimited: the runtime leaves a nil field as it is.
func (e *Engine) applyResources(ctx context.Context, c *Container, res *specs.LinuxResources) error {
	upd := &specs.LinuxResources{Memory: res.Memory, CPU: res.CPU, Pids: res.Pids}
	unlimited := int64(-1)
	if upd.Pids == nil && c.Options.PidsLimit > 0 {
		upd.Pids = &specs.LinuxPids{Limit: &unlimited}
	}
	if upd.CPU == nil && (c.Options.NanoCPUs > 0 || c.Options.CPUShares > 0 || c.Options.CpusetCpus != "") {
		upd.CPU = &specs.LinuxCPU{Quota: &unlimited}
	} else if upd.CPU != nil && upd.CPU.Quota == nil && c.Options.NanoCPUs > 0 {
		upd.CPU.Quota = &unlimited
	}
	rt, err := e.ociRuntime(c)
	if err != nil {
		return err
	}
	if err := rt.Update(ctx, c.ID, upd); err != nil {
		return fmt.Errorf("cannot update container %s: %w", shortID(c.ID), err)
	}
	return nil
}

// writeFileAtomic replaces name with data through a temporary file in
// its directory, so that a crash leaves the old file or the new one.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
