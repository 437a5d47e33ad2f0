package nsexec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Message tags the child sends.
const (
	TagUserns = 'U' // the child unshared its user namespace: write its id maps, then Ack
	TagPid    = 'P' // payload: the container process's pid (in our pid namespace); Ack after cgroups
	TagReady  = 'R' // the plan reached Ready: the container waits for start
	TagError  = 'E' // payload: what failed; the child exits
)

// ErrClosed is what Next returns once every process holding the child's end of the sync socket is
// gone: it exited, or it exec'd (the socket is close-on-exec by then).
var ErrClosed = errors.New("container init exited before it was ready")

// Child is a running plan interpreter.
type Child struct {
	cmd  *exec.Cmd
	sock *os.File
	// Pid of the intermediate process (the one that was exec'd); the container process
	// comes from the TagPid message.
	Pid int
}

// Config says how to start the interpreter.
type Config struct {
	// Stdio are passed as files, not copied by goroutines: the container process inherits
	// them and outlives the intermediate process we reap.
	Stdin, Stdout, Stderr *os.File
	// Files are inherited at fd 3, 4, ... in this order (preserved fds come first).
	Files []*os.File
	// Exe is the binary to run, one that links this package (berth-runtime, for a caller built
	// without it); default /proc/self/exe. Either is run from a read-only view of itself.
	Exe string
}

// Start runs the interpreter with plan as its first segment.
func Start(cfg Config, plan *Plan) (*Child, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sync socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "sync-parent")
	child := os.NewFile(uintptr(fds[1]), "sync-child")
	defer child.Close()

	exe := cfg.Exe
	if exe == "" {
		if !HasConstructor {
			// Our own copy would run main instead of the plan.
			parent.Close()
			return nil, errors.New("this binary was built without cgo and cannot run container set-up itself: name a berth-runtime binary as the one to run (Exe)")
		}
		exe = "/proc/self/exe"
	}
	ro, err := readonlyExe(exe)
	if err != nil {
		parent.Close()
		return nil, err
	}
	files := append(append([]*os.File{}, cfg.Files...), child)
	syncFd := 3 + len(files) - 1
	command := func(ro *os.File) *exec.Cmd {
		cmd := &exec.Cmd{
			Path:       fmt.Sprintf("/proc/self/fd/%d", ro.Fd()),
			Args:       []string{"berth-runtime-init"},
			Env:        []string{"_BERTH_NSEXEC=" + strconv.Itoa(syncFd)},
			ExtraFiles: files,
		}
		// Assign only non-nil files: a nil *os.File in an io.Reader is not a nil interface.
		if cfg.Stdin != nil {
			cmd.Stdin = cfg.Stdin
		}
		if cfg.Stdout != nil {
			cmd.Stdout = cfg.Stdout
		}
		if cfg.Stderr != nil {
			cmd.Stderr = cfg.Stderr
		}
		return cmd
	}
	cmd := command(ro)
	err = cmd.Start()
	ro.Close()
	if errors.Is(err, syscall.EACCES) {
		// Seen in a process that starts containers from several goroutines at once under
		// load (runtime/oci's TestParallelNoLeaks, a few runs in a hundred): the exec of a
		// detached mount's file fails with EACCES although the fd names the right regular,
		// executable file. Once more from a sealed copy, which is as unwritable.
		if ro, err = sealedCopy(exe); err != nil {
			parent.Close()
			return nil, err
		}
		cmd = command(ro)
		err = cmd.Start()
		ro.Close()
	}
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start container init: %w", err)
	}
	c := &Child{cmd: cmd, sock: parent, Pid: cmd.Process.Pid}
	if err := c.SendPlan(plan); err != nil {
		c.Kill()
		return nil, err
	}
	return c, nil
}

// SendPlan writes a plan segment (the first one, or one the child reads with ReadPlan).
func (c *Child) SendPlan(p *Plan) error {
	if _, err := c.sock.Write(p.Bytes()); err != nil {
		return fmt.Errorf("send plan to container init: %w", err)
	}
	return nil
}

// Next reads the child's next message. An error message from the child comes back as an
// error with the child's text; a closed socket means the child exited.
func (c *Child) Next() (tag byte, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.sock, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, ErrClosed
		}
		return 0, nil, fmt.Errorf("read from container init: %w", err)
	}
	n := binary.LittleEndian.Uint32(hdr[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("container init sent a %d-byte message", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.sock, payload); err != nil {
		return 0, nil, fmt.Errorf("read from container init: %w", err)
	}
	if hdr[0] == TagError {
		return 0, nil, errors.New(string(payload))
	}
	return hdr[0], payload, nil
}

// Ack lets the child go on after a Sync, Fork or user namespace message.
func (c *Child) Ack() error {
	if _, err := c.sock.Write([]byte{'A'}); err != nil {
		return fmt.Errorf("acknowledge container init: %w", err)
	}
	return nil
}

// Close closes our end of the sync socket; a child blocked waiting for us exits.
func (c *Child) Close() error { return c.sock.Close() }

// Wait reaps the intermediate process.
func (c *Child) Wait() error {
	st, err := c.cmd.Process.Wait()
	if err != nil {
		return fmt.Errorf("wait for container init: %w", err)
	}
	if !st.Success() {
		return fmt.Errorf("container init: %s", st)
	}
	return nil
}

// Kill kills and reaps the intermediate process.
func (c *Child) Kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.sock.Close()
	_, _ = c.cmd.Process.Wait()
}

// PidPayload decodes a TagPid payload.
func PidPayload(b []byte) (int, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("bad pid message of %d bytes", len(b))
	}
	return int(binary.LittleEndian.Uint32(b)), nil
}

// readonlyExe returns the runtime binary at path (usually our own, /proc/self/exe) on a private
// read-only bind mount that belongs to no mount namespace (open_tree with OPEN_TREE_CLONE). The child is executed from it, so that a container
// process that reaches the runtime binary through /proc/PID/exe (CVE-2019-5736) can never open it
// for writing: the kernel answers EROFS, and the detached mount cannot be remounted from any
// namespace. It costs two system calls, where a memfd copy of the binary costs milliseconds.
func readonlyExe(path string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if errors.Is(err, unix.EPERM) {
		// OPEN_TREE_CLONE needs CAP_SYS_ADMIN: a rootless runtime uses a sealed copy instead.
		return sealedCopy(path)
	}
	if err != nil {
		return nil, fmt.Errorf("clone runtime binary mount: %w", err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make runtime binary mount read-only: %w", err)
	}
	return os.NewFile(uintptr(fd), "berth-runtime-ro"), nil
}

func sealedSelfCopy() (*os.File, error) { return sealedCopy("/proc/self/exe") }

// sealedCopy copies the runtime binary into a memfd sealed against any change, for callers
// without the privilege that readonlyExe's detached mount needs. A container process that opens
// it through /proc/PID/exe gets a file that can never be written (CVE-2019-5736), at the cost of
// copying the binary on every start.
func sealedCopy(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open runtime binary: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat runtime binary: %w", err)
	}
	fd, err := unix.MemfdCreate("berth-runtime", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.3 know no MFD_EXEC; their memfds are executable anyway.
		fd, err = unix.MemfdCreate("berth-runtime", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd for runtime binary: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth-runtime-memfd")
	for left := st.Size(); left > 0; {
		n, err := unix.Sendfile(fd, int(src.Fd()), nil, int(min(left, 1<<30)))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("copy runtime binary: %w", err)
		}
		if n == 0 {
			f.Close()
			return nil, fmt.Errorf("copy runtime binary: short copy, %d bytes left", left)
		}
		left -= int64(n)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal runtime binary copy: %w", err)
	}
	return f, nil
}
