package engine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/engine/spec"
)

// resolveModes sets the namespaces of so from the flags as given:
// container:NAME becomes that running container's namespace file.
func (e *Engine) resolveModes(so *spec.Options, m NamespaceModes) error {
	for _, f := range []struct {
		flag, mode, kind string
		ns               *spec.Namespace
	}{
		{"--pid", m.PID, "pid", &so.PID},
		{"--ipc", m.IPC, "ipc", &so.IPC},
		{"--uts", m.UTS, "uts", &so.UTS},
		{"--network", m.Network, "net", &so.Network},
	} {
		ns, err := e.resolveMode(f.flag, f.mode, f.kind, so)
		if err != nil {
			return err
		}
		*f.ns = ns
	}
	if m.Cgroup != "" {
		if m.Cgroup != "host" && m.Cgroup != "private" {
			return fmt.Errorf("invalid --cgroupns %q: want host or private", m.Cgroup)
		}
		ns, err := spec.ParseNamespace("--cgroupns", m.Cgroup)
		if err != nil {
			return err
		}
		so.CgroupNS = &ns
	}
	return nil
}

func (e *Engine) resolveMode(flag, mode, kind string, so *spec.Options) (spec.Namespace, error) {
	if flag == "--network" {
		switch mode {
		case "", "none", "host":
		case "bridge", "default":
			return spec.Namespace{}, fmt.Errorf("--network %s: bridge networks are not available yet; use --network none or host", mode)
		default:
			if !strings.HasPrefix(mode, "container:") {
				return spec.Namespace{}, fmt.Errorf("--network %s: no such network (have none, host, container:NAME)", mode)
			}
		}
	}
	ref, ok := strings.CutPrefix(mode, "container:")
	if !ok {
		if strings.HasPrefix(mode, "ns:") {
			return spec.Namespace{}, fmt.Errorf("invalid %s %q: want host, private or container:NAME", flag, mode)
		}
		return spec.ParseNamespace(flag, mode)
	}
	c, err := e.LookupContainer(ref)
	if err != nil {
		return spec.Namespace{}, fmt.Errorf("%s: %w", flag, err)
	}
	if c.State != StateRunning || c.PID <= 0 {
		return spec.Namespace{}, fmt.Errorf("%s: cannot join the namespace of container %s: it is not running", flag, ref)
	}
	proc := "/proc/" + strconv.Itoa(c.PID)
	if kind == "ipc" {
		// Docker binds the other container's /dev/shm too.
		so.ShmPath = proc + "/root/dev/shm"
	}
	return spec.Namespace{Mode: spec.NSPath, Path: proc + "/ns/" + kind}, nil
}
