package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// isUnified reports whether /sys/fs/cgroup is a cgroup2 mount (a pure v2 host). A hybrid host
// (cgroup2 below it at /sys/fs/cgroup/unified) counts as v1.
func isUnified() (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", cgroupRoot, err)
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC, nil
}

// v1Controllers are the controllers this driver knows; other mount options are ignored.
var v1Controllers = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "devices": true,
	"freezer": true, "blkio": true, "pids": true, "hugetlb": true, "net_cls": true,
	"net_prio": true, "perf_event": true, "rdma": true, "misc": true, "name=systemd": true,
}

// v1Mount is one v1 hierarchy: where it is mounted, and which cgroup is at the mount point
// (not "/" when the mount shows a sub-tree, as inside a container).
type v1Mount struct {
	point, root string
}

// v1Mounts maps each mounted v1 controller to its hierarchy, from /proc/self/mountinfo.
func v1Mounts() (map[string]v1Mount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	lastMountinfo.Lock()
	lastMountinfo.b = b
	lastMountinfo.Unlock()
	return parseV1Mounts(b)
}

var lastMountinfo struct {
	sync.Mutex
	b []byte
}

// Mountinfo returns /proc/self/mountinfo as Open last read it in this process, or reads it when
// Open did not. Create reads it twice otherwise (cgroups, then the container's /sys/fs/cgroup
// mounts), moments apart; each read makes the kernel format every mount (~0.1 ms).
func Mountinfo() ([]byte, error) {
	lastMountinfo.Lock()
	b := lastMountinfo.b
	lastMountinfo.Unlock()
	if b != nil {
		return b, nil
	}
	return os.ReadFile("/proc/self/mountinfo")
}

func parseV1Mounts(b []byte) (map[string]v1Mount, error) {
	out := map[string]v1Mount{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// Fields: id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(pre)
		sf := strings.Fields(post)
		if len(pf) < 5 || len(sf) < 3 || sf[0] != "cgroup" {
			continue
		}
		m := v1Mount{root: unescapeMount(pf[3]), point: unescapeMount(pf[4])}
		for _, opt := range strings.Split(sf[2], ",") {
			if !v1Controllers[opt] {
				continue
			}
			// The first mount of a hierarchy wins; later ones are usually bind mounts of it.
			if _, seen := out[opt]; !seen {
				out[opt] = m
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for space and so on).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// ownCgroups maps each controller (v2: "") to the calling process's cgroup, from
// /proc/self/cgroup.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return parseOwnCgroups(b), nil
}

func parseOwnCgroups(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-id:controller-list:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// hostPath turns a cgroup path (as seen in /proc/self/cgroup, or absolute from cgroupsPath)
// into a directory under a hierarchy mounted at point showing the cgroup root.
func hostPath(point, root, cg string) string {
	cg = path.Clean("/" + cg)
	if root != "/" && root != "" {
		// The mount shows only the sub-tree at root: strip it where the path is inside.
		if cg == root {
			cg = "/"
		} else if strings.HasPrefix(cg, root+"/") {
			cg = strings.TrimPrefix(cg, root)
		}
	}
	return path.Join(point, cg)
}
