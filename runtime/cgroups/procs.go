package cgroups

import (
	"errors"
	"path/filepath"
)

// ProcsFiles are the cgroup.procs files that Apply writes for the cgroup at paths (as Load takes
// them): writing "0" to each moves the writing process in, which is how a process that runs
// a prepared exec itself (the monitor's health checks) joins the container's cgroups.
func ProcsFiles(paths map[string]string) ([]string, error) {
	m, err := Load(paths)
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *v2Manager:
		return []string{filepath.Join(m.path, "cgroup.procs")}, nil
	case *v1Manager:
		var out []string
		for _, d := range m.uniqueDirs() {
			out = append(out, filepath.Join(d, "cgroup.procs"))
		}
		return out, nil
	}
	return nil, errors.New("unknown cgroup manager")
}
