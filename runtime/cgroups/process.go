package cgroups

import (
	"fmt"
	"os"
	"path"
	"strings"
)

// OfProcess opens, for reading, the cgroups that process pid is in, from /proc/PID/cgroup: the
// way to a container's counters when its runtime keeps no state this package can read (crun
// has no `events` command, and an exec per container would cost more than the reads). A
// hierarchy where the process sits at the root is left out: its counters are the host's.
func OfProcess(pid int) (Manager, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("cgroups of process %d: %w", pid, err)
	}
	own := parseOwnCgroups(b)
	unified, err := isUnified()
	if err != nil {
		return nil, err
	}
	if unified {
		cg := path.Clean("/" + own[""])
		if cg == "/" {
			return nil, fmt.Errorf("cgroups of process %d: it is in the root cgroup", pid)
		}
		return Load(map[string]string{"": path.Join(cgroupRoot, cg)})
	}
	mounts, err := v1Mounts()
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for c, cg := range own {
		m, ok := mounts[c]
		if c == "" || strings.HasPrefix(c, "name=") || !ok {
			continue
		}
		if p := hostPath(m.point, m.root, cg); p != path.Clean(m.point) {
			paths[c] = p
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("cgroups of process %d: it is in no cgroup of its own", pid)
	}
	return Load(paths)
}
