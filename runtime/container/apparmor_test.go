package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/nsexec"
)

// fakeAppArmor points the AppArmor paths at a temporary tree: param is the module parameter's
// content ("" for no module), profiles the securityfs list (nil for no securityfs).
func fakeAppArmor(t *testing.T, param string, profiles []string) {
	t.Helper()
	dir := t.TempDir()
	savedParam, savedFS := appArmorParam, appArmorFS
	t.Cleanup(func() { appArmorParam, appArmorFS = savedParam, savedFS })
	appArmorParam = filepath.Join(dir, "enabled")
	appArmorFS = filepath.Join(dir, "securityfs", "apparmor")
	if param != "" {
		if err := os.WriteFile(appArmorParam, []byte(param+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if profiles != nil {
		if err := os.MkdirAll(appArmorFS, 0o755); err != nil {
			t.Fatal(err)
		}
		data := strings.Join(profiles, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(appArmorFS, "profiles"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckAppArmorProfile(t *testing.T) {
	loaded := []string{"berth-test (enforce)", "docker-default (enforce)", "outer//inner (complain)", "with space (enforce)"}
	tests := []struct {
		name     string
		param    string
		profiles []string
		profile  string
		want     string // "" for success
	}{
		{"no module", "", nil, "berth-test", "AppArmor is not enabled on this host"},
		{"disabled", "N", loaded, "berth-test", "AppArmor is not enabled on this host"},
		{"no securityfs", "Y", nil, "berth-test", "mount securityfs"},
		{"loaded", "Y", loaded, "berth-test", ""},
		{"loaded child", "Y", loaded, "outer//inner", ""},
		{"name with a space", "Y", loaded, "with space", ""},
		{"not loaded", "Y", loaded, "berth-other", `"berth-other": no such AppArmor profile is loaded`},
		{"prefix of a loaded name", "Y", loaded, "berth", "no such AppArmor profile is loaded"},
		{"mode is not part of the name", "Y", loaded, "berth-test (enforce)", "no such AppArmor profile is loaded"},
		{"unconfined needs no profile", "Y", []string{}, "unconfined", ""},
		{"policy namespace left to the kernel", "Y", []string{}, ":ns:p", ""},
		{"newline", "Y", loaded, "berth-test\nchangeprofile x", "invalid profile name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fakeAppArmor(t, tc.param, tc.profiles)
			err := checkLSM(&specs.Process{ApparmorProfile: tc.profile}, "")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestAppArmorNeedsProc(t *testing.T) {
	proc := specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}
	tests := []struct {
		name    string
		profile string
		mounts  []specs.Mount
		joined  bool
		wantErr bool
	}{
		{"no profile", "", nil, false, false},
		{"proc mounted", "p", []specs.Mount{proc}, false, false},
		{"proc at /proc/", "p", []specs.Mount{{Destination: "/proc/", Type: "proc"}}, false, false},
		{"no proc", "p", []specs.Mount{{Destination: "/dev", Type: "tmpfs"}}, false, true},
		{"proc elsewhere", "p", []specs.Mount{{Destination: "/host-proc", Type: "proc"}}, false, true},
		{"joined mount namespace", "p", nil, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := specs.LinuxNamespace{Type: specs.MountNamespace}
			if tc.joined {
				ns.Path = "/proc/1/ns/mnt"
			}
			spec := &specs.Spec{
				Process: &specs.Process{ApparmorProfile: tc.profile},
				Mounts:  tc.mounts,
				Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{ns}},
			}
			err := appArmorNeedsProc(spec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestAppArmorPlan: the profile change is in the process's plan only when a profile is set.
func TestAppArmorPlan(t *testing.T) {
	for _, profile := range []string{"", "berth-test"} {
		in := &planInput{spec: &specs.Spec{Linux: &specs.Linux{}}, consoleFd: -1, firstFreeFd: 3, warn: func(string) {}}
		proc := &specs.Process{Args: []string{"true"}, ApparmorProfile: profile}
		var p nsexec.Plan
		if err := processPlan(&p, in, proc, false); err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(string(p.Bytes()), "exec berth-test")
		if has != (profile != "") {
			t.Errorf("profile %q: plan writes \"exec berth-test\": %v", profile, has)
		}
	}
}
