package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"512m", 512 << 20, ""},
		{"1g", 1 << 30, ""},
		{"1G", 1 << 30, ""},
		{"100", 100, ""},
		{"64k", 64 << 10, ""},
		{"1.5g", 3 << 29, ""},
		{"12x", 0, `invalid --memory "12x"`},
		{"", 0, `invalid --memory ""`},
		{"-1", 0, `invalid --memory "-1"`},
	} {
		got, err := ParseMemory("--memory", tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseMemory(%q) = %d, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	if v, err := ParseMemorySwap("-1"); err != nil || v != -1 {
		t.Errorf("ParseMemorySwap(-1) = %d, %v", v, err)
	}
	if _, err := ParseMemorySwap("-2"); err == nil || !strings.Contains(err.Error(), "--memory-swap") {
		t.Errorf("ParseMemorySwap(-2): %v", err)
	}
}

func TestParseCPUs(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"1", 1e9, ""},
		{"1.5", 15e8, ""},
		{"0.01", 1e7, ""},
		{"abc", 0, `invalid --cpus "abc": not a number`},
		{"-1", 0, `invalid --cpus "-1": must not be negative`},
		{"0.0000000001", 0, "too precise"},
		{"", 0, "not a number"},
	} {
		got, err := ParseCPUs(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseCPUs(%q) = %d, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCPUs(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseUlimit(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Ulimit
		wantErr string
	}{
		{"nofile=1024", Ulimit{"nofile", 1024, 1024}, ""},
		{"nofile=512:1024", Ulimit{"nofile", 512, 1024}, ""},
		{"nproc=-1", Ulimit{"nproc", -1, -1}, ""},
		{"core=0", Ulimit{"core", 0, 0}, ""},
		{"nofile=a", Ulimit{}, `invalid --ulimit "nofile=a"`},
		{"nofile=2048:1024", Ulimit{}, `invalid --ulimit "nofile=2048:1024"`},
		{"bogus=1", Ulimit{}, `invalid --ulimit "bogus=1"`},
		{"nofile", Ulimit{}, `invalid --ulimit "nofile"`},
	} {
		got, err := ParseUlimit(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseUlimit(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseUlimit(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Device
		wantErr string
	}{
		{"/dev/null", Device{"/dev/null", "/dev/null", "rwm"}, ""},
		{"/dev/null:/dev/xnull", Device{"/dev/null", "/dev/xnull", "rwm"}, ""},
		{"/dev/null:r", Device{"/dev/null", "/dev/null", "r"}, ""},
		{"/dev/null:/dev/x:rw", Device{"/dev/null", "/dev/x", "rw"}, ""},
		{"/dev/null:/dev/x:rwx", Device{}, "permissions"},
		{"/dev/null:/dev/x:rr", Device{}, "permissions"},
		{"dev/null", Device{}, "not absolute"},
		{"/dev/null:x", Device{}, "not absolute"},
		{"a:b:c:d", Device{}, "want host"},
		{"", Device{}, "empty host path"},
	} {
		got, err := ParseDevice(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--device") {
				t.Errorf("ParseDevice(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, tc := range []struct {
		in, dst, opts, wantErr string
	}{
		{"/run", "/run", "", ""},
		{"/run:rw,size=64m,mode=1777", "/run", "rw,size=64m,mode=1777", ""},
		{"/run/:exec", "/run", "exec", ""},
		{"run", "", "", "not an absolute path"},
		{"/", "", "", "can't be /"},
		{"/x:bogus", "", "", "unknown tmpfs option"},
		{"/x:mode=999", "", "", "octal"},
		{"/x:size=abc", "", "", "not a size"},
		{"/x:size=50%", "/x", "size=50%", ""},
		{"/x:size=abc%", "", "", "not a percentage"},
		{"/x:size=101%", "", "", "not a percentage"},
	} {
		dst, opts, err := ParseTmpfs(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--tmpfs") {
				t.Errorf("ParseTmpfs(%q) = %q, %q, %v; want error %q", tc.in, dst, opts, err, tc.wantErr)
			}
			continue
		}
		if err != nil || dst != tc.dst || opts != tc.opts {
			t.Errorf("ParseTmpfs(%q) = %q, %q, %v", tc.in, dst, opts, err)
		}
	}
}

func TestParseVolume(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mount
		wantErr string
	}{
		{"/data", Mount{Type: MountVolume, Destination: "/data"}, ""},
		{"/h:/c", Mount{Type: MountBind, Source: "/h", Destination: "/c"}, ""},
		{"/h:/c:ro", Mount{Type: MountBind, Source: "/h", Destination: "/c", ReadOnly: true}, ""},
		{"/h:/c:ro,rslave", Mount{Type: MountBind, Source: "/h", Destination: "/c", ReadOnly: true, Propagation: "rslave"}, ""},
		{"/h:/c:Z", Mount{Type: MountBind, Source: "/h", Destination: "/c", Options: []string{"Z"}}, ""},
		{"vol:/c", Mount{Type: MountVolume, Source: "vol", Destination: "/c"}, ""},
		{"vol:/c:nocopy", Mount{Type: MountVolume, Source: "vol", Destination: "/c", NoCopy: true}, ""},
		{"/data:ro", Mount{Type: MountVolume, Destination: "/data", ReadOnly: true}, ""},
		{"/h:c", Mount{}, `unknown option "c"`}, // Docker: invalid mode
		{"h:c:ro", Mount{}, "not an absolute path"},
		{"/h:/", Mount{}, "can't be /"},
		{"/h:/c:bogus", Mount{}, `unknown option "bogus"`},
		{"/h:/c:ro,rw", Mount{}, "more than once"},
		{"vol:/c:rshared", Mount{}, "bind mounts only"},
		{"a b:/c", Mount{}, "valid volume name"},
		{"a:b:c:d", Mount{}, "want [source:]"},
	} {
		got, err := ParseVolume(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "-v") {
				t.Errorf("ParseVolume(%q) = %+v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseVolume(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseMount(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mount
		wantErr string
	}{
		{"type=bind,source=/h,target=/c", Mount{Type: MountBind, Source: "/h", Destination: "/c"}, ""},
		{"type=bind,src=/h,dst=/c,readonly,bind-propagation=rshared", Mount{Type: MountBind, Source: "/h", Destination: "/c", ReadOnly: true, Propagation: "rshared"}, ""},
		{"type=bind,src=/h,dst=/c,ro=false", Mount{Type: MountBind, Source: "/h", Destination: "/c"}, ""},
		{"type=bind,src=/h,dst=/c,bind-recursive=disabled", Mount{Type: MountBind, Source: "/h", Destination: "/c", NonRecursive: true}, ""},
		{"target=/c", Mount{Type: MountVolume, Destination: "/c"}, ""},
		{"type=volume,source=v1,target=/c,volume-nocopy", Mount{Type: MountVolume, Source: "v1", Destination: "/c", NoCopy: true}, ""},
		{"type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770", Mount{Type: MountTmpfs, Destination: "/t", TmpfsSize: 64 << 20, TmpfsMode: 0o1770}, ""},
		{"type=bind,source=/h", Mount{}, "target is required"},
		{"type=bind,target=c,source=/h", Mount{}, "not an absolute path"},
		{"type=bind,target=/c", Mount{}, "source is required"},
		{"type=bind,target=/c,source=rel", Mount{}, "not an absolute path"},
		{"type=nfs,target=/c", Mount{}, "unknown type"},
		{"type=bind,target=/c,source=/h,bind-propagation=weird", Mount{}, "unknown bind-propagation"},
		{"type=tmpfs,target=/t,tmpfs-size=big", Mount{}, "not a size"},
		{"type=tmpfs,target=/t,source=/x", Mount{}, "takes no source"},
		{"type=tmpfs,target=/t,bind-propagation=shared", Mount{}, "don't apply"},
		{"type=bind,target=/c,source=/h,readonly=maybe", Mount{}, "not a boolean"},
		{"type=bind,target=/c,source=/h,colour=blue", Mount{}, "unknown option"},
		{"type", Mount{}, "needs a value"},
	} {
		got, err := ParseMount(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--mount") {
				t.Errorf("ParseMount(%q) = %+v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMount(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want syscall.Signal
		ok   bool
	}{
		{"SIGTERM", syscall.SIGTERM, true},
		{"TERM", syscall.SIGTERM, true},
		{"term", syscall.SIGTERM, true},
		{"15", syscall.SIGTERM, true},
		{"SIGKILL", syscall.SIGKILL, true},
		{"SIGRTMIN", 34, true},
		{"RTMIN+3", 37, true},
		{"SIGRTMAX-2", 62, true},
		{"SIGRTMIN+31", 0, false},
		{"0", 0, false},
		{"65", 0, false},
		{"SIGNOPE", 0, false},
		{"", 0, false},
	} {
		got, err := ParseSignal(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseSecurityOpt(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.json")
	if err := os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{"no-new-privileges", ""},
		{"no-new-privileges:true", ""},
		{"no-new-privileges=false", ""},
		{"no-new-privileges=maybe", "not true or false"},
		{"seccomp=unconfined", ""},
		{"seccomp=" + prof, ""},
		{"seccomp=" + filepath.Join(dir, "missing.json"), "read seccomp profile"},
		{"seccomp=", "needs a profile"},
		{"apparmor=unconfined", ""},
		{"apparmor=", "needs a profile"},
		{"label=disable", ""},
		{"label=bogus", "unknown label option"},
		{"systempaths=unconfined", ""},
		{"selinux=on", "unknown option"},
	} {
		var o Options
		err := ParseSecurityOpt(&o, tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseSecurityOpt(%q): %v; want error %q", tc.in, err, tc.wantErr)
			}
			if len(o.SecurityOpt) != 0 {
				t.Errorf("ParseSecurityOpt(%q) kept a bad option", tc.in)
			}
			continue
		}
		if err != nil || len(o.SecurityOpt) != 1 {
			t.Errorf("ParseSecurityOpt(%q): %v", tc.in, err)
		}
		if strings.HasPrefix(tc.in, "seccomp=/") && len(o.SeccompProfile) == 0 {
			t.Errorf("ParseSecurityOpt(%q) did not read the profile", tc.in)
		}
	}
}

func TestParseNamespace(t *testing.T) {
	for _, tc := range []struct {
		flag, in string
		want     Namespace
		ok       bool
	}{
		{"--pid", "", Namespace{}, true},
		{"--pid", "host", Namespace{Mode: NSHost}, true},
		{"--pid", "ns:/proc/1/ns/pid", Namespace{Mode: NSPath, Path: "/proc/1/ns/pid"}, true},
		{"--pid", "ns:rel", Namespace{}, false},
		{"--ipc", "shareable", Namespace{}, true},
		{"--pid", "shareable", Namespace{}, false},
		{"--network", "none", Namespace{}, true},
		{"--uts", "none", Namespace{}, false},
		{"--uts", "container:abc", Namespace{}, false},
	} {
		got, err := ParseNamespace(tc.flag, tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseNamespace(%s, %q) = %+v, %v", tc.flag, tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("error %q does not name %s", err, tc.flag)
		}
	}
}

// FuzzFlagParsers runs every flag parser on one input: none may panic, and what ParseVolume,
// ParseMount and ParseDevice accept has absolute, clean destinations.
func FuzzFlagParsers(f *testing.F) {
	for _, s := range []string{
		"512m", "1g", "nofile=1024:2048", "/dev/null:/dev/x:rw", "berth:extra", "1000:1001",
		"SIGRTMIN+3", "type=bind,src=/a,dst=/b,ro", "/h:/c:ro,rslave", "/run:size=1m,mode=700",
		"1.5", "-1", "x:y:z", "type=tmpfs,target=/t,tmpfs-size=1k",
	} {
		f.Add(s)
	}
	root := f.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nberth:x:1000:1000::/home/berth:/bin/sh\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nextra:x:1001:berth\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ParseMemory("--memory", s)
		ParseMemorySwap(s)
		ParseCPUs(s)
		ParseUlimit(s)
		ParseSignal(s)
		ParseTmpfs(s)
		ParseNamespace("--pid", s)
		ParseSysctl(s)
		noEnv := func(string) (string, bool) { return "", false }
		if e, ok, err := ResolveEnv(s, noEnv); err == nil && ok && !strings.Contains(e, "=") {
			t.Fatalf("ResolveEnv(%q) = %q", s, e)
		}
		ParseEnvFile("fuzz", strings.NewReader(s), noEnv)
		if d, err := ParseDevice(s); err == nil && (d.ContainerPath == "" || d.ContainerPath[0] != '/') {
			t.Fatalf("ParseDevice(%q) = %+v", s, d)
		}
		for _, p := range []func(string) (Mount, error){ParseVolume, ParseMount} {
			if m, err := p(s); err == nil && (m.Destination == "" || m.Destination[0] != '/' || filepath.Clean(m.Destination) != m.Destination) {
				t.Fatalf("parse %q = %+v", s, m)
			}
		}
		if u, err := ResolveUser(root, s, nil); err == nil && u.UID > 1<<31 {
			t.Fatalf("ResolveUser(%q) = %+v", s, u)
		}
	})
}
