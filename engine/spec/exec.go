package spec

import (
	"errors"
	"fmt"
	"path"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are an exec session's settings (docker exec's flags).
type ExecOptions struct {
	Args       []string
	Env        []string // K=V, over the container's
	User       string   // empty: the container's user
	WorkingDir string   // empty: the container's
	Tty        bool
	Privileged bool
}

// ExecProcess is the process of an exec session, as Docker makes it: the
// container's process (its environment, user, capabilities, limits,
// seccomp and AppArmor) with the exec's command and overrides; a user is
// resolved in rootfs (the container's running root), --privileged gives
// every capability.
func ExecProcess(base *specs.Process, rootfs string, o ExecOptions) (*specs.Process, error) {
	if base == nil {
		return nil, errors.New("exec: the container has no process")
	}
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errors.New("exec: no command given")
	}
	p := *base
	p.Args = slices.Clone(o.Args)
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	env := slices.Clone(base.Env)
	if o.Tty && !slices.ContainsFunc(env, func(e string) bool { return envKey(e) == "TERM" }) {
		env = append(env, "TERM=xterm")
	}
	for _, e := range o.Env {
		k := envKey(e)
		if k == "" {
			return nil, fmt.Errorf("invalid --env %q: empty variable name", e)
		}
		if i := slices.IndexFunc(env, func(x string) bool { return envKey(x) == k }); i >= 0 {
			env[i] = e
		} else {
			env = append(env, e)
		}
	}
	if o.User != "" {
		u, err := ResolveUser(rootfs, o.User, nil)
		if err != nil {
			return nil, err
		}
		p.User = specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}
		if i := slices.IndexFunc(env, func(x string) bool { return envKey(x) == "HOME" }); i >= 0 && !slices.ContainsFunc(o.Env, func(x string) bool { return envKey(x) == "HOME" }) {
			env[i] = "HOME=" + u.Home
		}
	}
	p.Env = env
	if o.WorkingDir != "" {
		if !path.IsAbs(o.WorkingDir) {
			return nil, fmt.Errorf("invalid -w %q: the working directory must be an absolute path", o.WorkingDir)
		}
		p.Cwd = path.Clean(o.WorkingDir)
	}
	if o.Privileged {
		all := hostCapabilities()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	} else if base.Capabilities != nil {
		c := *base.Capabilities
		p.Capabilities = &c
	}
	return &p, nil
}
