package container

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestHasLimits(t *testing.T) {
	lim := int64(1 << 20)
	tests := []struct {
		name string
		res  *specs.LinuxResources
		want bool
	}{
		{"nil", nil, false},
		{"empty", &specs.LinuxResources{}, false},
		{"devices only", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, false},
		{"empty memory section", &specs.LinuxResources{Memory: &specs.LinuxMemory{}}, false},
		{"memory limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim}}, true},
		{"pids limit", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &lim}}, true},
		{"unified", &specs.LinuxResources{Unified: map[string]string{"memory.max": "1M"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasLimits(tc.res); got != tc.want {
				t.Errorf("hasLimits = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRootlessModeFlag(t *testing.T) {
	for _, tc := range []struct {
		flag    string
		want    bool
		wantErr bool
	}{
		{"true", true, false}, {"false", false, false}, {"yes", false, true}, {"TRUE", false, true},
	} {
		got, err := RootlessMode(tc.flag)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("RootlessMode(%q) = %v, %v", tc.flag, got, err)
		}
	}
	if _, err := RootlessMode("auto"); err != nil {
		t.Errorf("RootlessMode(auto): %v", err)
	}
}

func TestCheckLSM(t *testing.T) {
	savedS, savedParam := selinuxEnabled, appArmorParam
	defer func() { selinuxEnabled, appArmorParam = savedS, savedParam }()
	appArmorParam = "/nonexistent" // AppArmor off; the other cases are in apparmor_test.go
	tests := []struct {
		name       string
		proc       *specs.Process
		mountLabel string
		enabled    bool
		want       string
	}{
		{"none", &specs.Process{}, "", false, ""},
		{"nil process", nil, "", false, ""},
		{"apparmor off", &specs.Process{ApparmorProfile: "p"}, "", false, "AppArmor is not enabled on this host"},
		{"selinux off", &specs.Process{SelinuxLabel: "l"}, "", false, "process.selinuxLabel \"l\" is set, but SELinux is not enabled"},
		{"mount label off", &specs.Process{}, "m", false, "linux.mountLabel \"m\" is set, but SELinux is not enabled"},
		{"selinux on", &specs.Process{SelinuxLabel: "l"}, "", true, "SELinux is not supported by berth-runtime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			selinuxEnabled = func() bool { return tc.enabled }
			err := checkLSM(tc.proc, tc.mountLabel)
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

func TestDefaultSpecRootlessNoIDOptions(t *testing.T) {
	for _, m := range DefaultSpec(true).Mounts {
		for _, o := range m.Options {
			if strings.HasPrefix(o, "uid=") || strings.HasPrefix(o, "gid=") {
				t.Errorf("mount %s keeps option %s, which a single-id mapping cannot satisfy", m.Destination, o)
			}
		}
	}
	if hasGID := strings.Contains(strings.Join(DefaultSpec(false).Mounts[2].Options, ","), "gid=5"); !hasGID {
		t.Errorf("the rootful spec lost devpts gid=5")
	}
}
