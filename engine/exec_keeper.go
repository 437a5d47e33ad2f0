package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/console"
)

// A detached exec session outlives the berth command that starts it, so a
// process of its own sees it through (berth's hidden `container
// exec-keeper`): it runs the runtime's `exec --detach` as its child and,
// being a subreaper, becomes the parent of the session's process when the
// runtime exits; it reaps it and logs its exec_die, as Docker's daemon
// does, and with a terminal it keeps the pty's master open for as long as
// the session lasts (nobody is attached to read it). It is a Go process of
// about 2 MiB that lives only while its session does.

// KeeperSpec is what the keeper is told, as its one argument (JSON).
type KeeperSpec struct {
	Runtime []string `json:"runtime"` // the runtime's exec command line
	PidFile string   `json:"pidFile"`
	Tty     bool     `json:"tty"` // the console socket's listener is fd 4
	// Events is the event log and Die the exec_die to write there, whose
	// exitCode attribute the keeper fills in.
	Events      string `json:"events"`
	EventsLimit int64  `json:"eventsLimit"`
	Die         Event  `json:"die"`
}

// Fds the keeper gets: 2 is the runtime's stderr (a file the caller
// reads), 3 the pipe it reports the runtime's status on, 4 the console
// socket's listener.
const (
	keeperStatusFd   = 3
	keeperListenerFd = 4
)

// startKeeper starts the keeper for a detached session and returns the
// runtime's exit status (128+N for a signal) once the keeper reports it.
func (e *Engine) startKeeper(spec KeeperSpec, stderr *os.File, sock string) (int, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer sr.Close()
	files := []*os.File{sw}
	if spec.Tty {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			sw.Close()
			return 0, fmt.Errorf("console socket: %w", err)
		}
		ln.SetUnlinkOnClose(false)
		lf, err := ln.File()
		ln.Close()
		if err != nil {
			sw.Close()
			return 0, fmt.Errorf("console socket: %w", err)
		}
		defer lf.Close()
		files = append(files, lf)
	}
	k := e.ctrOpts.ExecKeeper
	cmd := exec.Command(k[0], append(k[1:], string(b))...)
	cmd.Dir = "/"
	cmd.Stderr = stderr
	cmd.ExtraFiles = files
	// Its own session: a ^C at the caller's terminal is not for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	sw.Close()
	if err != nil {
		return 0, fmt.Errorf("exec keeper: %w", err)
	}
	// Reaped when it ends, in a caller that lives on (berth serve).
	go cmd.Wait()
	out, _ := io.ReadAll(io.LimitReader(sr, 64))
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, errors.New("exec keeper: it ended before it reported the runtime's status")
	}
	return code, nil
}

// RunExecKeeper is the keeper's side; its arguments are startKeeper's.
func RunExecKeeper(arg string) error {
	var spec KeeperSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil || len(spec.Runtime) == 0 {
		return fmt.Errorf("exec keeper: bad spec: %v", err)
	}
	status := os.NewFile(keeperStatusFd, "keeper-status")
	var ln *os.File
	if spec.Tty {
		ln = os.NewFile(keeperListenerFd, "console-listener")
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(status, "125\n")
		return fmt.Errorf("exec keeper: subreaper: %w", err)
	}
	rt := exec.Command(spec.Runtime[0], spec.Runtime[1:]...)
	rt.Dir, rt.Stderr = "/", os.Stderr
	code := 0
	if err := rt.Run(); err != nil {
		var ee *exec.ExitError
		switch {
		case !errors.As(err, &ee):
			fmt.Fprintf(os.Stderr, "berth-runtime: %v\n", err)
			code = 125
		case ee.Sys().(syscall.WaitStatus).Signaled():
			code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		default:
			code = ee.ExitCode()
		}
	}
	// The pid file is read before the status goes back: the caller
	// removes it once it has the status.
	pid := 0
	if code == 0 {
		b, err := os.ReadFile(spec.PidFile)
		if err == nil {
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if err != nil || pid <= 0 {
			fmt.Fprintf(os.Stderr, "berth-runtime: exec keeper: pid file %s: %v\n", spec.PidFile, err)
			code = 125
		}
	}
	fmt.Fprintf(status, "%d\n", code)
	status.Close()
	if code != 0 {
		return nil // the caller tells what the runtime said
	}
	if ln != nil {
		// The runtime sent the master before it returned: it is queued.
		if master, err := receiveMaster(ln); err == nil {
			go io.Copy(io.Discard, master) // EIO once the last process closes the terminal
		}
	}
	die := spec.Die
	die.Actor.Attributes["exitCode"] = strconv.Itoa(reap(pid))
	appendDie(spec, die)
	return nil
}

// reap waits for the session's process, which is our child now (or was
// the runtime's and ended before it: then it came to us as a zombie),
// reaping the others that come to us meanwhile; it returns Docker's exit
// code.
func reap(pid int) int {
	for {
		var ws unix.WaitStatus
		w, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1 // not ours after all: its status is lost
		}
		if w != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

func receiveMaster(lf *os.File) (*os.File, error) {
	l, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return nil, err
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	_ = ul.SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ul.AcceptUnix()
	ul.Close()
	if err != nil {
		return nil, err
	}
	raw, err := conn.File()
	conn.Close()
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	fd, _, err := console.ReceiveFd(int(raw.Fd()), 10*time.Second)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "pty-master"), nil
}

func appendDie(spec KeeperSpec, ev Event) {
	now := time.Now()
	ev.Time, ev.TimeNano = now.Unix(), now.UnixNano()
	if ev.Scope == "" {
		ev.Scope = "local"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	appendEvent(spec.Events, append(b, '\n'), spec.EventsLimit)
}
