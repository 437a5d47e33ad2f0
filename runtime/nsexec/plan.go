// Package nsexec runs container set-up in a child process before the Go runtime starts there.
//
// The Go side builds a Plan, a flat list of operations (mounts, pivot_root, setns, capabilities,
// exec...), and starts a copy of the current binary with _BERTH_NSEXEC set. A C constructor in
// that copy reads the plan from the sync socket and executes it, single-threaded, which is what
// setns(2) into mount and user namespaces needs. Any binary that links this package can serve as
// the child: berth-runtime itself and the test binaries alike.
package nsexec

import (
	"encoding/binary"
	"strconv"
)

// Operation codes; they mirror ops.h.
const (
	opSetns       = 1
	opUnshare     = 2
	opSync        = 3
	opFork        = 4
	opReadPlan    = 5
	opMount       = 6
	opMountpoint  = 7
	opMkdir       = 8
	opMknod       = 9
	opSymlink     = 10
	opPivot       = 11
	opChroot      = 12
	opChdir       = 13
	opHostname    = 14
	opDomainname  = 15
	opWriteFile   = 16
	opRlimit      = 17
	opPrctl       = 18
	opSetgroups   = 19
	opSetid       = 20
	opCaps        = 21
	opUmask       = 22
	opPersonality = 23
	opConsole     = 24
	opSetsid      = 25
	opWaitStart   = 26
	opSeccomp     = 27
	opCloseFd     = 28
	opCloexecFrom = 29
	opMask        = 30
	opReadonly    = 31
	opHook        = 32
	opIoprio      = 33
	opSched       = 34
	opReady       = 35
	opExec        = 36
	opLookup      = 37
	opKeyring     = 38
	opRootFd      = 39
	opMountAt     = 40
	opProcFd      = 41
	opProcWrite   = 42
	opPremount    = 43
)

// MountFlags say how a MountAt is made; they mirror the MNT_F_ values of ops.h.
type MountFlags uint64

const (
	MountBind     MountFlags = 1   // Source is a host path (or Premounted(i)) whose tree is cloned
	MountRec      MountFlags = 2   // clone the whole tree (rbind)
	MountDir      MountFlags = 4   // create a missing destination as a directory
	MountFile     MountFlags = 8   // ... as an empty file
	MountAuto     MountFlags = 16  // ... as the kind of the bind source
	MountProcOK   MountFlags = 32  // the destination may be a procfs file (the lxcfs allowlist)
	MountNoFollow MountFlags = 64  // the destination's last component must not be a symlink
	MountProc     MountFlags = 128 // a procfs mount: no symlink on the way, the result is checked
	MountIDMapRec MountFlags = 256 // Premount: id-map every mount of the tree (ridmap)
)

// MountOp is one mount onto a path inside the container root. Dest is relative to the root
// opened by RootFd ("" is the root itself) and is resolved by the child when the op runs, inside
// the root; the mount is made onto the resolved fd.
type MountOp struct {
	Source string // host path for binds, else the file system's source
	Dest   string
	Type   string
	Data   string
	Flags  uintptr // MS_* flags of a new file system (or a remount)
	Opts   MountFlags
	// mount_setattr attributes (MOUNT_ATTR_*) applied to the top mount of a bind (AttrSet,
	// AttrClr) and to every mount below it too (RAttrSet, RAttrClr, also for new file systems).
	AttrSet, AttrClr, RAttrSet, RAttrClr uint64
	Propagation                          []uintptr // MS_SHARED, MS_PRIVATE, ... each with MS_REC for the whole tree
}

// Premounted names the tree prepared by Premount(i) as a MountOp source.
func Premounted(i int) string { return "@" + strconv.Itoa(i) }

// Plan is an encoded list of operations for the child.
type Plan struct {
	buf []byte
}

// arg is one operation argument: a string, or an integer (encoded as 8 bytes).
type arg struct {
	s     string
	isInt bool
	n     uint64
}

func s(v string) arg { return arg{s: v} }
func u(v uint64) arg { return arg{isInt: true, n: v} }

func (p *Plan) add(code uint32, args ...arg) {
	p.buf = binary.LittleEndian.AppendUint32(p.buf, code)
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(args)))
	for _, a := range args {
		if a.isInt {
			p.buf = binary.LittleEndian.AppendUint32(p.buf, 8)
			p.buf = binary.LittleEndian.AppendUint64(p.buf, a.n)
		} else {
			p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(a.s)))
			p.buf = append(p.buf, a.s...)
		}
		// Every argument is NUL-terminated so the C side can use strings in place.
		p.buf = append(p.buf, 0)
	}
}

// Bytes returns the plan framed for the wire: length, then the operations.
func (p *Plan) Bytes() []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(p.buf)))
	return append(out, p.buf...)
}

// Len reports the encoded size, for tests and benchmarks.
func (p *Plan) Len() int { return len(p.buf) }

func (p *Plan) Setns(path string, nstype int) { p.add(opSetns, s(path), u(uint64(nstype))) }
func (p *Plan) Unshare(flags int)             { p.add(opUnshare, u(uint64(flags))) }

// Sync sends tag to the parent and waits for its acknowledgement.
func (p *Plan) Sync(tag byte) { p.add(opSync, s(string([]byte{tag}))) }

// Fork clones the container process as a sibling of this one (a child of the runtime), reports
// its pid with tag 'P' and waits for the parent's acknowledgement in the new process.
func (p *Plan) Fork()     { p.add(opFork) }
func (p *Plan) ReadPlan() { p.add(opReadPlan) }
func (p *Plan) Mount(src, dst, fstype string, flags uintptr, data string) {
	p.add(opMount, s(src), s(dst), s(fstype), u(uint64(flags)), s(data))
}

// Mountpoint creates a mount point at a host path (outside any container root).
func (p *Plan) Mountpoint(path string, isFile bool) {
	var f uint64
	if isFile {
		f = 1
	}
	p.add(opMountpoint, s(path), u(f))
}

// RootFd opens rootfs, a host path that is a mount point by now, as the container root that
// every ...At operation resolves its path in (until pivot_root, and after it).
func (p *Plan) RootFd(rootfs string) { p.add(opRootFd, s(rootfs)) }

// MountAt mounts m onto its destination inside the root.
func (p *Plan) MountAt(m MountOp) {
	a := []arg{s(m.Source), s(m.Dest), s(m.Type), u(uint64(m.Flags)), s(m.Data), u(uint64(m.Opts)),
		u(m.AttrSet), u(m.AttrClr), u(m.RAttrSet), u(m.RAttrClr)}
	for _, pf := range m.Propagation {
		a = append(a, u(uint64(pf)))
	}
	p.add(opMountAt, a...)
}

// Premount clones the tree at host path src (recursively with MountRec), id-maps it through a
// new user namespace with the given uid_map and gid_map contents and keeps it detached for a
// later MountAt with Source Premounted(i). It runs before the child enters any namespace, where
// the runtime holds the privilege id-mapping needs.
func (p *Plan) Premount(i int, src string, opts MountFlags, uidMap, gidMap string) {
	p.add(opPremount, u(uint64(i)), s(src), u(uint64(opts)), s(uidMap), s(gidMap))
}

// ProcFd opens the procfs handle that ProcWrite uses: a fresh procfs instance, or the /proc of
// the current mount namespace checked to be procfs. Call it before any container mount.
func (p *Plan) ProcFd() { p.add(opProcFd) }

// ProcWrite writes data to path relative to procfs ("sys/net/...", "self/attr/exec") through
// the procfs handle, refusing symlinks out, magic links and mount crossings.
func (p *Plan) ProcWrite(path, data string) { p.add(opProcWrite, s(path), s(data)) }

// MkdirAt creates rel inside the root (a directory, or an empty file with isFile) with what is
// missing on the way.
func (p *Plan) MkdirAt(rel string, isFile bool) {
	var f uint64
	if isFile {
		f = 1
	}
	p.add(opMkdir, s(rel), u(0o755), u(f))
}

// MknodAt creates a device node at rel inside the root; a node already there is left alone if
// it is that device, refused otherwise.
func (p *Plan) MknodAt(rel string, mode uint32, dev uint64, uid, gid uint32) {
	p.add(opMknod, s(rel), u(uint64(mode)), u(dev), u(uint64(uid)), u(uint64(gid)))
}
func (p *Plan) SymlinkAt(target, rel string) { p.add(opSymlink, s(target), s(rel)) }
func (p *Plan) PivotRoot(rootfs string)      { p.add(opPivot, s(rootfs)) }
func (p *Plan) Chroot(rootfs string)         { p.add(opChroot, s(rootfs)) }

// ChrootInPlace chroots into rootfs without moving its mount to / first: for a process in
// the caller's mount namespace, whose / must stay as it is.
func (p *Plan) ChrootInPlace(rootfs string)        { p.add(opChroot, s(rootfs), u(0)) }
func (p *Plan) Chdir(path string)                  { p.add(opChdir, s(path)) }
func (p *Plan) Hostname(name string)               { p.add(opHostname, s(name)) }
func (p *Plan) Domainname(name string)             { p.add(opDomainname, s(name)) }
func (p *Plan) WriteFile(path string, data string) { p.add(opWriteFile, s(path), s(data)) }
func (p *Plan) Rlimit(res int, soft, hard uint64, name string) {
	p.add(opRlimit, u(uint64(res)), u(soft), u(hard), s(name))
}
func (p *Plan) Prctl(option int, arg2, arg3 uint64, name string) {
	p.add(opPrctl, u(uint64(option)), u(arg2), u(arg3), s(name))
}
func (p *Plan) Setgroups(gids []uint32) {
	args := make([]arg, len(gids))
	for i, g := range gids {
		args[i] = u(uint64(g))
	}
	p.add(opSetgroups, args...)
}
func (p *Plan) Setid(uid, gid uint32) { p.add(opSetid, u(uint64(uid)), u(uint64(gid))) }

// Caps sets the five capability sets; sets are bit masks, lastCap the highest capability the
// kernel knows (bounding drops stop there).
func (p *Plan) Caps(bounding, effective, permitted, inheritable, ambient uint64, lastCap int) {
	p.add(opCaps, u(bounding), u(effective), u(permitted), u(inheritable), u(ambient), u(uint64(lastCap)))
}
func (p *Plan) Umask(mask uint32)          { p.add(opUmask, u(uint64(mask))) }
func (p *Plan) Personality(persona uint64) { p.add(opPersonality, u(persona)) }

// Console makes the process's pty and sends its master to the console socket; with mount it also
// binds the pty over /dev/console in the root. A non-zero size (process.consoleSize) is set on
// the pty before the master is sent, so the process never sees 0x0, whoever relays it later.
func (p *Plan) Console(sockFd int, mount bool, height, width uint) {
	var m uint64
	if mount {
		m = 1
	}
	p.add(opConsole, u(uint64(sockFd)), u(m), u(uint64(height)), u(uint64(width)))
}
func (p *Plan) Setsid()              { p.add(opSetsid) }
func (p *Plan) WaitStart(fifoFd int) { p.add(opWaitStart, u(uint64(fifoFd))) }
func (p *Plan) Seccomp(flags uint, prog []byte) {
	p.add(opSeccomp, u(uint64(flags)), s(string(prog)))
}
func (p *Plan) CloseFd(fd int)     { p.add(opCloseFd, u(uint64(fd))) }
func (p *Plan) CloexecFrom(fd int) { p.add(opCloexecFrom, u(uint64(fd))) }

// MaskAt hides rel inside the root (read-only tmpfs over a directory, the checked /dev/null
// over anything else); ReadonlyAt makes rel and every mount below it read-only, adding the
// MOUNT_ATTR_* bits in extra.
func (p *Plan) MaskAt(rel string)                   { p.add(opMask, s(rel)) }
func (p *Plan) ReadonlyAt(rel string, extra uint64) { p.add(opReadonly, s(rel), u(extra)) }

// Hook runs a hook from inside the child (used for hooks that run in the container's namespaces).
func (p *Plan) Hook(timeoutSec int, state []byte, path string, args, env []string) {
	a := []arg{u(uint64(timeoutSec)), s(string(state)), s(path), u(uint64(len(args)))}
	for _, v := range args {
		a = append(a, s(v))
	}
	for _, v := range env {
		a = append(a, s(v))
	}
	p.add(opHook, a...)
}
func (p *Plan) Ioprio(v int) { p.add(opIoprio, u(uint64(v))) }
func (p *Plan) Sched(policy uint32, flags uint64, nice int32, prio uint32, runtime, deadline, period uint64) {
	p.add(opSched, u(uint64(policy)), u(flags), u(uint64(int64(nice))), u(uint64(prio)), u(runtime), u(deadline), u(period))
}
func (p *Plan) Ready() { p.add(opReady) }

// Exec ends the plan: path is absolute or a bare name searched in env's PATH.
func (p *Plan) Exec(path string, args, env []string) {
	a := []arg{s(path), u(uint64(len(args)))}
	for _, v := range args {
		a = append(a, s(v))
	}
	for _, v := range env {
		a = append(a, s(v))
	}
	p.add(opExec, a...)
}

// Lookup resolves name in the container (through pathEnv when it has no slash) and fails the
// plan if it is missing; a following Exec with an empty path runs what it found.
func (p *Plan) Lookup(name, pathEnv string) { p.add(opLookup, s(name), s(pathEnv)) }

// SessionKeyring joins the session keyring called name, creating it if needed, so that the
// process no longer shares the caller's session keyring (runc's "_ses.<id>").
func (p *Plan) SessionKeyring(name string) { p.add(opKeyring, s(name)) }
