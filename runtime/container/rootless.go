package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/cgroups"
)

// RootlessMode turns runc's global --rootless value (auto, true or false) into whether the
// runtime works rootless: skipping cgroups it cannot create and mapping ids through
// newuidmap/newgidmap. auto means rootless when not root, or when running as root of a user
// namespace that is not the initial one (as runc decides for its cgroup manager).
func RootlessMode(flag string) (bool, error) {
	switch flag {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		return os.Geteuid() != 0 || RunningInUserNS(), nil
	}
	return false, fmt.Errorf("invalid --rootless value %q: want auto, true or false", flag)
}

// RunningInUserNS reports whether this process is in a user namespace other than the initial
// one: there, uid_map is not the identity map of the whole 32-bit range.
func RunningInUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// isPermission reports errors that mean "not allowed to create or write this cgroup": these are
// the ones rootless mode passes over, as runc does.
func isPermission(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.EACCES) || errors.Is(err, unix.EROFS)
}

// hasLimits reports whether resources asks for anything besides device rules (which a rootless
// container cannot set and does not need: its devices are bind mounts of nodes the user could
// open anyway).
func hasLimits(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	c := *r
	c.Devices = nil
	return !deepZero(reflect.ValueOf(c))
}

// deepZero is reflect's IsZero, except that a pointer to (or slice or map of) zero values
// counts as zero too: {"memory": {}} asks for no limit.
func deepZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || deepZero(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !deepZero(v.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

// writeIDMaps writes the id maps of the user namespace of process pid. Root writes them itself.
// An unprivileged user may write only a single line mapping its own id, and for gid_map only
// once setgroups is denied; anything else goes through the setuid newuidmap/newgidmap (Debian's
// uidmap package), which check the ranges against /etc/subuid and /etc/subgid, as runc does.
func writeIDMaps(pid int, spec *specs.Spec) error {
	privileged := os.Geteuid() == 0 && !RunningInUserNS()
	if err := writeIDMap(pid, "uid_map", "newuidmap", spec.Linux.UIDMappings, os.Geteuid(), privileged); err != nil {
		return err
	}
	return writeIDMap(pid, "gid_map", "newgidmap", spec.Linux.GIDMappings, os.Getegid(), privileged)
}

func writeIDMap(pid int, file, helper string, maps []specs.LinuxIDMapping, ownID int, privileged bool) error {
	if len(maps) == 0 {
		return nil
	}
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	own := len(maps) == 1 && maps[0].Size == 1 && int64(maps[0].HostID) == int64(ownID)
	if privileged || own {
		if !privileged && file == "gid_map" {
			// The kernel refuses an unprivileged gid_map until setgroups is denied: otherwise
			// the container could drop a group that is there to deny it access.
			path := fmt.Sprintf("/proc/%d/setgroups", pid)
			if err := os.WriteFile(path, []byte("deny"), 0); err != nil {
				return fmt.Errorf("write setgroups: %w", err)
			}
		}
		path := fmt.Sprintf("/proc/%d/%s", pid, file)
		if err := os.WriteFile(path, []byte(b.String()), 0); err != nil {
			if !privileged && errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("write %s: %w (an unprivileged user can map only its own id %d directly)", file, err, ownID)
			}
			return fmt.Errorf("write %s: %w", file, err)
		}
		return nil
	}
	bin, err := exec.LookPath(helper)
	if err != nil {
		return fmt.Errorf("%s %s: mapping ranges as a non-root user needs %s (Debian package uidmap): %w",
			file, strings.TrimSpace(strings.ReplaceAll(b.String(), "\n", ", ")), helper, err)
	}
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10),
			strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", helper, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// setgroupsDenied reports whether process pid's user namespace forbids setgroups (an
// unprivileged gid_map was written): the container process then keeps its groups, as in runc.
func setgroupsDenied(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/setgroups", pid))
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// nsPids lists the processes in the pid namespace of process pid (read through /proc), for a
// container without a cgroup to list them from. Without a pid namespace of its own, the
// container's only known process is its init.
func nsPids(pid int, ownPidNS bool) ([]int, error) {
	if !ownPidNS {
		return []int{pid}, nil
	}
	var want unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", pid), &want); err != nil {
		return nil, fmt.Errorf("pid namespace of %d: %w", pid, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "ns/pid"), &st) != nil {
			continue
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			out = append(out, p)
		}
	}
	return out, nil
}

// Pids lists the container's processes: from its cgroup, or for a rootless container without
// one from its pid namespace.
func (c *Container) Pids() ([]int, error) {
	if len(c.s.CgroupPaths) > 0 {
		cg, err := cgroups.Load(c.s.CgroupPaths)
		if err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		return cg.Pids()
	}
	if !c.initAlive() {
		return nil, nil
	}
	spec, err := c.spec()
	if err != nil {
		return nil, err
	}
	ns, own := hasNS(spec, specs.PIDNamespace)
	return nsPids(c.s.Pid, own && ns.Path == "")
}

// selinuxEnabled tells whether SELinux is on; tests may replace it.
var selinuxEnabled = func() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// checkLSM refuses an AppArmor profile that cannot be applied (see apparmor.go) and any SELinux
// label: silently running a container without the confinement its config asks for would be
// worse than not running it.
func checkLSM(proc *specs.Process, mountLabel string) error {
	if proc != nil && proc.ApparmorProfile != "" {
		if err := checkAppArmorProfile(proc.ApparmorProfile); err != nil {
			return err
		}
	}
	label, field := mountLabel, "linux.mountLabel"
	if proc != nil && proc.SelinuxLabel != "" {
		label, field = proc.SelinuxLabel, "process.selinuxLabel"
	}
	if label != "" {
		if !selinuxEnabled() {
			return fmt.Errorf("%s %q is set, but SELinux is not enabled on this host", field, label)
		}
		return fmt.Errorf("%s %q is set, but SELinux is not supported by berth-runtime", field, label)
	}
	return nil
}

// rootlessCgroup creates the container's cgroup when the user may (a delegated, writable
// subtree) and otherwise goes on without one, as runc's rootless mode does: unless the spec asks
// for resource limits, which could then not be enforced. Device rules are never set: the device
// controller needs privilege, and in a user namespace the devices are bind mounts of nodes the
// user can open anyway.
func rootlessCgroup(cg cgroups.Manager, res *specs.LinuxResources, debug func(string)) (cgroups.Manager, error) {
	r := *res
	r.Devices = nil
	err := cg.Create(&r)
	if err == nil {
		return cg, nil
	}
	_ = cg.Destroy()
	if !isPermission(err) {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	if hasLimits(res) {
		return nil, fmt.Errorf("cannot set resource limits: the rootless container could not create its cgroup: %w", err)
	}
	if debug != nil {
		debug(fmt.Sprintf("rootless: running without a cgroup: %v", err))
	}
	return nil, nil
}
