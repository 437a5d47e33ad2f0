// Package flock holds advisory file locks (flock(2)) that several berth
// processes use to share one engine root: the kernel drops them when a
// process dies, even by SIGKILL, so a killed pull never leaves a stale lock.
package flock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Lock is a held lock on one file.
type Lock struct {
	f         *os.File
	exclusive bool
}

func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	return f, nil
}

func how(exclusive bool) int {
	if exclusive {
		return unix.LOCK_EX
	}
	return unix.LOCK_SH
}

// Acquire blocks until it holds the lock on path (created if missing).
func Acquire(path string, exclusive bool) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how(exclusive))
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f, exclusive: exclusive}, nil
}

// TryAcquire is Acquire without waiting: ok is false when another holder
// is in the way.
func TryAcquire(path string, exclusive bool) (l *Lock, ok bool, err error) {
	f, err := open(path)
	if err != nil {
		return nil, false, err
	}
	err = unix.Flock(int(f.Fd()), how(exclusive)|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f, exclusive: exclusive}, true, nil
}

// TryUpgrade tries to turn a shared lock into an exclusive one without
// waiting. flock drops the old lock before taking the new one, so when the
// upgrade fails the shared lock is taken again (waiting if it must) and
// ok is false.
func (l *Lock) TryUpgrade() (ok bool, err error) {
	if l.exclusive {
		return true, nil
	}
	err = unix.Flock(int(l.f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		l.exclusive = true
		return true, nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return false, fmt.Errorf("lock %s: %w", l.f.Name(), err)
	}
	for {
		err = unix.Flock(int(l.f.Fd()), unix.LOCK_SH)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return false, fmt.Errorf("relock %s: %w", l.f.Name(), err)
	}
	return false, nil
}

// Downgrade turns an exclusive lock back into a shared one.
func (l *Lock) Downgrade() error {
	if !l.exclusive {
		return nil
	}
	if err := unix.Flock(int(l.f.Fd()), unix.LOCK_SH); err != nil {
		return fmt.Errorf("downgrade lock %s: %w", l.f.Name(), err)
	}
	l.exclusive = false
	return nil
}

// Release drops the lock. The lock file stays: removing it would race
// with a process that has it open and is about to lock it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// At tells whether the locked file is still the one at path: a lock on a
// file that was removed (or replaced) since it was opened excludes no one
// who opens path now.
func (l *Lock) At(path string) bool {
	if l == nil || l.f == nil {
		return false
	}
	held, err := l.f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(held, now)
}
