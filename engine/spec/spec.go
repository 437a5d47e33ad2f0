package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociVersion is the runtime-spec version the generated spec declares.
var ociVersion = specs.Version

// appArmorEnabled says whether the host runs AppArmor (as Docker's apparmor.HostSupports
// reads it); a variable so that tests can pretend.
var appArmorEnabled = func() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// minMemory is Docker's smallest --memory and --memory-reservation (6 MiB).
const minMemory = 6 << 20

// cfsPeriod is the CFS period --cpus is expressed in (Docker's 100 ms).
const cfsPeriod = 100000

// Generate makes the container's spec from the image config (nil: an image with an empty
// config) and the options, as Docker 28 does. It reads the rootfs's /etc/passwd and /etc/group
// and the host's device nodes; it writes nothing.
func Generate(img *v1.ConfigFile, o *Options) (*Result, error) {
	if o == nil {
		return nil, errors.New("spec: nil options")
	}
	if o.ContainerID == "" {
		return nil, errors.New("spec: empty container id")
	}
	if o.RootfsPath == "" {
		return nil, errors.New("spec: empty rootfs path")
	}
	var cfg v1.Config
	if img != nil {
		cfg = img.Config
	}
	sec, err := parseSecurityOpts(o)
	if err != nil {
		return nil, err
	}

	s := &specs.Spec{
		Version: ociVersion,
		Root:    &specs.Root{Path: o.RootfsPath, Readonly: o.ReadOnly},
		Process: &specs.Process{Terminal: o.Tty},
		Linux:   &specs.Linux{Resources: &specs.LinuxResources{}},
	}
	if len(o.Annotations) > 0 {
		s.Annotations = maps.Clone(o.Annotations)
	}

	args, err := processArgs(cfg, o)
	if err != nil {
		return nil, err
	}
	s.Process.Args = args

	userSpec := cfg.User
	if o.User != "" {
		userSpec = o.User
	}
	u, err := ResolveUser(o.RootfsPath, userSpec, o.GroupAdd)
	if err != nil {
		return nil, err
	}
	s.Process.User = specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}

	if err := setHostname(s, o); err != nil {
		return nil, err
	}
	hostname := s.Hostname
	if o.UTS.Mode == NSHost {
		hostname, _ = os.Hostname()
	}
	env, err := environment(cfg.Env, o.Env, hostname, o.Tty, u.Home)
	if err != nil {
		return nil, err
	}
	s.Process.Env = env

	cwd := cfg.WorkingDir
	flag := "image WorkingDir"
	if o.WorkingDir != "" {
		cwd, flag = o.WorkingDir, "--workdir"
	}
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("invalid %s %q: the working directory needs to be an absolute path", flag, cwd)
	}
	// A missing working directory is made by the runtime (berth-runtime creates process.cwd in
	// the rootfs, as runc does), so nothing is created here.
	s.Process.Cwd = path.Clean(cwd)

	caps, err := capabilities(o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return nil, err
	}
	// Docker 28 (oci.SetCapabilities): bounding, effective and permitted for root; only the
	// bounding set for another user, since execve would clear the others anyway. Inheritable
	// stays empty (CVE-2022-24769) and no ambient set is given.
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps}
	if u.UID == 0 {
		s.Process.Capabilities.Effective = slices.Clone(caps)
		s.Process.Capabilities.Permitted = slices.Clone(caps)
	}
	s.Process.NoNewPrivileges = sec.noNewPrivileges
	// Docker (WithApparmor) sets a profile only where the host runs AppArmor: elsewhere
	// apparmor=unconfined, or any profile, is ignored rather than failing the start.
	if appArmorEnabled() {
		s.Process.ApparmorProfile = sec.apparmor
	}
	if err := setSeccomp(s, o, sec); err != nil {
		return nil, err
	}

	if err := setNamespaces(s, o); err != nil {
		return nil, err
	}
	if err := setMounts(s, o); err != nil {
		return nil, err
	}
	if !o.Privileged && !sec.unconfinedPaths {
		s.Linux.MaskedPaths = maskedPaths()
		s.Linux.ReadonlyPaths = slices.Clone(defaultReadonlyPaths)
	}
	if err := setResources(s, o); err != nil {
		return nil, err
	}
	if err := setDevices(s, o); err != nil {
		return nil, err
	}
	if err := setRlimits(s, o); err != nil {
		return nil, err
	}
	if err := setSysctls(s, o); err != nil {
		return nil, err
	}
	if o.OOMScoreAdj != nil {
		if *o.OOMScoreAdj < -1000 || *o.OOMScoreAdj > 1000 {
			return nil, fmt.Errorf("invalid --oom-score-adj %d: must be in the range -1000 to 1000", *o.OOMScoreAdj)
		}
		v := *o.OOMScoreAdj
		s.Process.OOMScoreAdj = &v
	}
	switch {
	case o.CgroupsPath != "":
		s.Linux.CgroupsPath = o.CgroupsPath
	case strings.HasSuffix(o.CgroupParent, ".slice"):
		// The systemd driver's form, as Docker writes it with the systemd cgroup driver.
		s.Linux.CgroupsPath = o.CgroupParent + ":berth:" + o.ContainerID
	case o.CgroupParent != "":
		s.Linux.CgroupsPath = filepath.Join(o.CgroupParent, o.ContainerID)
	}

	sigName, sigFlag := cfg.StopSignal, "image StopSignal"
	if o.StopSignal != "" {
		sigName, sigFlag = o.StopSignal, "--stop-signal"
	}
	stop := syscall.SIGTERM
	if sigName != "" {
		if stop, err = ParseSignal(sigName); err != nil {
			return nil, fmt.Errorf("%s: %w", sigFlag, err)
		}
	}

	res := &Result{Spec: s, StopSignal: stop}
	for v := range cfg.Volumes {
		dst := path.Clean(v)
		if !path.IsAbs(dst) || dst == "/" {
			return nil, fmt.Errorf("image VOLUME %q: not an absolute path below /", v)
		}
		if !slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == dst }) {
			res.Volumes = append(res.Volumes, dst)
		}
	}
	sort.Strings(res.Volumes)
	res.Volumes = slices.Compact(res.Volumes)
	return res, nil
}

// processArgs applies Docker's rules: --entrypoint replaces the image's Entrypoint and drops
// its Cmd (the command then comes from the arguments alone; an empty --entrypoint means none);
// arguments replace Cmd.
func processArgs(cfg v1.Config, o *Options) ([]string, error) {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if o.EntrypointSet {
		entry, cmd = o.Entrypoint, o.Cmd
		if len(entry) == 1 && entry[0] == "" {
			entry = nil
		}
	} else if len(o.Cmd) > 0 {
		cmd = o.Cmd
	}
	args := append(slices.Clone(entry), cmd...)
	if len(args) == 0 {
		return nil, errors.New("no command specified: the image has no Entrypoint or Cmd and none was given")
	}
	if args[0] == "" {
		return nil, errors.New("invalid command: empty program name")
	}
	if o.Init {
		if o.InitPath == "" {
			return nil, errors.New("--init: the engine gave no init binary")
		}
		args = append([]string{InitPath, "--"}, args...)
	}
	return args, nil
}

func setHostname(s *specs.Spec, o *Options) error {
	if o.UTS.Mode == NSHost || o.UTS.Mode == NSPath {
		if o.Hostname != "" {
			return fmt.Errorf("conflicting options: --hostname %q and a shared UTS namespace (--uts)", o.Hostname)
		}
		// No UTS namespace of its own: the spec must not set a host name,
		// or the runtime would rename the host or the other container.
		return nil
	}
	h := o.Hostname
	if h == "" && o.Network.Mode == NSHost {
		// Docker gives a --network host container the host's name.
		var err error
		if h, err = os.Hostname(); err != nil {
			return fmt.Errorf("host name for --network host: %w", err)
		}
	}
	if h == "" {
		h = o.ContainerID
		if len(h) > 12 {
			h = h[:12]
		}
	}
	if len(h) > 64 || strings.ContainsAny(h, "/\x00 ") {
		return fmt.Errorf("invalid --hostname %q", h)
	}
	s.Hostname, s.Domainname = h, o.Domainname
	return nil
}

func envKey(e string) string {
	k, _, _ := strings.Cut(e, "=")
	return k
}

// environment is Docker's: the user's variables, then the image's whose names the user did not
// give (daemon merge), laid over PATH, HOSTNAME and TERM (with -t) as replace-or-append; HOME
// from the user's passwd entry when unset (runc's rule, made explicit here).
func environment(image, user []string, hostname string, tty bool, home string) ([]string, error) {
	for _, e := range user {
		if envKey(e) == "" {
			return nil, fmt.Errorf("invalid --env %q: empty variable name", e)
		}
		if strings.ContainsRune(e, 0) {
			return nil, fmt.Errorf("invalid --env %q: contains a NUL byte", e)
		}
	}
	merged := slices.Clone(user)
	for _, ie := range image {
		if envKey(ie) == "" {
			continue
		}
		if !slices.ContainsFunc(user, func(ue string) bool { return envKey(ue) == envKey(ie) }) {
			merged = append(merged, ie)
		}
	}
	env := []string{DefaultPath, "HOSTNAME=" + hostname}
	if tty {
		env = append(env, "TERM=xterm")
	}
	for _, e := range merged {
		k := envKey(e)
		i := slices.IndexFunc(env, func(x string) bool { return envKey(x) == k })
		switch {
		case !strings.Contains(e, "="): // the API's "K" alone unsets K
			if i >= 0 {
				env = slices.Delete(env, i, i+1)
			}
		case i >= 0:
			env[i] = e
		default:
			env = append(env, e)
		}
	}
	if !slices.ContainsFunc(env, func(x string) bool { return envKey(x) == "HOME" }) {
		env = append(env, "HOME="+home)
	}
	return env, nil
}

type securityOpts struct {
	noNewPrivileges bool
	seccomp         string // "", "unconfined", "profile"
	apparmor        string
	unconfinedPaths bool
}

func parseSecurityOpts(o *Options) (securityOpts, error) {
	var sec securityOpts
	for _, opt := range o.SecurityOpt {
		k, v, hasV := strings.Cut(opt, "=")
		if !hasV {
			k, v, hasV = strings.Cut(opt, ":")
		}
		switch k {
		case "no-new-privileges":
			sec.noNewPrivileges = true
			if hasV {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return sec, fmt.Errorf("invalid --security-opt %q: %q is not true or false", opt, v)
				}
				sec.noNewPrivileges = b
			}
		case "seccomp":
			switch {
			case v == "unconfined":
				sec.seccomp = "unconfined"
			case v == "builtin":
				sec.seccomp = ""
			case strings.HasPrefix(strings.TrimSpace(v), "{"):
				// The Docker API's form: the CLI sends the profile's JSON, not its path.
				if len(o.SeccompProfile) == 0 {
					o.SeccompProfile = []byte(v)
				}
				sec.seccomp = "profile"
			case v != "":
				if len(o.SeccompProfile) == 0 {
					return sec, fmt.Errorf("--security-opt %q: the profile was not read (use ParseSecurityOpt)", opt)
				}
				sec.seccomp = "profile"
			default:
				return sec, fmt.Errorf("invalid --security-opt %q", opt)
			}
		case "apparmor":
			if v == "" {
				return sec, fmt.Errorf("invalid --security-opt %q: apparmor needs a profile name or unconfined", opt)
			}
			sec.apparmor = v
		case "label":
			// Berth sets no SELinux labels, so only disable (which asks for none) is honoured;
			// a label it would silently drop is an error.
			if v != "disable" {
				return sec, fmt.Errorf("--security-opt %q: SELinux labels are not supported (only label=disable)", opt)
			}
		case "systempaths":
			if v != "unconfined" {
				return sec, fmt.Errorf("invalid --security-opt %q: systempaths takes only unconfined", opt)
			}
			sec.unconfinedPaths = true
		default:
			return sec, fmt.Errorf("invalid --security-opt %q: unknown option %q", opt, k)
		}
	}
	if sec.seccomp == "" && len(o.SeccompProfile) > 0 {
		sec.seccomp = "profile"
	}
	return sec, nil
}

// setSeccomp applies Docker's default profile (its capability-conditional rules resolved against
// the container's capabilities), a given profile, or none for unconfined and --privileged.
func setSeccomp(s *specs.Spec, o *Options, sec securityOpts) error {
	if o.Privileged || sec.seccomp == "unconfined" {
		return nil
	}
	var (
		p   *specs.LinuxSeccomp
		err error
	)
	if sec.seccomp == "profile" {
		p, err = mobyseccomp.LoadProfile(string(o.SeccompProfile), s)
		if err != nil {
			return fmt.Errorf("--security-opt seccomp: %w", err)
		}
	} else if p, err = mobyseccomp.GetDefaultProfile(s); err != nil {
		return fmt.Errorf("docker's default seccomp profile: %w", err)
	}
	s.Linux.Seccomp = p
	return nil
}

func setNamespaces(s *specs.Spec, o *Options) error {
	add := func(flag string, t specs.LinuxNamespaceType, n Namespace) error {
		switch n.Mode {
		case NSPrivate:
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
		case NSHost:
		case NSPath:
			if !path.IsAbs(n.Path) {
				return fmt.Errorf("invalid %s: namespace path %q is not absolute", flag, n.Path)
			}
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: n.Path})
		default:
			return fmt.Errorf("invalid %s: unknown namespace mode %d", flag, n.Mode)
		}
		return nil
	}
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	cg := Namespace{Mode: NSHost}
	if o.CgroupV2 {
		cg.Mode = NSPrivate
	}
	if o.CgroupNS != nil {
		cg = *o.CgroupNS
	}
	for _, n := range []struct {
		flag string
		t    specs.LinuxNamespaceType
		ns   Namespace
	}{
		{"--network", specs.NetworkNamespace, o.Network},
		{"--uts", specs.UTSNamespace, o.UTS},
		{"--pid", specs.PIDNamespace, o.PID},
		{"--ipc", specs.IPCNamespace, o.IPC},
		{"--cgroupns", specs.CgroupNamespace, cg},
	} {
		if err := add(n.flag, n.t, n.ns); err != nil {
			return err
		}
	}
	return nil
}

var tmpfsFlagPairs = map[string]string{
	"ro": "rw", "exec": "noexec", "suid": "nosuid", "dev": "nodev", "atime": "noatime",
	"diratime": "nodiratime", "relatime": "norelatime", "strictatime": "nostrictatime",
	"sync": "async", "mand": "nomand", "dirsync": "",
}

var tmpfsFlagOpposite = func() map[string]string {
	m := map[string]string{}
	for a, b := range tmpfsFlagPairs {
		m[a] = b
		if b != "" {
			m[b] = a
		}
	}
	return m
}()

var tmpfsDataKeys = map[string]bool{
	"size": true, "mode": true, "uid": true, "gid": true, "nr_inodes": true, "nr_blocks": true,
	"mpol": true, "huge": true,
}

// tmpfsOptions merges a --tmpfs option string over Docker's tmpfs defaults (noexec, nosuid,
// nodev, rprivate): a later flag overrides its opposite, a later key=value its earlier value.
func tmpfsOptions(opts string) ([]string, bool, error) {
	all := []string{"noexec", "nosuid", "nodev", "rprivate"}
	if opts != "" {
		all = append(all, strings.Split(opts, ",")...)
	}
	var out []string
	ro := false
	for _, o := range all {
		k, v, hasV := strings.Cut(o, "=")
		switch {
		case hasV:
			if !tmpfsDataKeys[k] {
				return nil, false, fmt.Errorf("unknown tmpfs option %q", o)
			}
			if k == "size" {
				if pct, ok := strings.CutSuffix(v, "%"); ok {
					if n, err := strconv.ParseUint(pct, 10, 8); err != nil || n == 0 || n > 100 {
						return nil, false, fmt.Errorf("tmpfs size %q: not a percentage of memory", v)
					}
				} else if _, err := ParseMemory("tmpfs size", v); err != nil {
					return nil, false, fmt.Errorf("tmpfs size %q: not a size", v)
				}
			}
			if k == "mode" {
				if n, err := strconv.ParseUint(v, 8, 32); err != nil || n > 0o7777 {
					return nil, false, fmt.Errorf("tmpfs mode %q: not an octal mode", v)
				}
			}
			out = slices.DeleteFunc(out, func(x string) bool { return strings.HasPrefix(x, k+"=") })
		case propagations[o]:
			out = slices.DeleteFunc(out, func(x string) bool { return propagations[x] })
		case o == "inode64" || o == "noinode64":
			out = slices.DeleteFunc(out, func(x string) bool { return x == "inode64" || x == "noinode64" })
		default:
			opp, ok := tmpfsFlagOpposite[o]
			if !ok {
				return nil, false, fmt.Errorf("unknown tmpfs option %q", o)
			}
			out = slices.DeleteFunc(out, func(x string) bool { return x == o || (opp != "" && x == opp) })
		}
		out = append(out, o)
	}
	for _, o := range out {
		if o == "ro" {
			ro = true
		}
	}
	return out, ro, nil
}

// sizeOption writes a tmpfs size as Docker's ConvertTmpfsOptions does: the largest of g, m, k
// that divides it, else bytes.
func sizeOption(n int64) string {
	for _, u := range []struct {
		suffix string
		div    int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n%u.div == 0 {
			return fmt.Sprintf("size=%d%s", n/u.div, u.suffix)
		}
	}
	return fmt.Sprintf("size=%d", n)
}

func depth(p string) int { return len(strings.Split(path.Clean(p), "/")) }

func setMounts(s *specs.Spec, o *Options) error {
	var user []specs.Mount
	seen := map[string]string{}
	addUser := func(flag string, m specs.Mount) error {
		if !path.IsAbs(m.Destination) {
			return fmt.Errorf("invalid %s: destination %q is not an absolute path", flag, m.Destination)
		}
		m.Destination = path.Clean(m.Destination)
		if m.Destination == "/" {
			return fmt.Errorf("invalid %s: destination can't be /", flag)
		}
		if prev, dup := seen[m.Destination]; dup {
			return fmt.Errorf("duplicate mount point %s (%s and %s)", m.Destination, prev, flag)
		}
		seen[m.Destination] = flag
		user = append(user, m)
		return nil
	}
	for _, m := range o.Mounts {
		flag := fmt.Sprintf("mount %s", m.Destination)
		switch m.Type {
		case MountBind:
			if !path.IsAbs(m.Source) {
				return fmt.Errorf("invalid %s: bind source %q is not an absolute path", flag, m.Source)
			}
			opts := []string{"rbind"}
			if m.NonRecursive {
				opts[0] = "bind"
			}
			// Docker 25+ makes a read-only bind recursively read-only where the kernel can
			// (rro); berth-runtime has no rro yet, so submounts of a read-only bind stay as
			// they are, as in Docker before 25.
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			prop := m.Propagation
			if prop == "" {
				prop = "rprivate"
			}
			if !propagations[prop] {
				return fmt.Errorf("invalid %s: unknown propagation %q", flag, prop)
			}
			opts = append(opts, prop)
			if err := addUser(flag, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts}); err != nil {
				return err
			}
		case MountTmpfs:
			var extra []string
			if m.TmpfsSize < 0 {
				return fmt.Errorf("invalid %s: negative tmpfs size", flag)
			}
			if m.TmpfsSize > 0 {
				extra = append(extra, sizeOption(m.TmpfsSize))
			}
			if m.TmpfsMode != 0 {
				extra = append(extra, fmt.Sprintf("mode=%o", m.TmpfsMode))
			}
			if m.ReadOnly {
				extra = append(extra, "ro")
			}
			extra = append(extra, m.Options...)
			opts, _, err := tmpfsOptions(strings.Join(extra, ","))
			if err != nil {
				return fmt.Errorf("invalid %s: %w", flag, err)
			}
			if err := addUser(flag, specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}); err != nil {
				return err
			}
		case MountVolume:
			return fmt.Errorf("invalid %s: volume %q was not resolved to a host path by the engine", flag, m.Source)
		default:
			return fmt.Errorf("invalid %s: unknown mount type %q", flag, m.Type)
		}
	}
	for _, dst := range slices.Sorted(maps.Keys(o.Tmpfs)) {
		if !path.IsAbs(dst) {
			return fmt.Errorf("invalid --tmpfs %q: destination is not an absolute path", dst)
		}
		opts, _, err := tmpfsOptions(o.Tmpfs[dst])
		if err != nil {
			return fmt.Errorf("invalid --tmpfs %s: %w", dst, err)
		}
		if err := addUser("--tmpfs "+dst, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts}); err != nil {
			return err
		}
	}
	if o.Init {
		if !path.IsAbs(o.InitPath) {
			return fmt.Errorf("--init: init binary path %q is not absolute", o.InitPath)
		}
		if err := addUser("--init", specs.Mount{Destination: InitPath, Type: "bind", Source: o.InitPath, Options: []string{"bind", "ro", "rprivate"}}); err != nil {
			return err
		}
	}

	shm := o.ShmSize
	if shm < 0 {
		return fmt.Errorf("invalid --shm-size %d: must not be negative", shm)
	}
	if shm == 0 {
		shm = DefaultShmSize
	}
	defaults := defaultMounts(shm)
	shmSource := o.ShmPath
	if shmSource == "" && o.IPC.Mode == NSHost {
		shmSource = "/dev/shm"
	}
	var mounts []specs.Mount
	for _, m := range defaults {
		if _, over := seen[m.Destination]; over {
			continue
		}
		switch m.Destination {
		case "/dev/shm":
			if shmSource != "" {
				m = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: shmSource, Options: []string{"rbind", "rprivate"}}
			}
		}
		if o.ReadOnly && !slices.Contains([]string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"}, m.Destination) &&
			!slices.Contains(m.Options, "ro") {
			m.Options = append(m.Options, "ro")
		}
		// Docker gives --privileged a writable cgroup mount, and a writable /sys unless the
		// root is read-only.
		if o.Privileged && (m.Destination == "/sys/fs/cgroup" || m.Destination == "/sys" && !o.ReadOnly) {
			m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(x string) bool { return x == "ro" })
		}
		mounts = append(mounts, m)
	}
	// Parents before children, as Docker sorts them (by path depth).
	sort.SliceStable(user, func(i, j int) bool { return depth(user[i].Destination) < depth(user[j].Destination) })
	s.Mounts = append(mounts, user...)
	return nil
}

func setResources(s *specs.Spec, o *Options) error {
	r := s.Linux.Resources
	if o.Memory < 0 {
		return fmt.Errorf("invalid --memory %d: must not be negative", o.Memory)
	}
	if o.Memory > 0 && o.Memory < minMemory {
		return fmt.Errorf("invalid --memory %d: the minimum allowed is 6MB", o.Memory)
	}
	if o.MemoryReservation < 0 {
		return fmt.Errorf("invalid --memory-reservation %d: must not be negative", o.MemoryReservation)
	}
	if o.MemoryReservation > 0 && o.MemoryReservation < minMemory {
		return fmt.Errorf("invalid --memory-reservation %d: the minimum allowed is 6MB", o.MemoryReservation)
	}
	if o.Memory > 0 && o.MemoryReservation > o.Memory {
		return fmt.Errorf("invalid --memory-reservation %d: greater than --memory %d", o.MemoryReservation, o.Memory)
	}
	swap := o.MemorySwap
	switch {
	case swap < -1:
		return fmt.Errorf("invalid --memory-swap %d: -1 (unlimited) or a size", swap)
	case swap > 0 && o.Memory == 0:
		return fmt.Errorf("invalid --memory-swap %d: needs --memory as well", swap)
	case swap > 0 && swap < o.Memory:
		return fmt.Errorf("invalid --memory-swap %d: must be at least --memory %d (it counts memory plus swap)", swap, o.Memory)
	case swap == 0 && o.Memory > 0:
		// Docker's default: as much swap as memory.
		swap = 2 * o.Memory
	}
	if o.Memory > 0 || o.MemoryReservation > 0 || swap != 0 {
		r.Memory = &specs.LinuxMemory{}
		if o.Memory > 0 {
			r.Memory.Limit = i64p(o.Memory)
		}
		if swap != 0 {
			r.Memory.Swap = i64p(swap)
		}
		if o.MemoryReservation > 0 {
			r.Memory.Reservation = i64p(o.MemoryReservation)
		}
	}

	cpu := &specs.LinuxCPU{}
	useCPU := false
	if o.NanoCPUs < 0 {
		return fmt.Errorf("invalid --cpus: must not be negative")
	}
	if o.NanoCPUs > 0 {
		n := o.NumCPU
		if n <= 0 {
			n = runtime.NumCPU()
		}
		if o.NanoCPUs < 1e7 || o.NanoCPUs > int64(n)*1e9 {
			return fmt.Errorf("invalid --cpus %s: the range is 0.01 to %d.00, as there are only %d CPUs available",
				strconv.FormatFloat(float64(o.NanoCPUs)/1e9, 'f', -1, 64), n, n)
		}
		quota := o.NanoCPUs * cfsPeriod / 1e9
		period := uint64(cfsPeriod)
		cpu.Quota, cpu.Period, useCPU = &quota, &period, true
	}
	if o.CPUShares < 0 {
		return fmt.Errorf("invalid --cpu-shares %d: must not be negative", o.CPUShares)
	}
	if o.CPUShares > 0 {
		// Docker clamps to the kernel's range rather than failing.
		sh := uint64(min(max(o.CPUShares, 2), 262144))
		cpu.Shares, useCPU = &sh, true
	}
	if o.CpusetCpus != "" {
		n := o.NumCPU
		if n <= 0 {
			n = runtime.NumCPU()
		}
		if err := checkCPUList(o.CpusetCpus, n); err != nil {
			return fmt.Errorf("invalid --cpuset-cpus %q: %w", o.CpusetCpus, err)
		}
		cpu.Cpus, useCPU = o.CpusetCpus, true
	}
	if o.CpusetMems != "" {
		if err := checkCPUList(o.CpusetMems, 1<<16); err != nil {
			return fmt.Errorf("invalid --cpuset-mems %q: %w", o.CpusetMems, err)
		}
		cpu.Mems, useCPU = o.CpusetMems, true
	}
	if useCPU {
		r.CPU = cpu
	}
	if o.PidsLimit > 0 {
		r.Pids = &specs.LinuxPids{Limit: i64p(o.PidsLimit)}
	}
	return nil
}

// checkCPUList checks a cpuset list such as "0-2,4" against n CPUs (or memory nodes).
func checkCPUList(list string, n int) error {
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return fmt.Errorf("%q is not a number or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return fmt.Errorf("%q is not a valid range", part)
			}
		}
		if b >= n {
			return fmt.Errorf("%d is not available (the host has %d)", b, n)
		}
	}
	return nil
}

// hostDevDir is the directory --privileged takes every device node from.
var hostDevDir = "/dev"

func deviceOf(flag, p string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return specs.LinuxDevice{}, fmt.Errorf("%s: %w", flag, err)
	}
	var t string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		t = "c"
	case unix.S_IFBLK:
		t = "b"
	default:
		return specs.LinuxDevice{}, fmt.Errorf("%s: %s is not a device node", flag, p)
	}
	mode := os.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Type: t, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, nil
}

func setDevices(s *specs.Spec, o *Options) error {
	r := s.Linux.Resources
	if o.Privileged {
		devs, err := hostDevices(hostDevDir)
		if err != nil {
			return fmt.Errorf("--privileged: %w", err)
		}
		// A --device at another path still shows there, as Docker adds it in privileged mode
		// too; at its own path it is in the host list already.
		for _, d := range o.Devices {
			if path.Clean(d.HostPath) == path.Clean(d.ContainerPath) {
				continue
			}
			flag := fmt.Sprintf("--device %s:%s", d.HostPath, d.ContainerPath)
			if !path.IsAbs(d.HostPath) || !path.IsAbs(d.ContainerPath) {
				return fmt.Errorf("invalid %s: paths must be absolute", flag)
			}
			more, err := devicesAt(flag, d.HostPath, path.Clean(d.ContainerPath))
			if err != nil {
				return err
			}
			devs = append(devs, more...)
		}
		s.Linux.Devices = devs
		r.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	r.Devices = defaultDeviceRules()
	for _, d := range o.Devices {
		flag := fmt.Sprintf("--device %s:%s:%s", d.HostPath, d.ContainerPath, d.Permissions)
		if !path.IsAbs(d.HostPath) || !path.IsAbs(d.ContainerPath) {
			return fmt.Errorf("invalid %s: paths must be absolute", flag)
		}
		perms := d.Permissions
		if perms == "" {
			perms = "rwm"
		}
		if !validPerms(perms) {
			return fmt.Errorf("invalid %s: permissions %q are not a combination of r, w and m", flag, perms)
		}
		devs, err := devicesAt(flag, d.HostPath, path.Clean(d.ContainerPath))
		if err != nil {
			return err
		}
		for _, dev := range devs {
			s.Linux.Devices = append(s.Linux.Devices, dev)
			r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{
				Allow: true, Type: dev.Type, Major: i64p(dev.Major), Minor: i64p(dev.Minor), Access: perms,
			})
		}
	}
	return nil
}

// devicesAt is one --device: the node at host (links followed, as Docker does), or, for a
// directory such as /dev/snd, every node below it at the same place under dst.
func devicesAt(flag, host, dst string) ([]specs.LinuxDevice, error) {
	fi, err := os.Stat(host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if !fi.IsDir() {
		dev, err := deviceOf(flag, host)
		if err != nil {
			return nil, err
		}
		dev.Path = dst
		return []specs.LinuxDevice{dev}, nil
	}
	var out []specs.LinuxDevice
	err = filepath.WalkDir(host, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type()&os.ModeDevice == 0 {
			return nil
		}
		dev, err := deviceOf(flag, p)
		if err != nil {
			return nil // gone or changed since the walk saw it
		}
		rel, _ := filepath.Rel(host, p)
		dev.Path = path.Join(dst, filepath.ToSlash(rel))
		out = append(out, dev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %s is a directory without device nodes", flag, host)
	}
	return out, nil
}

// hostDevices lists the host's device nodes for --privileged as Docker does (containerd's
// HostDevices): everything under /dev but the ptys, shm, mqueue, fd and /dev/console, which the
// container gets its own of.
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	var walk func(string) error
	walk = func(d string) error {
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			if e.IsDir() {
				switch e.Name() {
				case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
					continue
				}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			if e.Name() == "console" || e.Type()&(os.ModeDevice|os.ModeCharDevice) == 0 {
				continue
			}
			dev, err := deviceOf("host device", p)
			if err != nil {
				continue // gone or not a device after all
			}
			dev.Path = "/dev/" + strings.TrimPrefix(p, dir+"/")
			out = append(out, dev)
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, fmt.Errorf("list host devices: %w", err)
	}
	return out, nil
}

func setRlimits(s *specs.Spec, o *Options) error {
	all := slices.Clone(o.Ulimits)
	for _, d := range o.DefaultUlimits {
		if !slices.ContainsFunc(o.Ulimits, func(u Ulimit) bool { return u.Name == d.Name }) {
			all = append(all, d)
		}
	}
	seen := map[string]bool{}
	for _, u := range all {
		t, err := rlimitType(u.Name)
		if err != nil {
			return fmt.Errorf("invalid --ulimit %s: %w", u.Name, err)
		}
		if seen[t] {
			return fmt.Errorf("invalid --ulimit %s: given twice", u.Name)
		}
		seen[t] = true
		if u.Soft > u.Hard && u.Hard != -1 || u.Soft == -1 && u.Hard != -1 {
			return fmt.Errorf("invalid --ulimit %s=%d:%d: soft limit must not exceed the hard limit", u.Name, u.Soft, u.Hard)
		}
		if u.Soft < -1 || u.Hard < -1 {
			return fmt.Errorf("invalid --ulimit %s=%d:%d: limits are -1 (unlimited) or not negative", u.Name, u.Soft, u.Hard)
		}
		// -1 is RLIM_INFINITY, which the spec carries as the all-ones uint64.
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: t, Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	return nil
}

// ipcSysctls are the IPC-namespaced sysctls Docker allows; fs.mqueue.* and net.* are the
// namespaced prefixes.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// procSys is where the host's sysctls are looked up.
var procSys = "/proc/sys"

func setSysctls(s *specs.Spec, o *Options) error {
	out := map[string]string{}
	if o.Network.Mode == NSPrivate || o.Network.Mode == NSPath && o.Network.Owned {
		// Docker's defaults for a container with its own network namespace (not the host's, not
		// another container's): any user may bind low ports and open ping sockets.
		// Only where the kernel has them, as Docker checks: the runtime fails on a missing one.
		for k, v := range map[string]string{
			"net.ipv4.ip_unprivileged_port_start": "0",
			"net.ipv4.ping_group_range":           "0 2147483647",
		} {
			if _, err := os.Stat(filepath.Join(procSys, strings.ReplaceAll(k, ".", "/"))); err == nil {
				out[k] = v
			}
		}
	}
	for k, v := range o.Sysctls {
		switch {
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if o.IPC.Mode == NSHost {
				return fmt.Errorf("invalid --sysctl %s=%s: not allowed with --ipc host", k, v)
			}
		case strings.HasPrefix(k, "net."):
			if o.Network.Mode == NSHost {
				return fmt.Errorf("invalid --sysctl %s=%s: not allowed with --network host", k, v)
			}
		default:
			return fmt.Errorf("invalid --sysctl %s=%s: %q is not a namespaced sysctl a container may set", k, v, k)
		}
		if strings.ContainsAny(k, "/\x00") || strings.Contains(k, "..") {
			return fmt.Errorf("invalid --sysctl %q", k)
		}
		out[k] = v
	}
	s.Linux.Sysctl = out
	return nil
}

// ParseSysctl splits a --sysctl k=v.
func ParseSysctl(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("invalid --sysctl %q: want name=value", s)
	}
	return k, v, nil
}

// ParseNamespace parses --pid/--ipc/--uts/--cgroupns/--network values the engine has resolved:
// "" or private, host, or ns:PATH (container:ID turned into a namespace path by the engine).
// For --network, none means a private namespace with loopback only; for --ipc, shareable is
// private too.
func ParseNamespace(flag, v string) (Namespace, error) {
	switch v {
	case "", "private", "shareable":
		if v == "shareable" && flag != "--ipc" {
			break
		}
		return Namespace{}, nil
	case "none":
		if flag == "--network" {
			return Namespace{}, nil
		}
	case "host":
		return Namespace{Mode: NSHost}, nil
	}
	if p, ok := strings.CutPrefix(v, "ns:"); ok && path.IsAbs(p) {
		return Namespace{Mode: NSPath, Path: p}, nil
	}
	return Namespace{}, fmt.Errorf("invalid %s %q: want host, private or ns:PATH", flag, v)
}
