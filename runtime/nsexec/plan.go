// Package nsexec runs container set-up in a child process before the Go runtime starts there.
//
// The Go side builds a Plan, a flat list of operations (mounts, pivot_root, setns, capabilities,
// exec...), and starts a copy of the current binary with _BERTH_NSEXEC set. A C constructor in
// that copy reads the plan from the sync socket and executes it, single-threaded, which is what
// setns(2) into mount and user namespaces needs. Any binary that links this package can serve as
// the child: berth-runtime itself and the test binaries alike.
package nsexec

/*
#cgo CFLAGS: -Wall -Wno-unused-result -Wno-format-truncation -O2
*/
import "C"

import (
	"encoding/binary"
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
)

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
func (p *Plan) Mountpoint(path string, isFile bool) {
	var f uint64
	if isFile {
		f = 1
	}
	p.add(opMountpoint, s(path), u(f))
}
func (p *Plan) Mkdir(path string, mode uint32) { p.add(opMkdir, s(path), u(uint64(mode))) }
func (p *Plan) Mknod(path string, mode uint32, dev uint64, uid, gid uint32) {
	p.add(opMknod, s(path), u(uint64(mode)), u(dev), u(uint64(uid)), u(uint64(gid)))
}
func (p *Plan) Symlink(target, link string) { p.add(opSymlink, s(target), s(link)) }
func (p *Plan) PivotRoot(rootfs string)     { p.add(opPivot, s(rootfs)) }
func (p *Plan) Chroot(rootfs string)        { p.add(opChroot, s(rootfs)) }

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
func (p *Plan) Console(sockFd int)         { p.add(opConsole, u(uint64(sockFd))) }
func (p *Plan) Setsid()                    { p.add(opSetsid) }
func (p *Plan) WaitStart(fifoFd int)       { p.add(opWaitStart, u(uint64(fifoFd))) }
func (p *Plan) Seccomp(flags uint, prog []byte) {
	p.add(opSeccomp, u(uint64(flags)), s(string(prog)))
}
func (p *Plan) CloseFd(fd int)                      { p.add(opCloseFd, u(uint64(fd))) }
func (p *Plan) CloexecFrom(fd int)                  { p.add(opCloexecFrom, u(uint64(fd))) }
func (p *Plan) Mask(path string)                    { p.add(opMask, s(path)) }
func (p *Plan) Readonly(path string, extra uintptr) { p.add(opReadonly, s(path), u(uint64(extra))) }

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
