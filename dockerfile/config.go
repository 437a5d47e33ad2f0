package dockerfile

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// DefaultShell is what the shell forms run through without SHELL.
var DefaultShell = []string{"/bin/sh", "-c"}

// Shell is the shell the config names, or the default.
func Shell(cfg *v1.Config) []string {
	if len(cfg.Shell) > 0 {
		return cfg.Shell
	}
	return DefaultShell
}

// CommandLine is a RUN, CMD or ENTRYPOINT line as argv: the exec form as
// written, the shell form through the config's shell.
func CommandLine(cfg *v1.Config, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	return append(append([]string(nil), Shell(cfg)...), strings.Join(c.CmdLine, " "))
}

// IsConfig says whether cmd only changes the image config (no layer).
func IsConfig(cmd instructions.Command) bool {
	switch cmd.(type) {
	case *instructions.CmdCommand, *instructions.EntrypointCommand, *instructions.EnvCommand,
		*instructions.ExposeCommand, *instructions.LabelCommand, *instructions.StopSignalCommand,
		*instructions.UserCommand, *instructions.VolumeCommand, *instructions.WorkdirCommand,
		*instructions.HealthCheckCommand, *instructions.OnbuildCommand, *instructions.ShellCommand,
		*instructions.MaintainerCommand:
		return true
	}
	return false
}

// Apply changes cfg as the configuration instruction cmd does (after
// any variable expansion, which is the caller's). ENTRYPOINT drops the
// command, as it does for an inherited CMD; a builder that saw a CMD in
// the same stage puts it back. MAINTAINER changes no config (the caller
// sets the author).
func Apply(cfg *v1.Config, cmd instructions.Command) error {
	switch c := cmd.(type) {
	case *instructions.CmdCommand:
		cfg.Cmd = CommandLine(cfg, c.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		cfg.Entrypoint, cfg.Cmd = CommandLine(cfg, c.ShellDependantCmdLine), nil
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = SetEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.ExposeCommand:
		for _, p := range c.Ports {
			for _, w := range strings.Fields(p) {
				port, err := ParsePort(w)
				if err != nil {
					return err
				}
				if cfg.ExposedPorts == nil {
					cfg.ExposedPorts = map[string]struct{}{}
				}
				cfg.ExposedPorts[port] = struct{}{}
			}
		}
	case *instructions.VolumeCommand:
		for _, v := range c.Volumes {
			if v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.WorkdirCommand:
		cfg.WorkingDir = Workdir(cfg.WorkingDir, c.Path)
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.StopSignalCommand:
		if err := checkSignal(c.Signal); err != nil {
			return err
		}
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries}
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.ShellCommand:
		cfg.Shell = append([]string(nil), c.Shell...)
	case *instructions.MaintainerCommand:
	default:
		return fmt.Errorf("%s does not change the image config", strings.ToUpper(cmd.Name()))
	}
	return nil
}

// Workdir resolves a WORKDIR against the current one.
func Workdir(cur, p string) string {
	if !path.IsAbs(p) {
		if cur == "" {
			cur = "/"
		}
		p = path.Join(cur, p)
	}
	return path.Clean(p)
}

// SetEnv sets K=V in env, replacing an earlier K.
func SetEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// ParsePort reads an EXPOSE word: PORT[-END][/tcp|udp|sctp].
func ParsePort(w string) (string, error) {
	port, proto, found := strings.Cut(w, "/")
	if !found {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	lo, hi, isRange := strings.Cut(port, "-")
	ok := isPort(lo) && (!isRange || isPort(hi))
	if !ok || (proto != "tcp" && proto != "udp" && proto != "sctp") {
		return "", fmt.Errorf("invalid port %q", w)
	}
	return port + "/" + proto, nil
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535 && s != "" && s[0] != '+' && s[0] != '-'
}

// checkSignal accepts what Docker's STOPSIGNAL does: a number or a name,
// with or without SIG.
func checkSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return fmt.Errorf("invalid signal: %s", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '+' && r != '-' }) >= 0 {
		return fmt.Errorf("invalid signal: %s", s)
	}
	return nil
}
