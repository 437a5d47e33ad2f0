package container

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/nsexec"
)

// ExecPlan is what Exec does for one process, prepared once for a caller that starts that
// process itself, many times (the monitor's health checks): the cgroup.procs files to join
// (host paths, before any namespace), the namespace files to join (opened all first, then
// joined in order), and the plan that the process runs after the fork into the pid
// namespace: the same identity, capabilities, seccomp filter and exec as Exec's. The process
// gets fds 0-2 and nothing else.
type ExecPlan struct {
	CgroupProcs []string
	Namespaces  []ExecNamespace
	Plan        []byte // framed as nsexec reads it: u32 length, then the operations
}

// ExecNamespace is one namespace to join: its file and CLONE_NEW* type.
type ExecNamespace struct {
	Path string
	Type int
}

// PrepareExec builds the ExecPlan of proc (a non-terminal process). It fails where Exec would
// fail before starting anything.
func (c *Container) PrepareExec(proc *specs.Process, warn func(string)) (*ExecPlan, error) {
	if warn == nil {
		warn = func(string) {}
	}
	switch st := c.Status(); st {
	case StatusRunning, StatusCreated:
	default:
		return nil, errorf(ErrNotRunning, "cannot exec in a stopped container %s", c.s.ID)
	}
	if proc == nil || len(proc.Args) == 0 {
		return nil, errors.New("exec: process args must not be empty")
	}
	if proc.Terminal {
		return nil, errors.New("exec: a prepared exec cannot have a terminal")
	}
	if err := checkUser(proc.User, "process.user"); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	if err := checkLSM(proc, ""); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	if proc.ApparmorProfile != "" {
		// Writing the profile needs the procfs handle the runtime's own path sets up.
		return nil, errors.New("exec: a prepared exec cannot apply an AppArmor profile")
	}
	spec, err := c.spec()
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	pid := c.s.Pid
	ep := &ExecPlan{}
	for _, t := range joinOrder {
		if _, ok := hasNS(spec, t); ok {
			ep.Namespaces = append(ep.Namespaces, ExecNamespace{Path: fmt.Sprintf("/proc/%d/ns/%s", pid, nsFiles[t]), Type: nsFlags[t]})
		}
	}
	if len(c.s.CgroupPaths) > 0 {
		if ep.CgroupProcs, err = cgroups.ProcsFiles(c.s.CgroupPaths); err != nil {
			return nil, fmt.Errorf("exec: cgroup: %w", err)
		}
	}
	if !c.initAlive() {
		return nil, errorf(ErrNotRunning, "cannot exec in a stopped container %s", c.s.ID)
	}
	ls := launchSpec{}
	in := &planInput{spec: spec, consoleFd: ls.consoleFd(), firstFreeFd: ls.firstFreeFd(), warn: warn, keyring: c.keyringName()}
	in.noSetgroups = setgroupsDenied(pid)
	var p nsexec.Plan
	if c.s.HostMounts {
		p.ChrootInPlace(c.s.Rootfs)
	}
	if err := processPlan(&p, in, proc, false); err != nil {
		return nil, err
	}
	ep.Plan = p.Bytes()
	return ep, nil
}
