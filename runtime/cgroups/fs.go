package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// write writes one value to a cgroup file. Cgroup files are never created: a missing file means
// the controller or feature is absent, which is reported as ErrNotSupported.
func write(dir, file, val string) error {
	w := &fileWriter{}
	defer w.close()
	return w.write(dir, file, val)
}

// fileWriter writes values to cgroup files, keeping the last file open for the next value
// to the same file (a cgroup file takes each write(2) as one value).
type fileWriter struct {
	path string
	fd   int
}

func (w *fileWriter) write(dir, file, val string) error {
	p := filepath.Join(dir, file)
	if w.path != p {
		w.close()
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				if _, derr := os.Stat(dir); derr != nil {
					return fmt.Errorf("write %s: %w", p, derr)
				}
				return notSupported("%s (no %s)", file, p)
			}
			return fmt.Errorf("open %s: %w", p, err)
		}
		w.path, w.fd = p, fd
	}
	var err error
	for {
		_, err = unix.Write(w.fd, []byte(val))
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", val, p, err)
	}
	return nil
}

func (w *fileWriter) close() {
	if w.path != "" {
		unix.Close(w.fd)
		w.path = ""
	}
}

func exists(dir, file string) bool {
	return unix.Access(filepath.Join(dir, file), unix.F_OK) == nil
}

func read(dir, file string) (string, error) {
	b, err := readRaw(filepath.Join(dir, file))
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readRaw reads a cgroup file with plain syscalls: os.ReadFile's fstat,
// fcntl and poller registration (which fails on cgroupfs anyway) cost
// more than the read itself, and stats read some thirty files a
// container (half the CPU of `berth stats` went there).
func readRaw(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readUint reads a file holding one number; "max" reads as MaxUint64.
func readUint(dir, file string) (uint64, error) {
	s, err := read(dir, file)
	if err != nil {
		return 0, err
	}
	return parseUint(s, filepath.Join(dir, file))
}

func parseUint(s, where string) (uint64, error) {
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Negative values (v1 reads -1 in places) mean "no limit" too.
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return math.MaxUint64, nil
		}
		return 0, fmt.Errorf("parse %q in %s: %w", s, where, err)
	}
	return v, nil
}

// readKV reads a flat keyed file ("key value" per line), skipping lines that do not parse.
func readKV(dir, file string) (map[string]uint64, error) {
	s, err := read(dir, file)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := parseUint(strings.TrimSpace(v), ""); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// procsRecursive lists the processes of dir and of every cgroup below it.
func procsRecursive(dir string) ([]int, error) {
	var pids []int
	seen := map[int]bool{}
	var walk func(string) error
	walk = func(d string) error {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			if d != dir && errors.Is(err, os.ErrNotExist) {
				return nil // removed while we walked
			}
			return fmt.Errorf("list processes: %w", err)
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("list sub-cgroups: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				if err := walk(filepath.Join(d, e.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	sort.Ints(pids)
	return pids, nil
}

// removeTree removes a cgroup directory and any cgroups below it, deepest first. A cgroup
// whose last process has just exited can stay busy for a moment, so EBUSY is retried briefly.
// A directory that is already gone is not an error.
//
// The rmdir comes first and the directory is listed only when it fails: a container's cgroup
// rarely has children, and listing a cgroup directory (dozens of control files, each made up
// by the kernel) cost more than the rmdir itself (about a third of delete's cgroup time).
func removeTree(dir string) error {
	err := unix.Rmdir(dir)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	// v1 says EBUSY for a cgroup with children (or processes), v2 ENOTEMPTY or EBUSY.
	if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove cgroup: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 100 * time.Microsecond
	deadline := time.Now().Add(time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		time.Sleep(delay)
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

// waitFor polls cond every millisecond until it is true, or fails after timeout.
func waitFor(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(time.Millisecond)
	}
}
