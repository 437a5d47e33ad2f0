package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Where AppArmor shows itself; variables so that unit tests can point them at a fake tree.
var (
	appArmorParam = "/sys/module/apparmor/parameters/enabled"
	appArmorFS    = "/sys/kernel/security/apparmor"
	// appArmorAttrDir is where the process's own AppArmor attributes live on the host; the
	// container's /proc shows the same kernel interface, so it also decides the path used there.
	appArmorAttrDir = "/proc/self/attr"
)

// appArmorUnconfined is the kernel's built-in label: it needs no loaded profile.
const appArmorUnconfined = "unconfined"

// appArmorOn reports whether the kernel runs AppArmor (the module parameter).
func appArmorOn() bool {
	b, err := os.ReadFile(appArmorParam)
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// checkAppArmorProfile makes sure profile can be applied: AppArmor is on, its securityfs
// interface is mounted and the profile is loaded. Failing here, before anything is created,
// beats the container process failing its exec with a bare ENOENT from the kernel.
func checkAppArmorProfile(profile string) error {
	if !appArmorOn() {
		return fmt.Errorf("process.apparmorProfile %q is set, but AppArmor is not enabled on this host", profile)
	}
	if _, err := os.Stat(appArmorFS); err != nil {
		return fmt.Errorf("process.apparmorProfile %q is set, but AppArmor's interface %s is missing (mount securityfs at /sys/kernel/security): %w",
			profile, appArmorFS, err)
	}
	if strings.ContainsAny(profile, "\n\x00") {
		return fmt.Errorf("process.apparmorProfile %q: invalid profile name", profile)
	}
	// Policy namespaces (":ns:name") and stacks ("a//&b") are resolved by the kernel alone.
	if profile == appArmorUnconfined || strings.HasPrefix(profile, ":") || strings.Contains(profile, "//&") {
		return nil
	}
	loaded, err := appArmorLoaded(profile)
	if err != nil {
		return fmt.Errorf("process.apparmorProfile %q: %w", profile, err)
	}
	if !loaded {
		return fmt.Errorf("process.apparmorProfile %q: no such AppArmor profile is loaded (load it with apparmor_parser first)", profile)
	}
	return nil
}

// appArmorLoaded looks profile up in the kernel's list of loaded profiles, whose lines read
// "NAME (MODE)".
func appArmorLoaded(profile string) (bool, error) {
	f, err := os.Open(filepath.Join(appArmorFS, "profiles"))
	if err != nil {
		return false, fmt.Errorf("list loaded AppArmor profiles: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndex(line, " (")
		if i < 0 {
			continue
		}
		if line[:i] == profile {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("list loaded AppArmor profiles: %w", err)
	}
	return false, nil
}

// appArmorExecAttr is the file a process writes "exec PROFILE" to so that its next execve
// changes onto PROFILE: the LSM-specific file of kernels 5.8 and later (which works with other
// LSMs stacked in front of AppArmor), else the shared one.
func appArmorExecAttr() string {
	p := filepath.Join(appArmorAttrDir, "apparmor", "exec")
	if _, err := os.Stat(p); err == nil {
		return "/proc/self/attr/apparmor/exec"
	}
	return "/proc/self/attr/exec"
}

// appArmorNeedsProc refuses a container that sets an AppArmor profile but mounts no proc at
// /proc: the profile change goes through /proc/self/attr after pivot_root.
func appArmorNeedsProc(spec *specs.Spec) error {
	if spec.Process == nil || spec.Process.ApparmorProfile == "" {
		return nil
	}
	if ns, ok := hasNS(spec, specs.MountNamespace); ok && ns.Path != "" {
		return nil // a joined mount namespace is its owner's: checked at exec time in the child
	}
	for _, m := range spec.Mounts {
		if m.Type == "proc" && filepath.Clean(m.Destination) == "/proc" {
			return nil
		}
	}
	return fmt.Errorf("process.apparmorProfile %q is set, but the container mounts no proc at /proc, through which the profile is applied", spec.Process.ApparmorProfile)
}

// appArmorProcMounted checks that the running container whose init is pid sees a procfs at
// /proc, before an exec'd process tries to apply its profile there.
func appArmorProcMounted(pid int, profile string) error {
	var st unix.Statfs_t
	err := unix.Statfs(fmt.Sprintf("/proc/%d/root/proc", pid), &st)
	if err == nil && st.Type != unix.PROC_SUPER_MAGIC {
		err = errors.New("not a proc file system")
	}
	if err != nil {
		return fmt.Errorf("process.apparmorProfile %q is set, but the container has no proc at /proc, through which the profile is applied: %w", profile, err)
	}
	return nil
}
