package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/container"
)

// writeExecPlan is `exec --prepare FILE`: the exec of proc, prepared (container.PrepareExec)
// for berth-monitor, which runs it itself for each health check. The file is text lines, then
// the plan's bytes:
//
//	berth-exec-plan 1
//	cgroup PATH        a cgroup.procs file to write "0" to (host path; any number)
//	ns TYPE PATH       a namespace to join, CLONE_NEW* in decimal (in order; any number)
//	plan LENGTH        then LENGTH bytes: the plan, framed as nsexec reads it
//
// It is written to a temporary file and renamed, so the monitor reads a whole one or none.
func writeExecPlan(c *container.Container, proc *specs.Process, path string, warn func(string)) error {
	ep, err := c.PrepareExec(proc, warn)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("berth-exec-plan 1\n")
	for _, p := range ep.CgroupProcs {
		if strings.ContainsAny(p, "\n\x00") {
			return fmt.Errorf("exec: cgroup path %q", p)
		}
		fmt.Fprintf(&b, "cgroup %s\n", p)
	}
	for _, n := range ep.Namespaces {
		if strings.ContainsAny(n.Path, "\n\x00") {
			return fmt.Errorf("exec: namespace path %q", n.Path)
		}
		fmt.Fprintf(&b, "ns %d %s\n", n.Type, n.Path)
	}
	fmt.Fprintf(&b, "plan %d\n", len(ep.Plan))
	b.Write(ep.Plan)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}
