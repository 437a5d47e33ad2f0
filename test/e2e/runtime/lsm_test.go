package runtime_test

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// lsmEnabled reports whether AppArmor or SELinux is on: berth-runtime says "not enabled on this
// host" only where that is true (AppArmor profiles are applied where it is on: apparmor_test.go).
func lsmEnabled() (apparmor, selinux bool) {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	apparmor = err == nil && strings.HasPrefix(string(b), "Y")
	_, err = os.Stat("/sys/fs/selinux/enforce")
	return apparmor, err == nil
}

// TestLSMConfigRefused: an AppArmor profile or SELinux label the runtime cannot apply is a clear
// error before anything is created, never a container running without its confinement. With
// AppArmor on, the profile asked for is one that is not loaded.
func TestLSMConfigRefused(t *testing.T) {
	apparmor, selinux := lsmEnabled()
	tests := []struct {
		name        string
		edit        func(*specs.Spec)
		want        string
		enabled     bool
		wantEnabled string
	}{
		{"apparmorProfile", func(s *specs.Spec) { s.Process.ApparmorProfile = "berth-test-not-loaded" }, "AppArmor is not enabled on this host", apparmor, "no such AppArmor profile is loaded"},
		{"selinuxLabel", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }, "SELinux is not enabled on this host", selinux, "SELinux is not supported by berth-runtime"},
	}
	if selinux {
		tests = append(tests, struct {
			name        string
			edit        func(*specs.Spec)
			want        string
			enabled     bool
			wantEnabled string
		}{"mountLabel", func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }, "", selinux, "SELinux is not supported by berth-runtime"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if tc.enabled {
				want = tc.wantEnabled
			}
			e := newEnv(t, "true")
			tc.edit(e.spec)
			r := e.run()
			if r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Fatalf("run: %s\nwant a failure mentioning %q", r, want)
			}
			if entries, _ := os.ReadDir(e.root); len(entries) != 0 {
				t.Errorf("state created for a refused container: %v", entries)
			}
			for _, dir := range cgroupDirs(e.id) {
				if _, err := os.Stat(dir); err == nil {
					t.Errorf("cgroup created for a refused container: %s", dir)
				}
			}
		})
	}
}

// TestMountLabelWithoutSELinux: without SELinux a linux.mountLabel labels nothing and confines
// nothing: the container runs, with a warning, as with crun and runc.
func TestMountLabelWithoutSELinux(t *testing.T) {
	if _, selinux := lsmEnabled(); selinux {
		t.Skip("SELinux is enabled on this host")
	}
	e := newEnv(t, "echo", "ran")
	e.spec.Linux.MountLabel = "system_u:object_r:container_file_t:s0"
	r := e.run()
	if r.code != 0 || !strings.Contains(r.stdout, "ran") {
		t.Fatalf("run: %s", r)
	}
	if !strings.Contains(r.stderr, "mountLabel") || !strings.Contains(r.stderr, "ignored") {
		t.Errorf("no warning about the ignored mount label: %q", r.stderr)
	}
}

// TestLSMExecRefused: exec --apparmor and --process-label are refused the same way.
func TestLSMExecRefused(t *testing.T) {
	apparmor, selinux := lsmEnabled()
	if apparmor && selinux {
		t.Skip("AppArmor and SELinux are enabled on this host: the error wording differs")
	}
	e := newEnv(t, "sleep", "300")
	e.createID(e.id)
	for _, tc := range []struct {
		flag, want string
		enabled    bool
	}{
		// With AppArmor on, TestAppArmor/exec covers --apparmor.
		{"--apparmor=berth-test", "AppArmor is not enabled on this host", apparmor},
		{"--process-label=system_u:system_r:container_t:s0", "SELinux is not enabled on this host", selinux},
	} {
		if tc.enabled {
			continue
		}
		r := e.rt("exec", tc.flag, e.id, "true")
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("exec %s: %s\nwant a failure mentioning %q", tc.flag, r, tc.want)
		}
	}
}
