package engine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ContainerOptions are the engine-wide settings of containers (the
// config file's [runtime] and [log], and where the helper binaries are).
type ContainerOptions struct {
	// Runtimes resolves a runtime name ("" for the default) to its binary
	// and its name; nil: the name itself, looked up in $PATH, with
	// berth-runtime as the default.
	Runtimes func(name string) (path, resolvedName string, err error)
	// RuntimeRoot is the runtimes' --root; empty: RUNROOT/runtime.
	RuntimeRoot string
	// MonitorBinary is berth-monitor and InitBinary berth-init (--init);
	// empty: found by FindHelper.
	MonitorBinary, InitBinary string
	// Log is the default log driver and rotation; with no driver:
	// json-file, 20 MiB, 5 files.
	LogDriver  string
	LogMaxSize int64
	LogMaxFile int
	// ExitCommand is run by the monitor after the container exits, with
	// the container's id appended: berth's `container cleanup`. Nil: none
	// (the next command that looks settles the container).
	ExitCommand []string
	// ExecKeeper is the command that sees a detached exec session through
	// (berth's `container exec-keeper`, exec_keeper.go). Nil: exec -d is
	// refused.
	ExecKeeper []string
	// CgroupV2 says the host is on the unified hierarchy (nil: probed).
	CgroupV2 *bool
	// Network is the config's [network].
	Network NetworkConfigOptions
}

// Docker's json-file defaults as Berth ships them (issue: a chatty
// container must not fill the disk).
const (
	DefaultLogMaxSize = 20 << 20
	DefaultLogMaxFile = 5
)

func (o *ContainerOptions) defaults(runRoot string) {
	if o.RuntimeRoot == "" {
		o.RuntimeRoot = filepath.Join(runRoot, "runtime")
	}
	if o.LogDriver == "" {
		// Not configured at all: Berth's defaults. (A configured max
		// size of 0 is no rotation.)
		o.LogDriver, o.LogMaxSize, o.LogMaxFile = "json-file", DefaultLogMaxSize, DefaultLogMaxFile
	}
	if o.LogMaxFile == 0 {
		o.LogMaxFile = DefaultLogMaxFile
	}
	if o.CgroupV2 == nil {
		v2 := false
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			v2 = true
		}
		o.CgroupV2 = &v2
	}
}

// FindHelper finds one of berth's helper binaries (berth-monitor,
// berth-init, berth-runtime): $BERTH_<NAME>_BINARY, then next to the
// running executable, then $PATH.
func FindHelper(name string) (string, error) {
	env := "BERTH_" + map[string]string{"berth-monitor": "MONITOR", "berth-init": "INIT", "berth-runtime": "RUNTIME"}[name] + "_BINARY"
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (next to %s, in $PATH or $%s): %w", name, os.Args[0], env, err)
	}
	return filepath.Abs(p)
}

func (e *Engine) runtimePath(name string) (string, string, error) {
	if e.ctrOpts.Runtimes != nil {
		return e.ctrOpts.Runtimes(name)
	}
	if name == "" {
		name = "berth-runtime"
	}
	if name == "berth-runtime" {
		p, err := FindHelper(name)
		return p, name, err
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", "", fmt.Errorf("runtime %s: %w", name, err)
	}
	p, err = filepath.Abs(p)
	return p, name, err
}

// Where a container's files are. The bundle, its rootfs mount point and
// the log are persistent (ROOT/containers/ID); the monitor's files are in
// the run root, under the short id so that the attach socket's path stays
// within a unix socket's 107 bytes.
func (e *Engine) bundleDir(id string) string { return filepath.Join(e.root, "containers", id) }
func (e *Engine) rootfsDir(id string) string { return filepath.Join(e.bundleDir(id), "rootfs") }
func (e *Engine) ctrRunDir(id string) string { return filepath.Join(e.runRoot, "c", shortID(id)) }
func (e *Engine) exitFile(id string) string  { return filepath.Join(e.ctrRunDir(id), "exit") }
func (e *Engine) attachSocket(id string) string {
	return filepath.Join(e.ctrRunDir(id), "attach")
}

func (e *Engine) logPath(id, driver string) string {
	switch driver {
	case "json-file":
		return filepath.Join(e.bundleDir(id), id+"-json.log")
	case "k8s-file":
		return filepath.Join(e.bundleDir(id), "ctr.log")
	}
	return ""
}
