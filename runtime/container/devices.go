package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/nsexec"
)

func i64(v int64) *int64 { return &v }

// defaultDevices is the device set every container gets (OCI runtime spec, "Default Devices").
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// defaultDeviceRules are the cgroup rules that let the default devices, ptys and the console work
// whatever the spec's device list says first (runc adds the same set).
var defaultDeviceRules = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(7), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(0), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},
}

// deviceRules returns the cgroup device rules: the spec's, then allow rules for the default
// devices, then "m" for every device the spec creates. Read and write access to those is what
// linux.resources.devices says, as with runc (Docker's --device /dev/x:/dev/y:r writes "r"
// there): runc sets the rules after the rootfs is made, while here the container process is
// under them when it makes its device nodes, so mknod of exactly those is allowed.
func deviceRules(spec *specs.Spec) []specs.LinuxDeviceCgroup {
	var rules []specs.LinuxDeviceCgroup
	if spec.Linux.Resources != nil {
		rules = append(rules, spec.Linux.Resources.Devices...)
	}
	rules = append(rules, defaultDeviceRules...)
	for _, d := range spec.Linux.Devices {
		if d.Type == "p" {
			continue
		}
		t := d.Type
		if t == "u" {
			t = "c"
		}
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: t, Major: i64(d.Major), Minor: i64(d.Minor), Access: "m"})
	}
	return rules
}

func devicesPlan(p *nsexec.Plan, in *planInput, userns, hasDev bool) error {
	devs := append([]specs.LinuxDevice(nil), defaultDevices...)
	devs = append(devs, in.spec.Linux.Devices...)
	for _, d := range devs {
		if !strings.HasPrefix(filepath.Clean(d.Path), "/dev/") {
			return fmt.Errorf("device %s is not under /dev", d.Path)
		}
		dst := rel(d.Path)
		if userns {
			// mknod is not allowed in a user namespace: bind the host's device node, onto a
			// file of our own (a symlink the rootfs put there is refused).
			p.MountAt(nsexec.MountOp{Source: filepath.Clean(d.Path), Dest: dst, Opts: nsexec.MountBind | nsexec.MountFile | nsexec.MountNoFollow})
			continue
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(d.FileMode.Perm())
		}
		switch d.Type {
		case "c", "u":
			mode |= unix.S_IFCHR
		case "b":
			mode |= unix.S_IFBLK
		case "p":
			mode |= unix.S_IFIFO
		default:
			return fmt.Errorf("device %s has unknown type %q", d.Path, d.Type)
		}
		var uid, gid uint32
		if d.UID != nil {
			uid = *d.UID
		}
		if d.GID != nil {
			gid = *d.GID
		}
		p.MknodAt(dst, mode, unix.Mkdev(uint32(d.Major), uint32(d.Minor)), uid, gid)
	}
	if !hasDev {
		return nil
	}
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
		{"pts/ptmx", "/dev/ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	for _, l := range links {
		p.SymlinkAt(l[0], rel(l[1]))
	}
	return nil
}

var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": 10,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

func personality(p *specs.LinuxPersonality) (uint64, error) {
	var v uint64
	switch p.Domain {
	case specs.PerLinux:
		v = 0
	case specs.PerLinux32:
		v = 8
	default:
		return 0, fmt.Errorf("unknown personality domain %q", p.Domain)
	}
	if len(p.Flags) > 0 {
		return 0, fmt.Errorf("personality flags are not supported")
	}
	return v, nil
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10, specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

func schedPlan(p *nsexec.Plan, s *specs.Scheduler) error {
	pol, ok := schedPolicies[s.Policy]
	if !ok {
		return fmt.Errorf("unknown scheduler policy %q", s.Policy)
	}
	var flags uint64
	for _, f := range s.Flags {
		v, ok := schedFlags[f]
		if !ok {
			return fmt.Errorf("unknown scheduler flag %q", f)
		}
		flags |= v
	}
	p.Sched(pol, flags, s.Nice, uint32(s.Priority), s.Runtime, s.Deadline, s.Period)
	return nil
}

func ioprio(io *specs.LinuxIOPriority) (int, error) {
	classes := map[specs.IOPriorityClass]int{specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3}
	c, ok := classes[io.Class]
	if !ok {
		return 0, fmt.Errorf("unknown ioPriority class %q", io.Class)
	}
	if io.Priority < 0 || io.Priority > 7 {
		return 0, fmt.Errorf("ioPriority priority %d out of range 0-7", io.Priority)
	}
	return c<<13 | io.Priority, nil
}

func hookTimeout(h specs.Hook) int {
	if h.Timeout != nil && *h.Timeout > 0 {
		return *h.Timeout
	}
	return 0
}

func hookArgs(h specs.Hook) []string {
	if len(h.Args) > 0 {
		return h.Args
	}
	return []string{h.Path}
}
