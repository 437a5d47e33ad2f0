// Package hooks runs OCI lifecycle hooks from the runtime's namespaces.
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Run runs hooks in order with the container state on stdin; the first failure stops the rest.
func Run(phase string, hooks []specs.Hook, state []byte) error {
	for _, h := range hooks {
		if err := run(h, state); err != nil {
			return fmt.Errorf("%s hook: %w", phase, err)
		}
	}
	return nil
}

// RunAll runs every hook in order and reports each failure to warn instead of stopping: the
// spec's rule for poststart and poststop hooks, whose failures are logged while the remaining
// hooks and the lifecycle go on.
func RunAll(phase string, hooks []specs.Hook, state []byte, warn func(string)) {
	for _, h := range hooks {
		if err := run(h, state); err != nil && warn != nil {
			warn(fmt.Sprintf("%s hook: %v", phase, err))
		}
	}
}

func run(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil && *h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args, cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = args, h.Env, bytes.NewReader(state), &stderr, &stderr
	// Its own process group, so that a timeout kills whatever the hook started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A hook that leaves children holding its output must not hang the runtime.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%s timed out after %ds", h.Path, *h.Timeout)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s failed: %s: %s", h.Path, ee, bytes.TrimSpace(stderr.Bytes()))
		}
		return fmt.Errorf("%s: %w", h.Path, err)
	}
	return nil
}
