package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Marshal returns the program as the kernel's struct sock_filter array in native byte order, the
// form the C init helper passes to seccomp(2).
func Marshal(prog []unix.SockFilter) []byte {
	b := make([]byte, 0, len(prog)*unix.SizeofSockFilter)
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}

// Load installs a compiled program in the calling thread (with FlagTSync: in every thread of the
// process). It uses seccomp(2), falling back to prctl(PR_SET_SECCOMP) on kernels without it when
// no flags are asked for. The caller needs no_new_privs set or CAP_SYS_ADMIN; Load does not set
// no_new_privs itself because whether to is the spec's (process.noNewPrivileges) decision.
// Go callers without FlagTSync should hold runtime.LockOSThread.
func Load(prog []unix.SockFilter, flags uint) error {
	if len(prog) == 0 {
		return errors.New("seccomp: empty program")
	}
	if len(prog) > MaxInstructions {
		return fmt.Errorf("seccomp: program has %d instructions, the kernel allows %d", len(prog), MaxInstructions)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags),
		uintptr(unsafe.Pointer(&fprog)))
	if errno == unix.ENOSYS && flags == 0 {
		errno = 0
		_, _, errno = unix.Syscall6(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER,
			uintptr(unsafe.Pointer(&fprog)), 0, 0, 0)
	}
	runtime.KeepAlive(prog)
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("seccomp: load filter: %w (the caller needs no_new_privs or CAP_SYS_ADMIN)", errno)
	case errno == unix.EINVAL:
		return fmt.Errorf("seccomp: load filter with flags %#x: %w (flag or program not accepted by this kernel)", flags, errno)
	case errno != 0:
		return fmt.Errorf("seccomp: load filter: %w", errno)
	case flags&FlagTSync != 0 && r != 0:
		// With TSYNC, a positive return is the id of a thread that could not be synchronised.
		return fmt.Errorf("seccomp: load filter: thread %d could not be synchronised (TSYNC)", r)
	}
	return nil
}
