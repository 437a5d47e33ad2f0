package spec

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// ParseMemory parses a size as Docker's --memory, --memory-reservation and --shm-size do
// (RAMInBytes: "512m", "1g", "100" bytes; binary units).
func ParseMemory(flag, s string) (int64, error) {
	v, err := units.RAMInBytes(s)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: %w", flag, s, err)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid %s %q: negative size", flag, s)
	}
	return v, nil
}

// ParseMemorySwap parses --memory-swap: a size, or -1 for unlimited swap.
func ParseMemorySwap(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	return ParseMemory("--memory-swap", s)
}

// ParseCPUs parses --cpus ("1.5") into nano CPUs, as Docker's NanoCPUs.
func ParseCPUs(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("invalid --cpus %q: not a number", s)
	}
	if r.Sign() < 0 {
		return 0, fmt.Errorf("invalid --cpus %q: must not be negative", s)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, fmt.Errorf("invalid --cpus %q: too precise", s)
	}
	if !nano.Num().IsInt64() {
		return 0, fmt.Errorf("invalid --cpus %q: too large", s)
	}
	return nano.Num().Int64(), nil
}

// ParseUlimit parses --ulimit name=soft[:hard] (Docker's names: nofile, nproc, core, ...;
// -1 is unlimited).
func ParseUlimit(s string) (Ulimit, error) {
	u, err := units.ParseUlimit(s)
	if err != nil {
		return Ulimit{}, fmt.Errorf("invalid --ulimit %q: %w", s, err)
	}
	if _, err := u.GetRlimit(); err != nil {
		return Ulimit{}, fmt.Errorf("invalid --ulimit %q: %w", s, err)
	}
	return Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}, nil
}

// rlimitType maps a Docker ulimit name to the OCI rlimit type.
func rlimitType(name string) (string, error) {
	u := &units.Ulimit{Name: name}
	if _, err := u.GetRlimit(); err != nil {
		return "", err
	}
	return "RLIMIT_" + strings.ToUpper(name), nil
}

// ParseDevice parses --device host[:container][:perms]. Only the syntax is checked here; the
// host node is looked at when the spec is made.
func ParseDevice(s string) (Device, error) {
	parts := strings.Split(s, ":")
	d := Device{Permissions: "rwm"}
	switch len(parts) {
	case 1:
		d.HostPath = parts[0]
	case 2:
		d.HostPath = parts[0]
		if validPerms(parts[1]) {
			d.Permissions = parts[1]
		} else {
			d.ContainerPath = parts[1]
		}
	case 3:
		d.HostPath, d.ContainerPath, d.Permissions = parts[0], parts[1], parts[2]
	default:
		return Device{}, fmt.Errorf("invalid --device %q: want host[:container][:permissions]", s)
	}
	if d.HostPath == "" {
		return Device{}, fmt.Errorf("invalid --device %q: empty host path", s)
	}
	if !path.IsAbs(d.HostPath) {
		return Device{}, fmt.Errorf("invalid --device %q: host path %q is not absolute", s, d.HostPath)
	}
	if d.ContainerPath == "" {
		d.ContainerPath = d.HostPath
	}
	if !path.IsAbs(d.ContainerPath) {
		return Device{}, fmt.Errorf("invalid --device %q: container path %q is not absolute", s, d.ContainerPath)
	}
	if !validPerms(d.Permissions) {
		return Device{}, fmt.Errorf("invalid --device %q: permissions %q are not a combination of r, w and m", s, d.Permissions)
	}
	return d, nil
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range p {
		if (c != 'r' && c != 'w' && c != 'm') || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// ParseTmpfs parses --tmpfs dst[:opts] into the destination and its option string.
func ParseTmpfs(s string) (dst, opts string, err error) {
	dst, opts, _ = strings.Cut(s, ":")
	if !path.IsAbs(dst) {
		return "", "", fmt.Errorf("invalid --tmpfs %q: destination %q is not an absolute path", s, dst)
	}
	if dst == "/" {
		return "", "", fmt.Errorf("invalid --tmpfs %q: destination can't be /", s)
	}
	if _, _, err := tmpfsOptions(opts); err != nil {
		return "", "", fmt.Errorf("invalid --tmpfs %q: %w", s, err)
	}
	return path.Clean(dst), opts, nil
}

var propagations = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// ParseVolume parses -v [src:]dst[:opts]. A src that is not an absolute path is a volume name;
// no src is an anonymous volume (Type volume, Source "").
func ParseVolume(s string) (Mount, error) {
	parts := strings.Split(s, ":")
	var m Mount
	var opts string
	switch len(parts) {
	case 1:
		m.Destination = parts[0]
	case 2:
		if strings.HasPrefix(parts[1], "/") {
			m.Source, m.Destination = parts[0], parts[1]
		} else {
			m.Destination, opts = parts[0], parts[1]
		}
	case 3:
		m.Source, m.Destination, opts = parts[0], parts[1], parts[2]
	default:
		return Mount{}, fmt.Errorf("invalid -v %q: want [source:]destination[:options]", s)
	}
	if !path.IsAbs(m.Destination) {
		return Mount{}, fmt.Errorf("invalid -v %q: destination %q is not an absolute path", s, m.Destination)
	}
	if path.Clean(m.Destination) == "/" {
		return Mount{}, fmt.Errorf("invalid -v %q: destination can't be /", s)
	}
	m.Destination = path.Clean(m.Destination)
	switch {
	case m.Source == "" && len(parts) == 3:
		return Mount{}, fmt.Errorf("invalid -v %q: empty source", s)
	case strings.HasPrefix(m.Source, "/"):
		m.Type, m.Source = MountBind, path.Clean(m.Source)
	default:
		m.Type = MountVolume
		if m.Source != "" && !validVolumeName(m.Source) {
			return Mount{}, fmt.Errorf("invalid -v %q: %q is neither an absolute path nor a valid volume name", s, m.Source)
		}
	}
	rw := 0
	if opts != "" {
		for _, o := range strings.Split(opts, ",") {
			switch {
			case o == "ro":
				m.ReadOnly = true
				rw++
			case o == "rw":
				rw++
			case propagations[o]:
				if m.Propagation != "" {
					return Mount{}, fmt.Errorf("invalid -v %q: more than one propagation mode", s)
				}
				m.Propagation = o
			case o == "z" || o == "Z":
				m.Options = append(m.Options, o)
			case o == "nocopy":
				m.NoCopy = true
			default:
				return Mount{}, fmt.Errorf("invalid -v %q: unknown option %q", s, o)
			}
		}
	}
	if rw > 1 {
		return Mount{}, fmt.Errorf("invalid -v %q: ro and rw given more than once", s)
	}
	if m.Propagation != "" && m.Type != MountBind {
		return Mount{}, fmt.Errorf("invalid -v %q: propagation applies to bind mounts only", s)
	}
	return m, nil
}

// validVolumeName is Docker's volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
func validVolumeName(n string) bool {
	if len(n) < 2 {
		return false
	}
	for i, c := range n {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '-')) {
			return false
		}
	}
	return true
}

// ParseMount parses --mount type=bind|volume|tmpfs,source=…,target=…,readonly,… (CSV as Docker's).
func ParseMount(s string) (Mount, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return Mount{}, fmt.Errorf("invalid --mount %q: %w", s, err)
	}
	m := Mount{Type: MountVolume}
	bad := func(format string, a ...any) (Mount, error) {
		return Mount{}, fmt.Errorf("invalid --mount %q: %s", s, fmt.Sprintf(format, a...))
	}
	var bindOpt, volOpt, tmpfsOpt bool
	for _, f := range fields {
		k, v, hasV := strings.Cut(f, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		boolVal := func() (bool, error) {
			if !hasV {
				return true, nil
			}
			switch strings.ToLower(v) {
			case "1", "true":
				return true, nil
			case "0", "false":
				return false, nil
			}
			return false, fmt.Errorf("invalid --mount %q: %s=%q is not a boolean", s, k, v)
		}
		if !hasV && k != "readonly" && k != "ro" && k != "volume-nocopy" && k != "bind-nonrecursive" {
			return bad("%q needs a value", f)
		}
		switch k {
		case "type":
			switch MountType(v) {
			case MountBind, MountVolume, MountTmpfs:
				m.Type = MountType(v)
			default:
				return bad("unknown type %q (bind, volume or tmpfs)", v)
			}
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Destination = v
		case "readonly", "ro":
			b, err := boolVal()
			if err != nil {
				return Mount{}, err
			}
			m.ReadOnly = b
		case "consistency":
			// macOS only in Docker; ignored as Docker on Linux does.
		case "bind-propagation":
			if !propagations[v] {
				return bad("unknown bind-propagation %q", v)
			}
			m.Propagation, bindOpt = v, true
		case "bind-nonrecursive":
			b, err := boolVal()
			if err != nil {
				return Mount{}, err
			}
			m.NonRecursive, bindOpt = b, true
		case "bind-recursive":
			switch v {
			case "enabled", "readonly":
			case "disabled":
				m.NonRecursive = true
			default:
				return bad("bind-recursive=%q is not supported (enabled, disabled, readonly)", v)
			}
			bindOpt = true
		case "volume-nocopy":
			b, err := boolVal()
			if err != nil {
				return Mount{}, err
			}
			m.NoCopy, volOpt = b, true
		case "tmpfs-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return bad("tmpfs-size=%q is not a size", v)
			}
			m.TmpfsSize, tmpfsOpt = n, true
		case "tmpfs-mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil || n > 0o7777 {
				return bad("tmpfs-mode=%q is not an octal mode", v)
			}
			m.TmpfsMode, tmpfsOpt = uint32(n), true
		default:
			return bad("unknown option %q", k)
		}
	}
	if m.Destination == "" {
		return bad("target is required")
	}
	if !path.IsAbs(m.Destination) {
		return bad("target %q is not an absolute path", m.Destination)
	}
	m.Destination = path.Clean(m.Destination)
	if m.Destination == "/" {
		return bad("target can't be /")
	}
	switch m.Type {
	case MountBind:
		if m.Source == "" {
			return bad("source is required for a bind mount")
		}
		if !path.IsAbs(m.Source) {
			return bad("bind source %q is not an absolute path", m.Source)
		}
		m.Source = path.Clean(m.Source)
		if volOpt || tmpfsOpt {
			return bad("volume- and tmpfs- options don't apply to a bind mount")
		}
	case MountVolume:
		if m.Source != "" && !validVolumeName(m.Source) {
			return bad("%q is not a valid volume name", m.Source)
		}
		if bindOpt || tmpfsOpt {
			return bad("bind- and tmpfs- options don't apply to a volume")
		}
	case MountTmpfs:
		if m.Source != "" {
			return bad("a tmpfs mount takes no source")
		}
		if bindOpt || volOpt {
			return bad("bind- and volume- options don't apply to a tmpfs")
		}
	}
	return m, nil
}

// ParseSignal parses a signal as Docker's --stop-signal does: SIGTERM, TERM, 15 (any case).
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, fmt.Errorf("invalid signal %q", s)
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: out of range", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	// Real-time signals: SIGRTMIN+n and SIGRTMAX-n, as Docker accepts them.
	const rtmin, rtmax = 34, 64
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"SIGRTMIN", rtmin, 1}, {"SIGRTMAX", rtmax, -1}} {
		rest, ok := strings.CutPrefix(name, rt.prefix)
		if !ok {
			continue
		}
		off := 0
		if rest != "" {
			op := "+"
			if rt.sign < 0 {
				op = "-"
			}
			num, ok := strings.CutPrefix(rest, op)
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 || n > rtmax-rtmin {
				return 0, fmt.Errorf("invalid signal %q", s)
			}
			off = n
		}
		return syscall.Signal(rt.base + rt.sign*off), nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

// ParseSecurityOpt checks one --security-opt and, for seccomp=PATH, reads the profile into
// o.SeccompProfile (as Docker's CLI does, before the engine sees it). It appends the option to
// o.SecurityOpt.
func ParseSecurityOpt(o *Options, s string) error {
	k, v, hasV := strings.Cut(s, "=")
	if !hasV {
		k, v, hasV = strings.Cut(s, ":") // Docker's old form, no-new-privileges:true
	}
	switch k {
	case "no-new-privileges":
		if hasV {
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("invalid --security-opt %q: %q is not true or false", s, v)
			}
		}
	case "seccomp":
		if !hasV || v == "" {
			return fmt.Errorf("invalid --security-opt %q: seccomp needs a profile path or unconfined", s)
		}
		if v != "unconfined" && v != "builtin" {
			data, err := readBounded(v, 1<<20)
			if err != nil {
				return fmt.Errorf("--security-opt %q: read seccomp profile: %w", s, err)
			}
			o.SeccompProfile = data
		}
	case "apparmor":
		if !hasV || v == "" {
			return fmt.Errorf("invalid --security-opt %q: apparmor needs a profile name or unconfined", s)
		}
	case "label":
		if v != "disable" {
			if !hasV {
				return fmt.Errorf("invalid --security-opt %q", s)
			}
			lk, _, _ := strings.Cut(v, ":")
			switch lk {
			case "user", "role", "type", "level", "filetype", "nested":
			default:
				return fmt.Errorf("invalid --security-opt %q: unknown label option", s)
			}
		}
	case "systempaths":
		if v != "unconfined" {
			return fmt.Errorf("invalid --security-opt %q: systempaths takes only unconfined", s)
		}
	default:
		return fmt.Errorf("invalid --security-opt %q: unknown option %q", s, k)
	}
	o.SecurityOpt = append(o.SecurityOpt, s)
	return nil
}

func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	return data, nil
}
