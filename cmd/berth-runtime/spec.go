package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/berth-dev/berth/runtime/caps"
	"github.com/berth-dev/berth/runtime/container"
)

func cmdSpec(g *globals, args []string) error {
	fs := flag.NewFlagSet("spec", flag.ContinueOnError)
	var bundle string
	var rootless bool
	fs.StringVar(&bundle, "bundle", "", "write config.json into this directory")
	fs.StringVar(&bundle, "b", "", "write config.json into this directory")
	fs.BoolVar(&rootless, "rootless", false, "a spec for a rootless container")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	s := container.DefaultSpec(rootless)
	if rootless {
		s.Linux.UIDMappings[0].HostID = uint32(os.Geteuid())
		s.Linux.GIDMappings[0].HostID = uint32(os.Getegid())
	}
	path := filepath.Join(bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("file %s exists: remove it first", path)
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o666); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func cmdFeatures(g *globals, args []string) error {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	t, f := true, false
	// Exactly the options the plan builder applies (flags, propagation, mount_setattr ones).
	mountOpts := container.MountOptions()
	feat := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  mountOpts,
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: caps.Names(),
			Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &f, SystemdUser: &f},
			Seccomp: &features.Seccomp{
				Enabled: &t,
				Actions: []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
					"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"},
				Operators: []string{"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
					"SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"},
				Archs:          []string{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"},
				KnownFlags:     []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
				SupportedFlags: []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"},
			},
			Apparmor:        &features.Apparmor{Enabled: &t}, // supported; whether the host runs it is another matter
			Selinux:         &features.Selinux{Enabled: &f},
			IntelRdt:        &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &t}},
		},
		Annotations: map[string]string{"org.berth.runtime.version": version},
	}
	b, err := json.MarshalIndent(feat, "", "    ")
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", b)
	return nil
}

var _ = errors.New
