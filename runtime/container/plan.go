package container

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/caps"
	"github.com/berth-dev/berth/runtime/cgroups"
	"github.com/berth-dev/berth/runtime/nsexec"
)

var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// joinOrder: the user namespace first (it owns the others), the mount namespace last (joining it
// changes how every later path resolves).
var joinOrder = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.PIDNamespace, specs.CgroupNamespace, specs.TimeNamespace, specs.MountNamespace,
}

// planInput is what the plan builder needs beyond the spec.
type planInput struct {
	spec          *specs.Spec
	rootfs        string
	bundle        string
	noPivot       bool
	fifoFd        int
	consoleFd     int // -1 without a terminal
	firstFreeFd   int // fds from here up are the runtime's and are closed at exec
	cgroupPaths   map[string]string
	cgroupV2      bool
	createCtrHook []byte // state for createContainer/startContainer hooks
	// selfAttach lists cgroup v1 "tasks" files the container process writes "0" to itself.
	// A process moving its own single thread skips the kernel's global threadgroup lock,
	// whose RCU grace period costs 5-20 ms when the parent writes the pid instead.
	selfAttach []string
	warn       func(string)
	// keyring names the session keyring the process joins; empty keeps the caller's.
	keyring string
	// noSetgroups: the user namespace denies setgroups (its gid_map was written unprivileged),
	// so the process keeps the groups it has, as in runc's rootless mode.
	noSetgroups bool
	// consoleMount: the init's pty is bound over /dev/console (a rootfs the runtime set up).
	consoleMount bool
	// hostMounts: no mount namespace of its own: the rootfs is set up in the caller's, which
	// keeps its propagation, and entered with chroot (a pivot_root would move the caller's root).
	hostMounts bool
	// rootfsIsMount: with hostMounts, the rootfs is a mount point of its own already.
	rootfsIsMount bool
	// joinedSeesRootfs: the joined mount namespace shows the bundle's rootfs (it is a copy of the
	// caller's, as unshare -m makes), so the rootfs is set up in it and pivoted to.
	joinedSeesRootfs bool
}

// keyringName is runc's session keyring name for the container, or "" with --no-new-keyring.
func (c *Container) keyringName() string {
	if c.s.NoNewKeyring {
		return ""
	}
	return "_ses." + c.s.ID
}

func hasNS(spec *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

// firstPlan runs in the exec'd intermediate process: join and create namespaces, then fork
// the container process.
func firstPlan(in *planInput) *nsexec.Plan {
	var p nsexec.Plan
	// Id-mapped mounts are prepared before the child enters any namespace: id-mapping a mount
	// needs privilege over its file system, which a process in the container's user namespace
	// lacks. Errors in these mounts are reported by secondPlan; a joined mount namespace gets none.
	for i, m := range idmappedMounts(in.spec) {
		if ns, ok := hasNS(in.spec, specs.MountNamespace); !ok || ns.Path != "" {
			break
		}
		if im, err := idmapOf(in.spec, m); err == nil {
			opts := nsexec.MountFlags(0)
			if im.rec {
				opts |= nsexec.MountIDMapRec
			}
			if m.Type == "rbind" || slices.Contains(m.Options, "rbind") {
				opts |= nsexec.MountRec
			}
			p.Premount(i, bindSource(in.bundle, m.Source), opts, im.uidMap, im.gidMap)
		}
	}
	for _, t := range joinOrder {
		if ns, ok := hasNS(in.spec, t); ok && ns.Path != "" {
			p.Setns(ns.Path, nsFlags[t])
		}
	}
	if ns, ok := hasNS(in.spec, specs.UserNamespace); ok && ns.Path != "" {
		// Host root is unmapped in a joined user namespace: become its root (as runc does), or
		// hooks and everything exec'd before the final setid run unprivileged as the overflow uid.
		p.Setid(0, 0)
	} else if ok {
		p.Unshare(unix.CLONE_NEWUSER)
		// Dumpable while the parent writes our id maps, as in runc: a non-root parent may not
		// open the /proc files of a non-dumpable process (they belong to root).
		p.Prctl(unix.PR_SET_DUMPABLE, 1, 0, "set dumpable for id maps")
		p.Sync(nsexec.TagUserns)
		p.Prctl(unix.PR_SET_DUMPABLE, 0, 0, "clear dumpable")
		p.Setid(0, 0)
	}
	flags := 0
	for _, ns := range in.spec.Linux.Namespaces {
		if ns.Path == "" && ns.Type != specs.UserNamespace && ns.Type != specs.CgroupNamespace {
			flags |= nsFlags[ns.Type]
		}
	}
	if flags != 0 {
		p.Unshare(flags)
	}
	if flags&unix.CLONE_NEWTIME != 0 && len(in.spec.Linux.TimeOffsets) > 0 {
		var b strings.Builder
		for _, clock := range []string{"monotonic", "boottime"} {
			if off, ok := in.spec.Linux.TimeOffsets[clock]; ok {
				fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
			}
		}
		// /proc/self of a non-dumpable process belongs to the host's root, which a process in a
		// new user namespace is not: be dumpable just for this write, as for the id maps.
		p.Prctl(unix.PR_SET_DUMPABLE, 1, 0, "set dumpable for time offsets")
		// Through the procfs handle: after joining a mount namespace, /proc is whatever it holds.
		p.ProcWrite("self/timens_offsets", b.String())
		p.Prctl(unix.PR_SET_DUMPABLE, 0, 0, "clear dumpable")
	}
	p.Fork()
	p.ReadPlan()
	return &p
}

// secondPlan runs in the container process once it is in its cgroups.
func secondPlan(in *planInput) (*nsexec.Plan, error) {
	var p nsexec.Plan
	spec := in.spec
	for _, f := range in.selfAttach {
		p.WriteFile(f, "0")
	}
	if ns, ok := hasNS(spec, specs.CgroupNamespace); ok && ns.Path == "" {
		p.Unshare(unix.CLONE_NEWCGROUP)
	}
	mntNS, hasMnt := hasNS(spec, specs.MountNamespace)
	in.hostMounts = !hasMnt
	// A joined mount namespace gets the rootfs set up in it, as runc and crun do, when it shows
	// the bundle's rootfs. One that does not (another container's, whose root is that container's
	// rootfs) is already set up by its owner: no rootfs work and no pivot_root, but createContainer
	// hooks still run, in that namespace, as the spec asks.
	setupRootfs := !hasMnt || mntNS.Path == "" || in.joinedSeesRootfs
	if len(spec.Linux.Sysctl) > 0 || spec.Process.ApparmorProfile != "" {
		// Before any container mount: a fallback to /proc must find the runtime's own.
		p.ProcFd()
	}
	in.consoleMount = setupRootfs && spec.Process.Terminal
	if setupRootfs {
		if err := rootfsPlan(&p, in); err != nil {
			return nil, err
		}
	} else if spec.Hooks != nil {
		for _, h := range spec.Hooks.CreateContainer {
			p.Hook(hookTimeout(h), in.createCtrHook, h.Path, hookArgs(h), h.Env)
		}
	}

	for _, key := range sortedKeys(spec.Linux.Sysctl) {
		if strings.Contains(key, "..") {
			return nil, fmt.Errorf("invalid sysctl %q", key)
		}
		p.ProcWrite("sys/"+strings.ReplaceAll(key, ".", "/"), spec.Linux.Sysctl[key])
	}
	if setupRootfs {
		finalizeRootfsPlan(&p, spec, in.rootfs)
	}
	if spec.Hostname != "" {
		p.Hostname(spec.Hostname)
	}
	if spec.Domainname != "" {
		p.Domainname(spec.Domainname)
	}
	if err := processPlan(&p, in, spec.Process, true); err != nil {
		return nil, err
	}
	return &p, nil
}

// processPlan sets up the process itself: terminal, limits, identity, capabilities, seccomp and
// exec. For the container's init (init true) it also reports ready and waits for start; an
// exec'd process skips that.
func processPlan(p *nsexec.Plan, in *planInput, proc *specs.Process, init bool) error {
	spec := in.spec
	if in.keyring != "" {
		p.SessionKeyring(in.keyring)
	}
	if proc.Terminal {
		var h, w uint
		if proc.ConsoleSize != nil {
			h, w = proc.ConsoleSize.Height, proc.ConsoleSize.Width
		}
		p.Console(in.consoleFd, init && in.consoleMount, h, w)
	} else {
		p.Setsid()
	}
	for _, rl := range proc.Rlimits {
		res, ok := rlimits[rl.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", rl.Type)
		}
		p.Rlimit(res, rl.Soft, rl.Hard, rl.Type)
	}
	cwd := proc.Cwd
	if cwd == "" {
		cwd = "/"
	}
	env := proc.Env
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	p.Chdir(cwd)
	p.Lookup(proc.Args[0], pathEnv)
	if spec.Linux.Personality != nil {
		persona, err := personality(spec.Linux.Personality)
		if err != nil {
			return err
		}
		p.Personality(persona)
	}
	if proc.Scheduler != nil {
		if err := schedPlan(p, proc.Scheduler); err != nil {
			return err
		}
	}
	if proc.IOPriority != nil {
		v, err := ioprio(proc.IOPriority)
		if err != nil {
			return err
		}
		p.Ioprio(v)
	}
	umask := uint32(0o022)
	if proc.User.Umask != nil {
		umask = *proc.User.Umask
	}
	p.Umask(umask)
	if proc.ApparmorProfile != "" {
		// Takes effect at the execve below (attr/exec is one-shot), so hooks and the runtime's
		// own set-up stay unconfined. Written before seccomp, setuid and no_new_privs, which could
		// deny the write or the transition.
		p.ProcWrite(strings.TrimPrefix(appArmorExecAttr(), "/proc/"), "exec "+proc.ApparmorProfile)
	}

	// Identity and capabilities: keep permitted capabilities across setuid, then set all sets.
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the container may be
	// about to lose: then load it now, as runc does (the profile must allow what follows).
	if spec.Linux.Seccomp != nil && !proc.NoNewPrivileges {
		if err := seccompPlan(p, spec.Linux.Seccomp, in.warn); err != nil {
			return err
		}
	}
	gids := proc.User.AdditionalGids
	if gids == nil {
		gids = []uint32{}
	}
	if !in.noSetgroups {
		p.Setgroups(gids)
	} else if len(gids) > 0 {
		return fmt.Errorf("cannot set additional gids %v: the container's user namespace denies setgroups (a rootless single-id gid mapping; map ranges with newgidmap instead)", gids)
	}
	p.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, "keep capabilities")
	p.Setid(proc.User.UID, proc.User.GID)
	p.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, "clear keep capabilities")
	set, warnings := caps.FromSpec(proc.Capabilities)
	for _, w := range warnings {
		in.warn(w)
	}
	// The kernel raises an ambient capability only if it is permitted and inheritable. runc's
	// own default spec lists ambient capabilities without inheritable ones, and runc skips
	// them silently: so do we, rather than fail or warn on every container.
	set.Ambient &= set.Permitted & set.Inheritable
	if _, userns := hasNS(spec, specs.UserNamespace); !userns {
		// Outside a user namespace of its own the container gets no capability the runtime
		// lacks: say which ones, rather than let capset fail with a bare EPERM.
		if held, err := caps.Permitted(); err == nil {
			if missing := (set.Permitted | set.Effective) &^ held; missing != 0 {
				return fmt.Errorf("capabilities %s: the runtime does not hold them, so it cannot grant them: %w",
					strings.Join(caps.NamesOf(missing), ", "), unix.EPERM)
			}
		}
	}
	p.Caps(set.Bounding, set.Effective, set.Permitted, set.Inheritable, set.Ambient, caps.Last())
	if proc.NoNewPrivileges {
		p.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, "no_new_privs")
	}
	if init {
		// Ready only now, as runc: whatever the machine cannot grant (ids, capabilities, a
		// seccomp profile loaded without no_new_privs) fails create, not start. startContainer
		// hooks then run as the container's user with its capabilities, as in runc.
		p.Ready()
		p.WaitStart(in.fifoFd)
		if spec.Hooks != nil {
			for _, h := range spec.Hooks.StartContainer {
				p.Hook(hookTimeout(h), in.createCtrHook, h.Path, hookArgs(h), h.Env)
			}
		}
	}
	if spec.Linux.Seccomp != nil && proc.NoNewPrivileges {
		if err := seccompPlan(p, spec.Linux.Seccomp, in.warn); err != nil {
			return err
		}
	}
	p.CloexecFrom(in.firstFreeFd)
	p.Exec("", proc.Args, env)
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rel turns a container path into the form the plan passes to the child: relative to the
// container root, lexically clean. The child resolves it inside the root when the op runs.
func rel(path string) string {
	return strings.TrimPrefix(filepath.Clean("/"+path), "/")
}

var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type mountFlag struct {
	clear bool
	flag  uintptr
}

var mountFlags = map[string]mountFlag{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
	"nodiratime": {false, unix.MS_NODIRATIME}, "diratime": {true, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
}

// mountAttr maps mount flags to mount_setattr attributes.
var mountAttrs = []struct {
	ms   uintptr
	attr uint64
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME}, {unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// recursiveAttrs are the "r" options that apply to every mount of a tree (mount_setattr with
// AT_RECURSIVE), as runc has them: set and clear bits.
var recursiveAttrs = map[string][2]uint64{
	"rro": {unix.MOUNT_ATTR_RDONLY, 0}, "rrw": {0, unix.MOUNT_ATTR_RDONLY},
	"rnosuid": {unix.MOUNT_ATTR_NOSUID, 0}, "rsuid": {0, unix.MOUNT_ATTR_NOSUID},
	"rnodev": {unix.MOUNT_ATTR_NODEV, 0}, "rdev": {0, unix.MOUNT_ATTR_NODEV},
	"rnoexec": {unix.MOUNT_ATTR_NOEXEC, 0}, "rexec": {0, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime": {unix.MOUNT_ATTR_NODIRATIME, 0}, "rdiratime": {0, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {unix.MOUNT_ATTR_NOSYMFOLLOW, 0}, "rsymfollow": {0, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rnoatime":       {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
	"rstrictatime":   {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
	"rrelatime":      {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"ratime":         {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"rnostrictatime": {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"rnorelatime":    {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
}

// MountOptions lists every mount option the runtime applies (for `features`): each one here
// has an effect; anything else is passed to the file system as data.
func MountOptions() []string {
	out := make([]string, 0, len(mountFlags)+len(propagationFlags)+len(recursiveAttrs)+3)
	for k := range mountFlags {
		out = append(out, k)
	}
	for k := range propagationFlags {
		out = append(out, k)
	}
	for k := range recursiveAttrs {
		out = append(out, k)
	}
	out = append(out, "nosymfollow", "idmap", "ridmap")
	sort.Strings(out)
	return out
}

// mountOpts is a parsed OCI mount option list.
type mountOpts struct {
	flags      uintptr   // MS_* flags
	prop       []uintptr // propagation changes, in order
	data       string    // file system options
	rset, rclr uint64    // recursive mount_setattr attributes
	atime      uint64    // MOUNT_ATTR_* atime value when an atime option was given
	hasAtime   bool
	idmap      bool // idmap or ridmap
	ridmap     bool
}

// parseMountOptions splits OCI mount options into mount flags, propagation flags, recursive
// attributes and fs data.
func parseMountOptions(opts []string) mountOpts {
	var o mountOpts
	var d []string
	for _, opt := range opts {
		if f, ok := mountFlags[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			switch opt {
			case "noatime":
				o.atime, o.hasAtime = unix.MOUNT_ATTR_NOATIME, true
			case "strictatime":
				o.atime, o.hasAtime = unix.MOUNT_ATTR_STRICTATIME, true
			case "relatime":
				o.atime, o.hasAtime = unix.MOUNT_ATTR_RELATIME, true
			}
			continue
		}
		if f, ok := propagationFlags[opt]; ok {
			o.prop = append(o.prop, f)
			continue
		}
		if a, ok := recursiveAttrs[opt]; ok {
			o.rset = o.rset&^a[1] | a[0]
			o.rclr = o.rclr&^a[0] | a[1]
			continue
		}
		switch opt {
		case "nosymfollow":
			o.flags |= unix.MS_NOSYMFOLLOW
			continue
		case "idmap":
			o.idmap = true
			continue
		case "ridmap":
			o.idmap, o.ridmap = true, true
			continue
		case "tmpcopyup":
			// Not supported (not in `features`); dropped rather than passed to the kernel as
			// data, where it would fail the mount.
			continue
		}
		d = append(d, opt)
	}
	o.data = strings.Join(d, ",")
	return o
}

// bindAttrs are the mount_setattr attributes a bind mount gets from its flags. Only what is
// set is applied: a bind keeps the flags of its source otherwise (and in a user namespace the
// kernel refuses to clear the locked ones).
func (o mountOpts) bindAttrs() (set, clr uint64) {
	for _, a := range mountAttrs {
		if o.flags&a.ms != 0 {
			set |= a.attr
		}
	}
	if o.hasAtime {
		set |= o.atime
		clr |= unix.MOUNT_ATTR__ATIME
	}
	return set, clr
}

type idmapping struct {
	uidMap, gidMap string
	rec            bool
}

// idmappedMounts lists the mounts of spec that are id-mapped, in order: the index is the one
// Premount and MountAt share.
func idmappedMounts(spec *specs.Spec) []specs.Mount {
	var out []specs.Mount
	for _, m := range spec.Mounts {
		if isIDMapped(m) {
			out = append(out, m)
		}
	}
	return out
}

func isIDMapped(m specs.Mount) bool {
	return len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 ||
		slices.Contains(m.Options, "idmap") || slices.Contains(m.Options, "ridmap")
}

// idmapOf returns the id maps of an id-mapped mount: its own, or else the container's (as runc
// does for a bare idmap option).
func idmapOf(spec *specs.Spec, m specs.Mount) (idmapping, error) {
	if m.Type != "bind" && m.Type != "rbind" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
		return idmapping{}, fmt.Errorf("mount %s: only bind mounts can be id-mapped (type %q)", m.Destination, m.Type)
	}
	uids, gids := m.UIDMappings, m.GIDMappings
	if len(uids) == 0 && len(gids) == 0 {
		uids, gids = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	if len(uids) == 0 || len(gids) == 0 {
		return idmapping{}, fmt.Errorf("mount %s: an id-mapped mount needs uidMappings and gidMappings (its own or the container's)", m.Destination)
	}
	fm := func(ms []specs.LinuxIDMapping) string {
		var b strings.Builder
		for _, x := range ms {
			fmt.Fprintf(&b, "%d %d %d\n", x.ContainerID, x.HostID, x.Size)
		}
		return b.String()
	}
	return idmapping{uidMap: fm(uids), gidMap: fm(gids), rec: slices.Contains(m.Options, "ridmap")}, nil
}

func bindSource(bundle, src string) string {
	if !filepath.IsAbs(src) {
		return filepath.Join(bundle, src)
	}
	return src
}

// procFileBinds are the procfs files a bind mount may cover (lxcfs-style set-ups), as in runc.
var procFileBinds = map[string]bool{
	"proc/cpuinfo": true, "proc/meminfo": true, "proc/stat": true, "proc/uptime": true,
	"proc/loadavg": true, "proc/swaps": true, "proc/diskstats": true, "proc/slabinfo": true,
}

// lockedFlags returns the flags of the mount holding path that a remount in a user namespace
// must keep (the kernel refuses to clear them there).
func lockedFlags(path string) uintptr {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0
	}
	var f uintptr
	for _, m := range []struct {
		st   int64
		flag uintptr
	}{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&m.st != 0 {
			f |= m.flag
		}
	}
	return f
}

func rootfsPlan(p *nsexec.Plan, in *planInput) error {
	spec := in.spec
	rootfs := in.rootfs
	_, userns := hasNS(spec, specs.UserNamespace)
	_, netns := hasNS(spec, specs.NetworkNamespace)

	rootProp := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if rp := spec.Linux.RootfsPropagation; rp != "" {
		f, ok := propagationFlags[rp]
		if !ok {
			return fmt.Errorf("invalid rootfsPropagation %q", rp)
		}
		// Before pivot_root every mount must stop sharing with the host: rslave, or rprivate
		// when asked for. The requested value is applied to the container's root after the
		// pivot (finalizeRootfsPlan). A non-recursive one here would leave the mount holding
		// the rootfs shared (pivot_root fails with EINVAL, and the container's mounts would
		// propagate to the host); unbindable would make the rootfs bind mount below fail.
		if f == unix.MS_PRIVATE|unix.MS_REC {
			rootProp = f
		}
	}
	if !in.hostMounts {
		p.Mount("", "/", "", rootProp, "")
	}
	// pivot_root needs the new root to be a mount point (and with chroot, a read-only root or
	// rootfsPropagation must change the container's mount, not the one holding the rootfs). In
	// the caller's mount namespace a rootfs that is a mount already (an engine's) is used as it
	// is: a bind stacked on it would, under shared propagation, leave copies tucked beneath it
	// whose removal at delete takes the engine's mount along.
	if !in.hostMounts || !in.rootfsIsMount {
		p.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, "")
	}
	p.RootFd(rootfs)

	hasDev := false
	idmapIdx := 0
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			hasDev = true
		}
		premount := -1
		if isIDMapped(m) {
			premount = idmapIdx
			idmapIdx++
		}
		if err := mountPlan(p, in, m, userns, netns, premount); err != nil {
			return err
		}
	}
	if err := devicesPlan(p, in, userns, hasDev); err != nil {
		return err
	}
	if spec.Process.Terminal {
		// /dev/console is bound to the pty later, after the root may have become read-only:
		// make sure the mount point exists.
		p.MkdirAt("dev/console", true)
	}
	cwd := spec.Process.Cwd
	if cwd != "" && cwd != "/" {
		p.MkdirAt(rel(cwd), false)
	}
	if spec.Hooks != nil {
		for _, h := range spec.Hooks.CreateContainer {
			p.Hook(hookTimeout(h), in.createCtrHook, h.Path, hookArgs(h), h.Env)
		}
	}
	if in.hostMounts {
		p.ChrootInPlace(rootfs)
	} else if in.noPivot {
		p.Chroot(rootfs)
	} else {
		p.PivotRoot(rootfs)
	}
	return nil
}

// finalizeRootfsPlan masks paths and makes paths and the root read-only. It runs after the
// sysctls are written (as in runc): they go through /proc/sys, a read-only path.
func finalizeRootfsPlan(p *nsexec.Plan, spec *specs.Spec, rootfs string) {
	// Masks first: a read-only path then makes every mask below it read-only too.
	for _, path := range spec.Linux.MaskedPaths {
		p.MaskAt(rel(path))
	}
	for _, path := range spec.Linux.ReadonlyPaths {
		p.ReadonlyAt(rel(path), 0)
	}
	if spec.Root.Readonly {
		p.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags(rootfs), "")
	}
	if rp := spec.Linux.RootfsPropagation; rp != "" {
		p.Mount("", "/", "", propagationFlags[rp], "")
	}
}

func mountPlan(p *nsexec.Plan, in *planInput, m specs.Mount, userns, netns bool, premount int) error {
	dst := rel(m.Destination)
	o := parseMountOptions(m.Options)
	typ := m.Type
	if typ == "bind" || typ == "rbind" {
		o.flags |= unix.MS_BIND
		if typ == "rbind" {
			o.flags |= unix.MS_REC
		}
		typ = ""
	}
	if premount >= 0 {
		if _, err := idmapOf(in.spec, m); err != nil {
			return err
		}
	} else if o.idmap {
		return fmt.Errorf("mount %s: idmap needs a bind mount", m.Destination)
	}
	if typ == "sysfs" && userns && !netns {
		// sysfs can't be mounted in a user namespace that does not own a network
		// namespace: bind the host's, as runc does.
		o.flags |= unix.MS_BIND | unix.MS_REC
		m.Source, typ, o.data = "/sys", "", ""
	}
	if ipc, ok := hasNS(in.spec, specs.IPCNamespace); typ == "mqueue" && userns && (!ok || ipc.Path != "") {
		// mqueue can only be mounted by the user namespace that owns the ipc namespace, which
		// a joined or the host's is not: bind the host's, as for sysfs.
		o.flags |= unix.MS_BIND | unix.MS_REC
		m.Source, typ, o.data = "/dev/mqueue", "", ""
	}
	op := nsexec.MountOp{Dest: dst, Propagation: o.prop, RAttrSet: o.rset, RAttrClr: o.rclr}
	switch {
	case o.flags&unix.MS_BIND != 0:
		op.Source = bindSource(in.bundle, m.Source)
		if premount >= 0 {
			op.Source = nsexec.Premounted(premount)
		}
		op.Opts = nsexec.MountBind | nsexec.MountAuto
		if o.flags&unix.MS_REC != 0 {
			op.Opts |= nsexec.MountRec
		}
		if procFileBinds[dst] {
			op.Opts |= nsexec.MountProcOK
		}
		op.AttrSet, op.AttrClr = o.bindAttrs()
		p.MountAt(op)
	case typ == "cgroup" || typ == "cgroup2":
		cgroupMountPlan(p, in, dst, o.flags)
	default:
		op.Source, op.Type, op.Flags, op.Data = m.Source, typ, o.flags, o.data
		op.Opts = nsexec.MountDir
		if typ == "proc" {
			op.Opts |= nsexec.MountProc
		}
		p.MountAt(op)
	}
	return nil
}

// cgroupMountPlan shows the container its cgroups at dst: cgroup2 directly, or on a v1 host a
// tmpfs with one directory per hierarchy holding the container's own cgroup.
func cgroupMountPlan(p *nsexec.Plan, in *planInput, dst string, flags uintptr) {
	_, cgroupns := hasNS(in.spec, specs.CgroupNamespace)
	bind := func(src, sub string, attrs uint64) {
		p.MountAt(nsexec.MountOp{Source: src, Dest: sub, Opts: nsexec.MountBind | nsexec.MountDir, AttrSet: attrs})
	}
	if in.cgroupV2 {
		if cgroupns {
			p.MountAt(nsexec.MountOp{Source: "cgroup2", Dest: dst, Type: "cgroup2", Flags: flags, Opts: nsexec.MountDir})
		} else if path := in.cgroupPaths[""]; path != "" {
			var attrs uint64
			if flags&unix.MS_RDONLY != 0 {
				attrs, _ = mountOpts{flags: flags & (unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)}.bindAttrs()
			}
			p.MountAt(nsexec.MountOp{Source: path, Dest: dst, Opts: nsexec.MountBind | nsexec.MountRec | nsexec.MountDir, AttrSet: attrs})
		}
		return
	}
	p.MountAt(nsexec.MountOp{Source: "tmpfs", Dest: dst, Type: "tmpfs", Flags: flags &^ unix.MS_RDONLY, Data: "mode=755", Opts: nsexec.MountDir})
	// cgroup v1 cannot be mounted in a user namespace (unlike cgroup2): bind as without a
	// cgroup namespace.
	_, userns := hasNS(in.spec, specs.UserNamespace)
	for _, h := range v1Hierarchies() {
		sub := dst + "/" + h.dir
		if cgroupns && !userns {
			p.MountAt(nsexec.MountOp{Source: "cgroup", Dest: sub, Type: "cgroup", Flags: flags, Data: h.opts, Opts: nsexec.MountDir})
			continue
		}
		// Without a cgroup namespace, bind the container's own cgroup of this hierarchy.
		var path string
		for _, c := range h.controllers {
			if v := in.cgroupPaths[c]; v != "" {
				path = v
				break
			}
		}
		if path == "" {
			p.MkdirAt(sub, false)
			continue
		}
		attrs, _ := mountOpts{flags: flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}.bindAttrs()
		bind(path, sub, attrs)
	}
	if flags&unix.MS_RDONLY != 0 {
		p.MountAt(nsexec.MountOp{Dest: dst, Flags: unix.MS_REMOUNT | flags, Data: "mode=755"})
	}
}

type v1Hierarchy struct {
	dir         string   // name under /sys/fs/cgroup
	opts        string   // mount options (controllers or name=)
	controllers []string // controller names, for looking up the container's path
}

// v1Hierarchies lists the host's cgroup v1 mounts.
func v1Hierarchies() []v1Hierarchy {
	// As cgroups.Open read it for this create, when it did.
	data, err := cgroups.Mountinfo()
	if err != nil {
		return nil
	}
	var out []v1Hierarchy
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		sep := strings.Index(line, " - ")
		if sep < 0 {
			continue
		}
		post := strings.Fields(line[sep+3:])
		pre := strings.Fields(line[:sep])
		if len(post) < 3 || post[0] != "cgroup" || len(pre) < 5 {
			continue
		}
		var ctrls []string
		for _, o := range strings.Split(post[2], ",") {
			switch {
			case strings.HasPrefix(o, "name="):
				ctrls = append(ctrls, o)
			case o == "rw" || o == "ro" || strings.Contains(o, "="):
			default:
				ctrls = append(ctrls, o)
			}
		}
		dir := filepath.Base(pre[4])
		if seen[dir] || len(ctrls) == 0 {
			continue
		}
		seen[dir] = true
		out = append(out, v1Hierarchy{dir: dir, opts: strings.Join(ctrls, ","), controllers: ctrls})
	}
	return out
}

// selfAttachFiles returns the tasks files the container process can write itself, or nil when the
// parent must attach it: on cgroup v2 (no per-thread move out of a domain), in a user namespace
// (the files belong to the host's root) or in a joined mount namespace (host paths are not there).
func selfAttachFiles(spec *specs.Spec, paths map[string]string, v2 bool) []string {
	if v2 {
		return nil
	}
	if _, ok := hasNS(spec, specs.UserNamespace); ok {
		return nil
	}
	if ns, ok := hasNS(spec, specs.MountNamespace); ok && ns.Path != "" {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, filepath.Join(p, "tasks"))
	}
	sort.Strings(out)
	return out
}
