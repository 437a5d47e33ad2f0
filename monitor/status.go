package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Exit is what the monitor recorded when the container's init exited.
type Exit struct {
	Code   int       `json:"exitCode"` // 128+Signal when killed by a signal
	Signal int       `json:"signal"`   // 0 unless killed by a signal
	Time   time.Time `json:"time"`
}

// ReadExit reads an exit file; an error wrapping fs.ErrNotExist means none was written yet.
func ReadExit(path string) (*Exit, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("exit file: %w", err)
	}
	return parseExit(b)
}

func parseExit(b []byte) (*Exit, error) {
	var e Exit
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("exit file: %w", err)
	}
	if e.Code < 0 || e.Code > 255 || e.Signal < 0 || e.Signal > 64 || e.Time.IsZero() {
		return nil, fmt.Errorf("exit file: bad status %+v", e)
	}
	return &e, nil
}

// State is a container's state as its monitor's traces tell it.
type State int

const (
	Running State = iota // the init runs
	Exited               // the init exited and its status is known
	Unknown              // the init is gone, its monitor died first: the status is lost
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Exited:
		return "exited"
	}
	return "unknown"
}

// ContainerStatus is Status's answer.
type ContainerStatus struct {
	State        State
	Exit         *Exit // with Exited
	MonitorAlive bool
}

// Status tells what became of the container p watches, from the exit file and the liveness of
// the init and the monitor (see the package doc). It never blocks.
func Status(p Process, exitFile string) (ContainerStatus, error) {
	read := func() (*Exit, error) {
		e, err := ReadExit(exitFile)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return e, err
	}
	e, err := read()
	if err != nil || e != nil {
		return ContainerStatus{State: Exited, Exit: e, MonitorAlive: Alive(p.Pid, p.StartTime)}, err
	}
	mon := Alive(p.Pid, p.StartTime)
	if Alive(p.InitPid, p.InitStartTime) {
		return ContainerStatus{State: Running, MonitorAlive: mon}, nil
	}
	// The init is gone. Read the file again: the monitor may have written it and exited since
	// the first look.
	if e, err = read(); err != nil || e != nil {
		return ContainerStatus{State: Exited, Exit: e, MonitorAlive: Alive(p.Pid, p.StartTime)}, err
	}
	if mon && Alive(p.Pid, p.StartTime) {
		return ContainerStatus{State: Running, MonitorAlive: true}, nil
	}
	// The monitor is gone too. It writes the exit file before it exits, so a read made after
	// seeing it gone is the last word: without it, a monitor that wrote and exited between the
	// read above and the liveness check would read as lost.
	if e, err = read(); err != nil || e != nil {
		return ContainerStatus{State: Exited, Exit: e}, err
	}
	return ContainerStatus{State: Unknown}, nil
}

// StartTime is a process's start time in clock ticks since boot (field 22 of /proc/PID/stat),
// which with the pid names a process for good: a recycled pid gets another start time.
func StartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); the start time is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Alive says whether the process pid with that start time still runs (a zombie does not).
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := StartTime(pid)
	return err == nil && st == start
}

func killGroup(pgid int) {
	// Best effort: the monitor is being abandoned because its caller gave up.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
