package container

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloexecInherited marks every descriptor from 3 up close-on-exec. A runtime calls it first
// thing, before it starts any process: descriptors its caller left open without close-on-exec
// would otherwise reach the container process, and one open on a host directory is a way out of
// the rootfs (CVE-2024-21626: process.cwd /proc/self/fd/N). The descriptors a container is
// meant to get (--preserve-fds, the console) are handed over explicitly, which clears the flag
// on the copies the container gets.
func CloexecInherited() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk the open descriptors.
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list open descriptors: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("list open descriptors: %w", err)
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < 3 || fd == int(d.Fd()) {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return fmt.Errorf("mark descriptor %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}

// passedFiles returns the caller's descriptors 3..3+n-1, which the container is to get (the
// socket-activation fds, then --preserve-fds): each must be open.
func passedFiles(n int, what string) ([]*os.File, error) {
	if n < 0 {
		return nil, fmt.Errorf("%s %d: must not be negative", what, n)
	}
	files := make([]*os.File, 0, n+2)
	for i := 0; i < n; i++ {
		fd := 3 + i
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("%s %d: descriptor %d is not open: %w", what, n, fd, err)
		}
		files = append(files, os.NewFile(uintptr(fd), "passed-"+strconv.Itoa(fd)))
	}
	return files, nil
}

// ListenFds returns how many descriptors from 3 up systemd socket activation passed to this
// process (LISTEN_FDS, when LISTEN_PID names it), 0 without any.
func ListenFds() int {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
