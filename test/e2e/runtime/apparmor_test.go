package runtime_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	// testProfile is the profile defined in testdata/apparmor/berth-test.apparmor.
	testProfile     = "berth-test"
	testProfileMode = testProfile + " (enforce)"
	// deniedFile is the one file testProfile denies.
	deniedFile    = "/etc/berth-apparmor-denied"
	deniedContent = "readable without the profile"
	appArmorFS    = "/sys/kernel/security/apparmor"
)

// appArmorUsable says why AppArmor profiles cannot be applied here, or "" when they can.
func appArmorUsable() string {
	if apparmor, _ := lsmEnabled(); !apparmor {
		return "AppArmor is not enabled in this kernel (/sys/module/apparmor/parameters/enabled is not Y); " +
			"TestLSMConfigRefused covers the error, and the pure cgroup v2 guest (hack/vm-test.sh) applies profiles"
	}
	if _, err := os.Stat(appArmorFS); err != nil {
		return "AppArmor is on but securityfs is not mounted at /sys/kernel/security"
	}
	return ""
}

// loadTestProfile loads testProfile into the kernel, replacing any older copy, and removes it
// when the test ends. It prefers the binary policy hack/vm-test.sh compiles next to the source
// (the guest has no apparmor_parser) and falls back to apparmor_parser.
func loadTestProfile(t *testing.T) {
	t.Helper()
	src := filepath.Join("testdata", "apparmor", "berth-test.apparmor")
	bin, err := os.ReadFile(src + ".bin")
	switch {
	case err == nil:
		// .replace loads a profile, or replaces one of the same name.
		if err := os.WriteFile(filepath.Join(appArmorFS, ".replace"), bin, 0); err != nil {
			t.Fatalf("load %s.bin into the kernel: %v", src, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		t.Fatal(err)
	default:
		parser, lerr := exec.LookPath("apparmor_parser")
		if lerr != nil {
			if os.Getenv("BERTH_TEST_GUEST") != "" {
				t.Fatalf("%s.bin is missing: hack/vm-test.sh should have compiled it with apparmor_parser", src)
			}
			t.Skipf("cannot load the test profile: no %s.bin and no apparmor_parser (Debian package apparmor)", src)
		}
		if out, err := exec.Command(parser, "-r", "-K", src).CombinedOutput(); err != nil {
			t.Fatalf("apparmor_parser -r %s: %v\n%s", src, err, out)
		}
	}
	t.Cleanup(func() {
		if err := os.WriteFile(filepath.Join(appArmorFS, ".remove"), []byte(testProfile), 0); err != nil {
			t.Errorf("remove AppArmor profile %s: %v", testProfile, err)
		}
	})
	if !profileLoaded(t, testProfile) {
		t.Fatalf("profile %s is not listed in %s/profiles after loading it", testProfile, appArmorFS)
	}
}

func readLabel(t *testing.T, attr string) string {
	t.Helper()
	b, err := os.ReadFile(attr)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

func profileLoaded(t *testing.T, name string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(appArmorFS, "profiles"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if n, _, ok := strings.Cut(line, " ("); ok && n == name {
			return true
		}
	}
	return false
}

// newAppArmorEnv is newEnv with deniedFile in the rootfs, readable by everyone, so that only the
// profile can deny it.
func newAppArmorEnv(t *testing.T, args ...string) *env {
	t.Helper()
	e := newEnv(t, args...)
	root := e.spec.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(e.bundle, root)
	}
	if err := os.WriteFile(filepath.Join(root, deniedFile), []byte(deniedContent+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// probe prints the process's AppArmor label, then tries deniedFile.
var probe = []string{"sh", "-c", "cat /proc/self/attr/current; cat " + deniedFile + " 2>&1; true"}

// checkProbe checks probe's output: confined by testProfile (the file denied) or unconfined.
func checkProbe(t *testing.T, what, out string, confined bool) {
	t.Helper()
	label, denied := "unconfined", deniedContent
	if confined {
		label, denied = testProfileMode, "Permission denied"
	}
	if !strings.Contains(out, label) || !strings.Contains(out, denied) {
		t.Errorf("%s: output %q, want the label %q and %q", what, out, label, denied)
	}
}

// TestAppArmor: process.apparmorProfile puts the container's process (and exec'd processes)
// under that profile from its first instruction; a profile that is not loaded, or no /proc to
// apply it through, is a clear error that creates nothing.
func TestAppArmor(t *testing.T) {
	if why := appArmorUsable(); why != "" {
		t.Skip(why)
	}
	loadTestProfile(t)

	t.Run("run", func(t *testing.T) {
		tests := []struct {
			name     string
			edit     func(*specs.Spec)
			confined bool
		}{
			{"no profile", func(*specs.Spec) {}, false},
			{"profile", func(s *specs.Spec) { s.Process.ApparmorProfile = testProfile }, true},
			{"unconfined", func(s *specs.Spec) { s.Process.ApparmorProfile = "unconfined" }, false},
			// no_new_privs and a dropped uid must not stop the change (it is written before both).
			{"profile as nobody with no_new_privs", func(s *specs.Spec) {
				s.Process.ApparmorProfile = testProfile
				s.Process.NoNewPrivileges = true
				s.Process.User = specs.User{UID: 65534, GID: 65534}
			}, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := newAppArmorEnv(t, probe...)
				tc.edit(e.spec)
				checkProbe(t, "run", e.mustRun(), tc.confined)
			})
		}
	})

	t.Run("exec", func(t *testing.T) {
		// The init is confined; exec'd processes take the container's profile (the process
		// template, as in runc), or the one --apparmor names.
		e := newAppArmorEnv(t, "sleep", "300")
		e.spec.Process.ApparmorProfile = testProfile
		e.createID(e.id)
		attr := "/proc/" + strconv.Itoa(e.stateOf(e.id).Pid) + "/attr/current"
		// Until start, the init is still the runtime waiting to exec: the profile applies at exec.
		if got := readLabel(t, attr); got != "unconfined" {
			t.Errorf("created init's label %q, want unconfined until it execs", got)
		}
		e.mustRT("start", e.id)
		deadline := time.Now().Add(10 * time.Second)
		for readLabel(t, attr) != testProfileMode && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := readLabel(t, attr); got != testProfileMode {
			t.Errorf("started init's label %q, want %q", got, testProfileMode)
		}
		checkProbe(t, "exec", e.mustRT(append([]string{"exec", e.id}, probe...)...), true)
		checkProbe(t, "exec --apparmor=unconfined",
			e.mustRT(append([]string{"exec", "--apparmor=unconfined", e.id}, probe...)...), false)

		u := newAppArmorEnv(t, "sleep", "300")
		u.createID(u.id)
		checkProbe(t, "exec in an unconfined container",
			u.mustRT(append([]string{"exec", u.id}, probe...)...), false)
		checkProbe(t, "exec --apparmor",
			u.mustRT(append([]string{"exec", "--apparmor=" + testProfile, u.id}, probe...)...), true)
		r := u.rt("exec", "--apparmor=berth-test-not-loaded", u.id, "true")
		failsCleanly(t, r, `"berth-test-not-loaded": no such AppArmor profile is loaded`)
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			edit func(*specs.Spec)
			want string
		}{
			{"not loaded", func(s *specs.Spec) { s.Process.ApparmorProfile = "berth-test-not-loaded" },
				`"berth-test-not-loaded": no such AppArmor profile is loaded`},
			{"no /proc", func(s *specs.Spec) {
				s.Process.ApparmorProfile = testProfile
				var mounts []specs.Mount
				for _, m := range s.Mounts {
					if m.Destination != "/proc" {
						mounts = append(mounts, m)
					}
				}
				s.Mounts = mounts
				s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
			}, "mounts no proc at /proc"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := newAppArmorEnv(t, "true")
				tc.edit(e.spec)
				failsCleanly(t, e.run(), tc.want)
				e.nothingCreated(e.id)
			})
		}
	})
}
