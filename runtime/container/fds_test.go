package container

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestCloexecInherited(t *testing.T) {
	// Opened without O_CLOEXEC, as a careless caller leaves a descriptor.
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC != 0 {
		t.Fatal("test descriptor is close-on-exec already")
	}
	if err := CloexecInherited(); err != nil {
		t.Fatal(err)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d is not close-on-exec after CloexecInherited", fd)
	}
}
