package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// idRoot makes a rootfs with only /etc/passwd and /etc/group, the identities of test/fixture's
// busybox rootfs plus a user without a home.
func idRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"berth:x:1000:1000:berth test user:/home/berth:/bin/sh\n" +
			"# a comment\nbroken line\n" +
			"nohome:x:1002:1002::\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group": "root:x:0:\nberth:x:1000:\nextra:x:1001:berth\nmore:x:1003:other,berth\nnogroup:x:65534:\n",
	}
	for p, data := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func gen(t *testing.T, img *v1.ConfigFile, mod func(*Options)) *Result {
	t.Helper()
	o := &Options{ContainerID: testID, RootfsPath: idRoot(t), NumCPU: 4, CgroupV2: true}
	if mod != nil {
		mod(o)
	}
	r, err := Generate(img, o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return r
}

func genErr(t *testing.T, img *v1.ConfigFile, mod func(*Options)) error {
	t.Helper()
	o := &Options{ContainerID: testID, RootfsPath: idRoot(t), NumCPU: 4, CgroupV2: true}
	mod(o)
	_, err := Generate(img, o)
	return err
}

func image(entry, cmd []string) *v1.ConfigFile {
	return &v1.ConfigFile{Config: v1.Config{Entrypoint: entry, Cmd: cmd}}
}

func mount(s *specs.Spec, dst string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dst {
			return &s.Mounts[i]
		}
	}
	return nil
}

// TestDefaults compares a plain `docker run IMAGE` spec's fields with Docker 28's.
func TestDefaults(t *testing.T) {
	r := gen(t, image(nil, []string{"sh"}), nil)
	s := r.Spec
	if s.Version != specs.Version || s.Root.Path == "" || s.Root.Readonly {
		t.Errorf("root %+v version %s", s.Root, s.Version)
	}
	if s.Hostname != testID[:12] {
		t.Errorf("hostname %q", s.Hostname)
	}
	p := s.Process
	if !reflect.DeepEqual(p.Args, []string{"sh"}) || p.Cwd != "/" || p.Terminal || p.NoNewPrivileges || p.OOMScoreAdj != nil {
		t.Errorf("process %+v", p)
	}
	if p.User.UID != 0 || p.User.GID != 0 || len(p.User.AdditionalGids) != 0 {
		t.Errorf("user %+v", p.User)
	}
	wantEnv := []string{DefaultPath, "HOSTNAME=" + testID[:12], "HOME=/root"}
	if !reflect.DeepEqual(p.Env, wantEnv) {
		t.Errorf("env %q, want %q", p.Env, wantEnv)
	}
	if !reflect.DeepEqual(p.Capabilities.Bounding, DefaultCapabilities) || !reflect.DeepEqual(p.Capabilities.Effective, DefaultCapabilities) ||
		!reflect.DeepEqual(p.Capabilities.Permitted, DefaultCapabilities) || len(p.Capabilities.Inheritable) != 0 || len(p.Capabilities.Ambient) != 0 {
		t.Errorf("caps %+v", p.Capabilities)
	}
	if len(p.Rlimits) != 0 {
		t.Errorf("rlimits %+v: Docker adds none", p.Rlimits)
	}
	var dsts []string
	for _, m := range s.Mounts {
		dsts = append(dsts, m.Destination)
	}
	if want := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}; !reflect.DeepEqual(dsts, want) {
		t.Errorf("mounts %q, want %q", dsts, want)
	}
	if m := mount(s, "/dev/shm"); !slices.Contains(m.Options, "size=67108864") || !slices.Contains(m.Options, "mode=1777") {
		t.Errorf("/dev/shm %+v", m)
	}
	if m := mount(s, "/dev/pts"); !reflect.DeepEqual(m.Options, []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}) {
		t.Errorf("/dev/pts %+v", m)
	}
	for _, d := range []string{"/sys", "/sys/fs/cgroup"} {
		if m := mount(s, d); !slices.Contains(m.Options, "ro") {
			t.Errorf("%s not read-only: %+v", d, m)
		}
	}
	var ns []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %+v has a path", n)
		}
		ns = append(ns, n.Type)
	}
	if want := []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.CgroupNamespace}; !reflect.DeepEqual(ns, want) {
		t.Errorf("namespaces %v, want %v", ns, want)
	}
	for _, m := range []string{"/proc/kcore", "/proc/keys", "/sys/firmware", "/proc/interrupts", "/sys/devices/virtual/powercap"} {
		if !slices.Contains(s.Linux.MaskedPaths, m) {
			t.Errorf("%s not masked: %q", m, s.Linux.MaskedPaths)
		}
	}
	if !reflect.DeepEqual(s.Linux.ReadonlyPaths, defaultReadonlyPaths) {
		t.Errorf("readonly paths %q", s.Linux.ReadonlyPaths)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Errorf("seccomp: not Docker's default profile")
	}
	devs := s.Linux.Resources.Devices
	if len(devs) != 8 || devs[0].Allow || devs[0].Access != "rwm" || devs[0].Type != "" || !devs[2].Allow || *devs[2].Major != 1 || *devs[2].Minor != 3 || devs[7].Allow {
		t.Errorf("device rules %+v", devs)
	}
	if len(s.Linux.Devices) != 0 {
		t.Errorf("devices %+v: the runtime adds the default ones", s.Linux.Devices)
	}
	wantSysctl := map[string]string{}
	for k, v := range map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"} {
		if _, err := os.Stat("/proc/sys/" + strings.ReplaceAll(k, ".", "/")); err == nil {
			wantSysctl[k] = v
		}
	}
	if !reflect.DeepEqual(s.Linux.Sysctl, wantSysctl) {
		t.Errorf("sysctls %v", s.Linux.Sysctl)
	}
	r2 := s.Linux.Resources
	if r2.Memory != nil || r2.CPU != nil || r2.Pids != nil || s.Linux.CgroupsPath != "" {
		t.Errorf("resources %+v cgroups path %q", r2, s.Linux.CgroupsPath)
	}
	if r.StopSignal != syscall.SIGTERM {
		t.Errorf("stop signal %v", r.StopSignal)
	}
	if s.Process.ApparmorProfile != "" || s.Annotations != nil {
		t.Errorf("apparmor %q annotations %v", s.Process.ApparmorProfile, s.Annotations)
	}
}

func TestCgroupNSv1(t *testing.T) {
	s := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.CgroupV2 = false }).Spec
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.CgroupNamespace {
			t.Errorf("cgroup v1 host: Docker shares the host's cgroup namespace, got %+v", n)
		}
	}
	s = gen(t, image(nil, []string{"sh"}), func(o *Options) { o.CgroupNS = &Namespace{Mode: NSHost} }).Spec
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.CgroupNamespace {
			t.Errorf("--cgroupns host: %+v", n)
		}
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		entry, cmd  []string
		mod         func(*Options)
		want        []string
		wantErrPart string
	}{
		{"image cmd", nil, []string{"sh", "-c", "x"}, nil, []string{"sh", "-c", "x"}, ""},
		{"image entry+cmd", []string{"/init"}, []string{"a"}, nil, []string{"/init", "a"}, ""},
		{"args replace cmd", []string{"/init"}, []string{"a"}, func(o *Options) { o.Cmd = []string{"b", "c"} }, []string{"/init", "b", "c"}, ""},
		{"entrypoint drops image cmd", []string{"/init"}, []string{"a"}, func(o *Options) { o.Entrypoint, o.EntrypointSet = []string{"/bin/echo"}, true }, []string{"/bin/echo"}, ""},
		{"entrypoint with args", []string{"/init"}, []string{"a"}, func(o *Options) {
			o.Entrypoint, o.EntrypointSet, o.Cmd = []string{"/bin/echo"}, true, []string{"hi"}
		}, []string{"/bin/echo", "hi"}, ""},
		{"empty entrypoint + args", []string{"/init"}, []string{"a"}, func(o *Options) {
			o.Entrypoint, o.EntrypointSet, o.Cmd = []string{""}, true, []string{"ls", "/"}
		}, []string{"ls", "/"}, ""},
		{"empty entrypoint alone", []string{"/init"}, []string{"a"}, func(o *Options) { o.Entrypoint, o.EntrypointSet = nil, true }, nil, "no command specified"},
		{"nothing", nil, nil, nil, nil, "no command specified"},
		{"init", nil, []string{"sh"}, func(o *Options) { o.Init, o.InitPath = true, "/usr/libexec/berth-init" }, []string{InitPath, "--", "sh"}, ""},
		{"init without binary", nil, []string{"sh"}, func(o *Options) { o.Init = true }, nil, "--init"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := tc.mod
			if mod == nil {
				mod = func(*Options) {}
			}
			if tc.wantErrPart != "" {
				if err := genErr(t, image(tc.entry, tc.cmd), mod); err == nil || !strings.Contains(err.Error(), tc.wantErrPart) {
					t.Fatalf("err %v, want %q", err, tc.wantErrPart)
				}
				return
			}
			s := gen(t, image(tc.entry, tc.cmd), mod).Spec
			if !reflect.DeepEqual(s.Process.Args, tc.want) {
				t.Errorf("args %q, want %q", s.Process.Args, tc.want)
			}
			if tc.name == "init" {
				m := mount(s, InitPath)
				if m == nil || m.Source != "/usr/libexec/berth-init" || !slices.Contains(m.Options, "ro") {
					t.Errorf("init mount %+v", m)
				}
			}
		})
	}
}

func TestEnv(t *testing.T) {
	img := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/img/bin", "A=image", "B=image"}}}
	s := gen(t, img, func(o *Options) {
		o.Env = []string{"B=user", "C=1", "C=2", "HOME=/h"}
		o.Tty = true
		o.Hostname = "box"
	}).Spec
	// Docker: user variables first, then the image's not overridden, laid over PATH,
	// HOSTNAME and TERM; a repeated name keeps its first place with the last value.
	want := []string{"PATH=/img/bin", "HOSTNAME=box", "TERM=xterm", "B=user", "C=2", "HOME=/h", "A=image"}
	if !reflect.DeepEqual(s.Process.Env, want) {
		t.Errorf("env %q\nwant %q", s.Process.Env, want)
	}
	s = gen(t, img, func(o *Options) { o.Env = []string{"A"} }).Spec
	if slices.ContainsFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "A=") }) {
		t.Errorf("A alone did not unset: %q", s.Process.Env)
	}
	if err := genErr(t, img, func(o *Options) { o.Env = []string{"=x"} }); err == nil || !strings.Contains(err.Error(), "--env") {
		t.Errorf("empty name: %v", err)
	}
}

func TestWorkdir(t *testing.T) {
	img := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, WorkingDir: "/srv/app/"}}
	if s := gen(t, img, nil).Spec; s.Process.Cwd != "/srv/app" {
		t.Errorf("image workdir: %q", s.Process.Cwd)
	}
	if s := gen(t, img, func(o *Options) { o.WorkingDir = "/tmp" }).Spec; s.Process.Cwd != "/tmp" {
		t.Errorf("-w: %q", s.Process.Cwd)
	}
	if err := genErr(t, img, func(o *Options) { o.WorkingDir = "tmp" }); err == nil || !strings.Contains(err.Error(), `--workdir "tmp"`) {
		t.Errorf("relative -w: %v", err)
	}
}

func TestUser(t *testing.T) {
	for _, tc := range []struct {
		user     string
		groupAdd []string
		image    string
		uid, gid uint32
		groups   []uint32
		home     string
		wantErr  string
	}{
		{"", nil, "", 0, 0, nil, "/root", ""},
		{"root", nil, "", 0, 0, nil, "/root", ""},
		{"berth", nil, "", 1000, 1000, []uint32{1001, 1003}, "/home/berth", ""},
		{"1000", nil, "", 1000, 1000, []uint32{1001, 1003}, "/home/berth", ""},
		{"", nil, "berth", 1000, 1000, []uint32{1001, 1003}, "/home/berth", ""},
		{"root", nil, "berth", 0, 0, nil, "/root", ""},
		{"berth:extra", nil, "", 1000, 1001, nil, "/home/berth", ""},
		{"berth:1003", nil, "", 1000, 1003, nil, "/home/berth", ""},
		{"1000:4444", nil, "", 1000, 4444, nil, "/home/berth", ""},
		{"4242", nil, "", 4242, 0, nil, "/", ""},
		{"4242:4343", nil, "", 4242, 4343, nil, "/", ""},
		{"nohome", nil, "", 1002, 1002, nil, "/", ""},
		{"berth", []string{"nogroup", "77", "extra"}, "", 1000, 1000, []uint32{1001, 1003, 65534, 77}, "/home/berth", ""},
		{"4242", []string{"extra"}, "", 4242, 0, []uint32{1001}, "/", ""},
		{"nosuch", nil, "", 0, 0, nil, "", "unable to find user nosuch"},
		{"berth:nosuch", nil, "", 0, 0, nil, "", "unable to find group nosuch"},
		{"berth:", nil, "", 0, 0, nil, "", "empty group"},
		{"berth", []string{"nosuch"}, "", 0, 0, nil, "", `--group-add "nosuch"`},
		{"99999999999", nil, "", 0, 0, nil, "", "range"},
	} {
		img := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, User: tc.image}}
		mod := func(o *Options) { o.User, o.GroupAdd = tc.user, tc.groupAdd }
		if tc.wantErr != "" {
			if err := genErr(t, img, mod); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("user %q: %v, want %q", tc.user, err, tc.wantErr)
			}
			continue
		}
		s := gen(t, img, mod).Spec
		u := s.Process.User
		if u.UID != tc.uid || u.GID != tc.gid || !reflect.DeepEqual(u.AdditionalGids, tc.groups) {
			t.Errorf("user %q image %q: %+v, want %d:%d %v", tc.user, tc.image, u, tc.uid, tc.gid, tc.groups)
		}
		if !slices.Contains(s.Process.Env, "HOME="+tc.home) {
			t.Errorf("user %q: env %q, want HOME=%s", tc.user, s.Process.Env, tc.home)
		}
	}
}

// TestUserFilesSafe: /etc/passwd is read inside the rootfs whatever its links say, no bigger
// than the bound, and only as a regular file.
func TestUserFilesSafe(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "passwd"), []byte("evil:x:4000:4000::/evil:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := idRoot(t)
	// An absolute link and a ../ link: both must resolve inside root (to a missing file).
	os.Remove(filepath.Join(root, "etc/passwd"))
	if err := os.Symlink(filepath.Join(host, "passwd"), filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveUser(root, "evil", nil); err == nil || !strings.Contains(err.Error(), "unable to find user evil") {
		t.Errorf("absolute link out: %v", err)
	}
	os.Remove(filepath.Join(root, "etc/passwd"))
	rel, _ := filepath.Rel(filepath.Join(root, "etc"), filepath.Join(host, "passwd"))
	if err := os.Symlink(rel, filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveUser(root, "evil", nil); err == nil || !strings.Contains(err.Error(), "unable to find user evil") {
		t.Errorf("relative link out: %v", err)
	}
	// No passwd at all: ids work, names do not.
	if u, err := ResolveUser(root, "5:6", nil); err != nil || u.UID != 5 || u.GID != 6 {
		t.Errorf("ids without passwd: %+v %v", u, err)
	}
	os.Remove(filepath.Join(root, "etc/passwd"))
	if err := syscall.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveUser(root, "root", nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo: %v", err)
	}
	os.Remove(filepath.Join(root, "etc/passwd"))
	f, err := os.Create(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxIDFile + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ResolveUser(root, "root", nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge passwd: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(DefaultCapabilities), func(c string) bool { return slices.Contains(drop, c) })
	}
	for _, tc := range []struct {
		add, drop []string
		want      []string
		wantErr   string
	}{
		{nil, []string{"chown"}, without("CAP_CHOWN"), ""},
		{nil, []string{"CAP_NET_RAW", "mknod"}, without("CAP_NET_RAW", "CAP_MKNOD"), ""},
		{[]string{"sys_admin"}, nil, append(slices.Clone(DefaultCapabilities), "CAP_SYS_ADMIN"), ""},
		{[]string{"Net_Admin"}, []string{"net_admin"}, append(slices.Clone(DefaultCapabilities), "CAP_NET_ADMIN"), ""},
		{[]string{"chown"}, nil, DefaultCapabilities, ""},
		{nil, []string{"ALL"}, []string{}, ""},
		{[]string{"kill", "CAP_CHOWN"}, []string{"all"}, []string{"CAP_KILL", "CAP_CHOWN"}, ""},
		{[]string{"ALL"}, []string{"sys_admin"}, slices.DeleteFunc(hostCapabilities(), func(c string) bool { return c == "CAP_SYS_ADMIN" }), ""},
		{[]string{"CAP_BOGUS"}, nil, nil, `invalid --cap-add "CAP_BOGUS": unknown capability`},
		{nil, []string{"fly"}, nil, `invalid --cap-drop "fly": unknown capability`},
	} {
		mod := func(o *Options) { o.CapAdd, o.CapDrop = tc.add, tc.drop }
		if tc.wantErr != "" {
			if err := genErr(t, image(nil, []string{"sh"}), mod); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("add %q drop %q: %v, want %q", tc.add, tc.drop, err, tc.wantErr)
			}
			continue
		}
		c := gen(t, image(nil, []string{"sh"}), mod).Spec.Process.Capabilities
		if !reflect.DeepEqual(c.Bounding, tc.want) || !reflect.DeepEqual(c.Effective, tc.want) || !reflect.DeepEqual(c.Permitted, tc.want) {
			t.Errorf("add %q drop %q: %q, want %q", tc.add, tc.drop, c.Bounding, tc.want)
		}
	}
}

func TestCapabilitiesNonRoot(t *testing.T) {
	c := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.User = "berth"; o.CapAdd = []string{"NET_ADMIN"} }).Spec.Process.Capabilities
	want := append(slices.Clone(DefaultCapabilities), "CAP_NET_ADMIN")
	if !reflect.DeepEqual(c.Bounding, want) || c.Effective != nil || c.Permitted != nil || c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("non-root caps %+v: Docker 28 sets only the bounding set", c)
	}
}

func TestPrivileged(t *testing.T) {
	s := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.Privileged = true }).Spec
	if !reflect.DeepEqual(s.Process.Capabilities.Bounding, hostCapabilities()) {
		t.Errorf("caps %q", s.Process.Capabilities.Bounding)
	}
	if s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("seccomp %v masked %q readonly %q", s.Linux.Seccomp != nil, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, d := range []string{"/sys", "/sys/fs/cgroup"} {
		if slices.Contains(mount(s, d).Options, "ro") {
			t.Errorf("%s read-only", d)
		}
	}
	ro := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.Privileged, o.ReadOnly = true, true }).Spec
	if !slices.Contains(mount(ro, "/sys").Options, "ro") || slices.Contains(mount(ro, "/sys/fs/cgroup").Options, "ro") {
		t.Errorf("--privileged --read-only: /sys %q cgroup %q", mount(ro, "/sys").Options, mount(ro, "/sys/fs/cgroup").Options)
	}
	if r := s.Linux.Resources.Devices; len(r) != 1 || !r[0].Allow || r[0].Access != "rwm" {
		t.Errorf("device rules %+v", r)
	}
	if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == "/dev/null" && d.Major == 1 && d.Minor == 3 }) {
		t.Errorf("host /dev/null missing from %d devices", len(s.Linux.Devices))
	}
	if slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool {
		return d.Path == "/dev/console" || strings.HasPrefix(d.Path, "/dev/pts/")
	}) {
		t.Errorf("console or pty passed through")
	}
	s = gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.Privileged = true
		o.Devices = []Device{{HostPath: "/dev/null", ContainerPath: "/dev/other-null"}}
	}).Spec
	if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == "/dev/other-null" && d.Major == 1 && d.Minor == 3 }) {
		t.Errorf("--privileged --device at another path missing")
	}
}

func TestSecurityOpts(t *testing.T) {
	defer func(f func() bool) { appArmorEnabled = f }(appArmorEnabled)
	appArmorEnabled = func() bool { return true }
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.json")
	if err := os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts    []string
		check   func(*specs.Spec) bool
		wantErr string
	}{
		{[]string{"no-new-privileges"}, func(s *specs.Spec) bool { return s.Process.NoNewPrivileges }, ""},
		{[]string{"no-new-privileges:true"}, func(s *specs.Spec) bool { return s.Process.NoNewPrivileges }, ""},
		{[]string{"no-new-privileges=false"}, func(s *specs.Spec) bool { return !s.Process.NoNewPrivileges }, ""},
		{[]string{"seccomp=unconfined"}, func(s *specs.Spec) bool { return s.Linux.Seccomp == nil }, ""},
		{[]string{"seccomp=" + prof}, func(s *specs.Spec) bool {
			return s.Linux.Seccomp.DefaultAction == specs.ActAllow && len(s.Linux.Seccomp.Syscalls) == 1
		}, ""},
		{[]string{"apparmor=myprof"}, func(s *specs.Spec) bool { return s.Process.ApparmorProfile == "myprof" }, ""},
		{[]string{"label=disable"}, func(s *specs.Spec) bool { return s.Process.SelinuxLabel == "" }, ""},
		{[]string{"systempaths=unconfined"}, func(s *specs.Spec) bool { return s.Linux.MaskedPaths == nil && s.Linux.ReadonlyPaths == nil }, ""},
		{[]string{"label=type:foo_t"}, nil, "SELinux labels are not supported"},
		{[]string{"seccomp=/no/such/profile"}, nil, "was not read"},
	} {
		mod := func(o *Options) {
			for _, so := range tc.opts {
				if err := ParseSecurityOpt(o, so); err != nil {
					o.SecurityOpt = append(o.SecurityOpt, so) // as an API caller would pass it
				}
			}
		}
		if tc.wantErr != "" {
			if err := genErr(t, image(nil, []string{"sh"}), mod); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %v, want %q", tc.opts, err, tc.wantErr)
			}
			continue
		}
		if s := gen(t, image(nil, []string{"sh"}), mod).Spec; !tc.check(s) {
			t.Errorf("%q: spec does not show it", tc.opts)
		}
	}
	// The Docker API carries the profile's JSON in the option itself.
	api := gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_LOG"}`}
	}).Spec
	if api.Linux.Seccomp == nil || api.Linux.Seccomp.DefaultAction != specs.ActLog {
		t.Errorf("inline profile: %+v", api.Linux.Seccomp)
	}
	if err := genErr(t, image(nil, []string{"sh"}), func(o *Options) { o.SecurityOpt = []string{`seccomp={bad json`} }); err == nil ||
		!strings.Contains(err.Error(), "--security-opt seccomp") {
		t.Errorf("bad inline profile: %v", err)
	}
	// The default profile follows the capabilities: with CAP_SYS_ADMIN it allows mount.
	has := func(s *specs.Spec, name string) bool {
		for _, sc := range s.Linux.Seccomp.Syscalls {
			if sc.Action == specs.ActAllow && slices.Contains(sc.Names, name) {
				return true
			}
		}
		return false
	}
	if s := gen(t, image(nil, []string{"sh"}), nil).Spec; has(s, "mount") {
		t.Errorf("default profile allows mount")
	}
	if s := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.CapAdd = []string{"SYS_ADMIN"} }).Spec; !has(s, "mount") {
		t.Errorf("--cap-add SYS_ADMIN: profile does not allow mount")
	}
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*Options)
		check   func(*specs.LinuxResources) bool
		wantErr string
	}{
		{"memory: swap twice memory", func(o *Options) { o.Memory = 64 << 20 }, func(r *specs.LinuxResources) bool {
			return *r.Memory.Limit == 64<<20 && *r.Memory.Swap == 128<<20 && r.Memory.Reservation == nil
		}, ""},
		{"memory-swap total", func(o *Options) { o.Memory, o.MemorySwap = 64<<20, 96<<20 }, func(r *specs.LinuxResources) bool {
			return *r.Memory.Swap == 96<<20
		}, ""},
		{"memory-swap equal: no swap", func(o *Options) { o.Memory, o.MemorySwap = 64<<20, 64<<20 }, func(r *specs.LinuxResources) bool {
			return *r.Memory.Swap == 64<<20
		}, ""},
		{"memory-swap unlimited", func(o *Options) { o.Memory, o.MemorySwap = 64<<20, -1 }, func(r *specs.LinuxResources) bool {
			return *r.Memory.Swap == -1
		}, ""},
		{"reservation", func(o *Options) { o.Memory, o.MemoryReservation = 64<<20, 32<<20 }, func(r *specs.LinuxResources) bool {
			return *r.Memory.Reservation == 32<<20
		}, ""},
		{"reservation alone", func(o *Options) { o.MemoryReservation = 32 << 20 }, func(r *specs.LinuxResources) bool {
			return r.Memory.Limit == nil && r.Memory.Swap == nil && *r.Memory.Reservation == 32<<20
		}, ""},
		{"cpus", func(o *Options) { o.NanoCPUs = 15e8 }, func(r *specs.LinuxResources) bool {
			return *r.CPU.Quota == 150000 && *r.CPU.Period == 100000 && r.CPU.Shares == nil
		}, ""},
		{"cpu-shares", func(o *Options) { o.CPUShares = 512 }, func(r *specs.LinuxResources) bool { return *r.CPU.Shares == 512 }, ""},
		{"cpu-shares clamped", func(o *Options) { o.CPUShares = 1 }, func(r *specs.LinuxResources) bool { return *r.CPU.Shares == 2 }, ""},
		{"cpuset", func(o *Options) { o.CpusetCpus, o.CpusetMems = "0-1,3", "0" }, func(r *specs.LinuxResources) bool {
			return r.CPU.Cpus == "0-1,3" && r.CPU.Mems == "0"
		}, ""},
		{"pids", func(o *Options) { o.PidsLimit = 100 }, func(r *specs.LinuxResources) bool { return *r.Pids.Limit == 100 }, ""},
		{"pids unlimited", func(o *Options) { o.PidsLimit = -1 }, func(r *specs.LinuxResources) bool { return r.Pids == nil }, ""},
		{"memory too small", func(o *Options) { o.Memory = 1 << 20 }, nil, "invalid --memory 1048576: the minimum allowed is 6MB"},
		{"swap below memory", func(o *Options) { o.Memory, o.MemorySwap = 64<<20, 32<<20 }, nil, "invalid --memory-swap"},
		{"swap without memory", func(o *Options) { o.MemorySwap = 64 << 20 }, nil, "needs --memory"},
		{"reservation above memory", func(o *Options) { o.Memory, o.MemoryReservation = 64<<20, 128<<20 }, nil, "invalid --memory-reservation"},
		{"cpus above host", func(o *Options) { o.NanoCPUs = 5e9 }, nil, "invalid --cpus 5: the range is 0.01 to 4.00"},
		{"cpus too small", func(o *Options) { o.NanoCPUs = 1e6 }, nil, "invalid --cpus 0.001"},
		{"cpus negative", func(o *Options) { o.NanoCPUs = -1 }, nil, "invalid --cpus"},
		{"cpuset beyond host", func(o *Options) { o.CpusetCpus = "0-7" }, nil, `invalid --cpuset-cpus "0-7"`},
		{"cpuset garbage", func(o *Options) { o.CpusetCpus = "a" }, nil, `invalid --cpuset-cpus "a"`},
		{"shares negative", func(o *Options) { o.CPUShares = -5 }, nil, "invalid --cpu-shares"},
		{"oom-score-adj range", func(o *Options) { v := 1001; o.OOMScoreAdj = &v }, nil, "invalid --oom-score-adj 1001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr != "" {
				if err := genErr(t, image(nil, []string{"sh"}), tc.mod); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if r := gen(t, image(nil, []string{"sh"}), tc.mod).Spec.Linux.Resources; !tc.check(r) {
				t.Errorf("resources %+v memory %+v cpu %+v", r, r.Memory, r.CPU)
			}
		})
	}
	v := -500
	if s := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.OOMScoreAdj = &v }).Spec; *s.Process.OOMScoreAdj != -500 {
		t.Errorf("oom score adj %v", s.Process.OOMScoreAdj)
	}
}

func TestRlimits(t *testing.T) {
	s := gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.Ulimits = []Ulimit{{"nofile", 100, 200}, {"core", -1, -1}}
		o.DefaultUlimits = []Ulimit{{"nofile", 1 << 20, 1 << 20}, {"nproc", 50, 60}}
	}).Spec
	want := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
		{Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)},
		{Type: "RLIMIT_NPROC", Soft: 50, Hard: 60},
	}
	if !reflect.DeepEqual(s.Process.Rlimits, want) {
		t.Errorf("rlimits %+v", s.Process.Rlimits)
	}
	for _, u := range []Ulimit{{"nofile", 300, 200}, {"bogus", 1, 1}, {"nofile", -2, 5}} {
		if err := genErr(t, image(nil, []string{"sh"}), func(o *Options) { o.Ulimits = []Ulimit{u} }); err == nil || !strings.Contains(err.Error(), "--ulimit "+u.Name) {
			t.Errorf("%+v: %v", u, err)
		}
	}
}

func TestMounts(t *testing.T) {
	s := gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.ReadOnly = true
		o.Tmpfs = map[string]string{"/run": "", "/tmp": "exec,size=1m,mode=1777"}
		o.ShmSize = 1 << 20
		o.Mounts = []Mount{
			{Type: MountBind, Source: "/srv/a/b", Destination: "/data/sub", ReadOnly: true},
			{Type: MountBind, Source: "/srv/a", Destination: "/data", Propagation: "rslave"},
			{Type: MountTmpfs, Destination: "/cache", TmpfsSize: 64 << 20, TmpfsMode: 0o700},
			{Type: MountBind, Source: "/srv/x", Destination: "/x", NonRecursive: true},
		}
	}).Spec
	if !s.Root.Readonly {
		t.Error("root not read-only")
	}
	want := map[string]specs.Mount{
		"/data/sub": {Destination: "/data/sub", Type: "bind", Source: "/srv/a/b", Options: []string{"rbind", "ro", "rprivate"}},
		"/data":     {Destination: "/data", Type: "bind", Source: "/srv/a", Options: []string{"rbind", "rslave"}},
		"/x":        {Destination: "/x", Type: "bind", Source: "/srv/x", Options: []string{"bind", "rprivate"}},
		"/cache":    {Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate", "size=64m", "mode=700"}},
		"/run":      {Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate"}},
		// exec overrides Docker's noexec default.
		"/tmp": {Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "rprivate", "exec", "size=1m", "mode=1777"}},
	}
	for dst, w := range want {
		if m := mount(s, dst); m == nil || !reflect.DeepEqual(*m, w) {
			t.Errorf("%s: %+v\nwant %+v", dst, m, w)
		}
	}
	idx := func(d string) int {
		return slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == d })
	}
	if idx("/data") > idx("/data/sub") || idx("/dev/shm") > idx("/data") {
		t.Errorf("order: %+v", s.Mounts)
	}
	if m := mount(s, "/dev/shm"); !slices.Contains(m.Options, "size=1048576") {
		t.Errorf("shm %+v", m)
	}
	for _, d := range []string{"/dev", "/dev/shm", "/proc", "/dev/mqueue"} {
		if slices.Contains(mount(s, d).Options, "ro") {
			t.Errorf("--read-only made %s read-only", d)
		}
	}
	// A user mount replaces the default at the same place.
	s = gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.Mounts = []Mount{{Type: MountTmpfs, Destination: "/dev/shm", TmpfsSize: 2 << 20}}
	}).Spec
	n := 0
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			n++
			if !slices.Contains(m.Options, "size=2m") {
				t.Errorf("shm %+v", m)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d /dev/shm mounts", n)
	}
	// --ipc host binds the host's /dev/shm.
	s = gen(t, image(nil, []string{"sh"}), func(o *Options) { o.IPC = Namespace{Mode: NSHost} }).Spec
	if m := mount(s, "/dev/shm"); m.Type != "bind" || m.Source != "/dev/shm" {
		t.Errorf("ipc host shm %+v", m)
	}

	for _, tc := range []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"relative destination", func(o *Options) { o.Mounts = []Mount{{Type: MountBind, Source: "/a", Destination: "rel"}} }, `destination "rel" is not an absolute path`},
		{"relative source", func(o *Options) { o.Mounts = []Mount{{Type: MountBind, Source: "a", Destination: "/a"}} }, "not an absolute path"},
		{"root", func(o *Options) { o.Mounts = []Mount{{Type: MountBind, Source: "/a", Destination: "/"}} }, "can't be /"},
		{"duplicate", func(o *Options) {
			o.Mounts = []Mount{{Type: MountBind, Source: "/a", Destination: "/a"}}
			o.Tmpfs = map[string]string{"/a/": ""}
		}, "duplicate mount point /a"},
		{"unresolved volume", func(o *Options) { o.Mounts = []Mount{{Type: MountVolume, Source: "v", Destination: "/v"}} }, "not resolved"},
		{"bad propagation", func(o *Options) {
			o.Mounts = []Mount{{Type: MountBind, Source: "/a", Destination: "/a", Propagation: "sideways"}}
		}, "unknown propagation"},
		{"bad tmpfs option", func(o *Options) { o.Tmpfs = map[string]string{"/t": "nosuchopt"} }, "--tmpfs /t"},
		{"negative shm", func(o *Options) { o.ShmSize = -1 }, "--shm-size"},
	} {
		if err := genErr(t, image(nil, []string{"sh"}), tc.mod); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestDevices(t *testing.T) {
	s := gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.Devices = []Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: "rw"}}
	}).Spec
	if len(s.Linux.Devices) != 1 {
		t.Fatalf("devices %+v", s.Linux.Devices)
	}
	d := s.Linux.Devices[0]
	if d.Path != "/dev/mynull" || d.Type != "c" || d.Major != 1 || d.Minor != 3 || d.FileMode == nil || *d.FileMode != 0o666 {
		t.Errorf("device %+v", d)
	}
	last := s.Linux.Resources.Devices[len(s.Linux.Resources.Devices)-1]
	if !last.Allow || last.Type != "c" || *last.Major != 1 || *last.Minor != 3 || last.Access != "rw" {
		t.Errorf("rule %+v", last)
	}
	// A directory gives every node below it (Docker's --device /dev/snd).
	devDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(devDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{"a", "sub/b"} {
			if err := syscall.Mknod(filepath.Join(devDir, p), syscall.S_IFCHR|0o620, int(1<<8|7)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(devDir, p), 0o620); err != nil { // past the umask
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(devDir, "notadev"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s = gen(t, image(nil, []string{"sh"}), func(o *Options) {
			o.Devices = []Device{{HostPath: devDir, ContainerPath: "/dev/snd", Permissions: "rwm"}}
		}).Spec
		var paths []string
		for _, d := range s.Linux.Devices {
			paths = append(paths, d.Path)
			if d.Major != 1 || d.Minor != 7 || *d.FileMode != 0o620 {
				t.Errorf("device %+v", d)
			}
		}
		if !reflect.DeepEqual(paths, []string{"/dev/snd/a", "/dev/snd/sub/b"}) {
			t.Errorf("directory devices %q", paths)
		}
		if n := len(s.Linux.Resources.Devices); n != 10 {
			t.Errorf("%d device rules, want the 8 defaults and 2", n)
		}
	}
	for _, tc := range []struct {
		d       Device
		wantErr string
	}{
		{Device{HostPath: "/etc/hostname", ContainerPath: "/dev/x"}, "/etc/hostname is not a device node"},
		{Device{HostPath: "/etc", ContainerPath: "/dev/x"}, "a directory without device nodes"},
		{Device{HostPath: "/dev/nonexistent-berth", ContainerPath: "/dev/x"}, "no such file"},
		{Device{HostPath: "/dev/null", ContainerPath: "x"}, "absolute"},
		{Device{HostPath: "/dev/null", ContainerPath: "/dev/x", Permissions: "q"}, "permissions"},
	} {
		if err := genErr(t, image(nil, []string{"sh"}), func(o *Options) { o.Devices = []Device{tc.d} }); err == nil ||
			!strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--device") {
			t.Errorf("%+v: %v, want %q", tc.d, err, tc.wantErr)
		}
	}
}

func TestNamespaces(t *testing.T) {
	s := gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.PID = Namespace{Mode: NSHost}
		o.IPC = Namespace{Mode: NSPath, Path: "/proc/1/ns/ipc"}
		o.UTS = Namespace{Mode: NSHost}
		o.Network = Namespace{Mode: NSHost}
	}).Spec
	got := map[specs.LinuxNamespaceType]string{}
	for _, n := range s.Linux.Namespaces {
		got[n.Type] = n.Path
	}
	want := map[specs.LinuxNamespaceType]string{specs.MountNamespace: "", specs.IPCNamespace: "/proc/1/ns/ipc", specs.CgroupNamespace: ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("namespaces %v", got)
	}
	host, _ := os.Hostname()
	if s.Hostname != "" || !slices.Contains(s.Process.Env, "HOSTNAME="+host) {
		t.Errorf("--uts host: hostname %q env %q", s.Hostname, s.Process.Env)
	}
	if len(s.Linux.Sysctl) != 0 {
		t.Errorf("--network host: sysctls %v", s.Linux.Sysctl)
	}
	if s := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.Network = Namespace{Mode: NSHost} }).Spec; s.Hostname != host {
		t.Errorf("--network host: hostname %q, want the host's %q", s.Hostname, host)
	}
	if s := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.Hostname, o.Domainname = "web", "example.org" }).Spec; s.Hostname != "web" || s.Domainname != "example.org" {
		t.Errorf("hostname %q domain %q", s.Hostname, s.Domainname)
	}
	if err := genErr(t, image(nil, []string{"sh"}), func(o *Options) { o.UTS, o.Hostname = Namespace{Mode: NSHost}, "x" }); err == nil || !strings.Contains(err.Error(), "--hostname") {
		t.Errorf("hostname with uts host: %v", err)
	}
	if err := genErr(t, image(nil, []string{"sh"}), func(o *Options) { o.PID = Namespace{Mode: NSPath, Path: "rel"} }); err == nil || !strings.Contains(err.Error(), "--pid") {
		t.Errorf("relative ns path: %v", err)
	}
}

func TestSysctls(t *testing.T) {
	s := gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20", "net.ipv4.ping_group_range": "0 0"}
	}).Spec
	if s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" || s.Linux.Sysctl["kernel.shmmax"] != "1000" ||
		s.Linux.Sysctl["net.ipv4.ping_group_range"] != "0 0" || s.Linux.Sysctl["fs.mqueue.msg_max"] != "20" {
		t.Errorf("sysctls %v", s.Linux.Sysctl)
	}
	if s := gen(t, image(nil, []string{"sh"}), func(o *Options) { o.Network = Namespace{Mode: NSPath, Path: "/proc/1/ns/net"} }).Spec; len(s.Linux.Sysctl) != 0 {
		t.Errorf("joined netns: Docker sets no default sysctls, got %v", s.Linux.Sysctl)
	}
	if s := gen(t, image(nil, []string{"sh"}), func(o *Options) {
		o.Network = Namespace{Mode: NSPath, Path: "/run/netns/x", Owned: true}
	}).Spec; s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("owned netns: sysctls %v", s.Linux.Sysctl)
	}
	for _, tc := range []struct {
		mod     func(*Options)
		wantErr string
	}{
		{func(o *Options) { o.Sysctls = map[string]string{"kernel.panic": "1"} }, "not a namespaced sysctl"},
		{func(o *Options) { o.Sysctls = map[string]string{"vm.swappiness": "1"} }, "not a namespaced sysctl"},
		{func(o *Options) {
			o.Sysctls, o.Network = map[string]string{"net.ipv4.ip_forward": "1"}, Namespace{Mode: NSHost}
		}, "not allowed with --network host"},
		{func(o *Options) { o.Sysctls, o.IPC = map[string]string{"kernel.sem": "1"}, Namespace{Mode: NSHost} }, "not allowed with --ipc host"},
		{func(o *Options) { o.Sysctls = map[string]string{"net.ipv4/../../x": "1"} }, "invalid --sysctl"},
	} {
		if err := genErr(t, image(nil, []string{"sh"}), tc.mod); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v, want %q", err, tc.wantErr)
		}
	}
}

func TestStopSignalVolumesAnnotationsCgroups(t *testing.T) {
	img := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, StopSignal: "SIGQUIT", Volumes: map[string]struct{}{"/data": {}, "/logs/": {}}}}
	r := gen(t, img, func(o *Options) {
		o.Mounts = []Mount{{Type: MountBind, Source: "/srv", Destination: "/logs"}}
		o.Annotations = map[string]string{"a": "b"}
		o.CgroupParent = "/mine"
	})
	if r.StopSignal != syscall.SIGQUIT || !reflect.DeepEqual(r.Volumes, []string{"/data"}) {
		t.Errorf("stop %v volumes %q", r.StopSignal, r.Volumes)
	}
	if r.Spec.Annotations["a"] != "b" || r.Spec.Linux.CgroupsPath != "/mine/"+testID {
		t.Errorf("annotations %v cgroups %q", r.Spec.Annotations, r.Spec.Linux.CgroupsPath)
	}
	if r := gen(t, img, func(o *Options) { o.StopSignal = "9"; o.CgroupParent = "app.slice" }); r.StopSignal != syscall.SIGKILL || r.Spec.Linux.CgroupsPath != "app.slice:berth:"+testID {
		t.Errorf("stop %v cgroups %q", r.StopSignal, r.Spec.Linux.CgroupsPath)
	}
	if err := genErr(t, img, func(o *Options) { o.StopSignal = "SIGNOPE" }); err == nil || !strings.Contains(err.Error(), "--stop-signal") {
		t.Errorf("bad signal: %v", err)
	}
	bad := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, StopSignal: "NOPE"}}
	if err := genErr(t, bad, func(*Options) {}); err == nil || !strings.Contains(err.Error(), "image StopSignal") {
		t.Errorf("bad image signal: %v", err)
	}
	if _, err := Generate(nil, &Options{RootfsPath: "/x"}); err == nil {
		t.Error("no id accepted")
	}
	if _, err := Generate(nil, &Options{ContainerID: testID, RootfsPath: idRoot(t)}); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Errorf("nil image: %v", err)
	}
}

func TestThermalMasked(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []string{"cpu0", "cpu1"} {
		if err := os.MkdirAll(filepath.Join(dir, c, "thermal_throttle"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := thermalGlob
	thermalGlob = filepath.Join(dir, "cpu*", "thermal_throttle")
	t.Cleanup(func() { thermalGlob = old })
	s := gen(t, image(nil, []string{"sh"}), nil).Spec
	for _, c := range []string{"cpu0", "cpu1"} {
		if !slices.Contains(s.Linux.MaskedPaths, filepath.Join(dir, c, "thermal_throttle")) {
			t.Errorf("%s thermal_throttle not masked: %q", c, s.Linux.MaskedPaths)
		}
	}
}
