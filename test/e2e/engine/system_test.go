package engine_test

import (
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestInfoVersion(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "busybox", "sleep", "600")
	e.must("create", "busybox", "true")
	cg := "1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg = "2"
	}
	for _, args := range [][]string{{"info"}, {"system", "info"}} {
		out := e.must(args...)
		for _, want := range []string{
			"Client:\n Version:    ", "\nServer:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 1\n Server Version: ",
			"\n Cgroup Driver: cgroupfs\n Cgroup Version: " + cg + "\n", "\n Storage Driver: ", "\n Logging Driver: json-file\n",
			"\n OSType: linux\n", "\n CPUs: ", "\n Total Memory: ", "\n Docker Root Dir: " + e.root + "\n", "\n Kernel Version: ",
			// The config table stays.
			"\nConfiguration:\nConfig file: ", "\nSnapshot driver: ", "storage.root ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, out)
			}
		}
	}
	if got := e.must("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}} {{.DockerRootDir}} {{.Storage.Root}}"); got != "2 1 1 1 "+e.root+" "+e.root {
		t.Errorf("info --format: %q", got)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(e.must("info", "--format", "json")), &j); err != nil || j["ContainersRunning"] != 1.0 || j["CgroupVersion"] != cg || j["OSType"] != "linux" {
		t.Errorf("info json: %v %v", err, j["ContainersRunning"])
	}

	out := e.must("version")
	for _, want := range []string{"Client:\n Version:  ", "\n API version:       1.50\n", "\n Go version:        " + runtime.Version() + "\n",
		"\n OS/Arch:           linux/" + runtime.GOARCH + "\n", "\nServer: Berth Engine\n Engine:\n  Version:  ", "(minimum version 1.24)", "\n  Git commit:  "} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	if got := e.must("version", "--format", "{{.Client.Version}} {{.Server.Version}} {{.Server.APIVersion}}"); strings.Count(got, " ") != 2 || !strings.HasSuffix(got, " 1.50") {
		t.Errorf("version --format: %q", got)
	}
	var v struct {
		Client, Server struct{ Version, ApiVersion, Os string }
	}
	if err := json.Unmarshal([]byte(e.must("version", "--format", "json")), &v); err != nil || v.Server.ApiVersion != "1.50" || v.Client.Os != "linux" {
		t.Errorf("version json: %v %+v", err, v)
	}
	want125(t, e, "invalid --format", "version", "--format", "{{.Client")
	want125(t, e, "--format", "version", "--format", "{{.Nope}}")
	want125(t, e, "--format", "info", "--format", "{{.Nope}}")
	want125(t, e, "unknown command", "version", "extra")
}

func TestSystemDf(t *testing.T) {
	e := newEnv(t)
	e.must("volume", "create", "unused")
	e.must("run", "-d", "--name", "up", "-v", "used:/data", "busybox", "sh", "-c", "echo hello > /data/f; sleep 600")
	e.must("run", "--name", "writer", "busybox", "sh", "-c", "dd if=/dev/zero of=/junk bs=1k count=64 2>/dev/null")
	out := e.must("system", "df")
	lines := strings.Split(out, "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" {
		t.Fatalf("df:\n%s", out)
	}
	got := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(strings.Replace(l, "Local Volumes", "Local_Volumes", 1))
		f = strings.Fields(strings.Replace(strings.Join(f, " "), "Build Cache", "Build_Cache", 1))
		got[f[0]] = f[1:]
	}
	if g := got["Images"]; len(g) != 5 || g[0] != "1" || g[1] != "1" || g[3] != "0B" {
		t.Errorf("Images row %v", g)
	}
	// The stopped writer's 64 KiB are reclaimable.
	if g := got["Containers"]; len(g) != 5 || g[0] != "2" || g[1] != "1" || g[3] == "0B" || !strings.HasPrefix(g[4], "(") {
		t.Errorf("Containers row %v", g)
	}
	if g := got["Local_Volumes"]; len(g) < 4 || g[0] != "2" || g[1] != "1" {
		t.Errorf("Local Volumes row %v", g)
	}
	if g := got["Build_Cache"]; strings.Join(g, " ") != "0 0 0B 0B" {
		t.Errorf("Build Cache row %v", g)
	}
	if got := e.must("system", "df", "--format", "{{.Type}}={{.TotalCount}}/{{.Active}}"); got != "Images=1/1\nContainers=2/1\nLocal Volumes=2/1\nBuild Cache=0/0" {
		t.Errorf("df --format: %q", got)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(strings.Split(e.must("system", "df", "--format", "json"), "\n")[1]), &row); err != nil || row["Type"] != "Containers" || row["TotalCount"] != "2" {
		t.Errorf("df json: %v %v", err, row)
	}
	out = e.must("system", "df", "-v")
	for _, want := range []string{"Images space usage:\n\nREPOSITORY ", "\nbusybox ", "\nContainers space usage:\n\nCONTAINER ID ", " writer\n",
		"\nLocal Volumes space usage:\n\nVOLUME NAME ", "\nused ", "\nunused ", "\nBuild cache usage: 0B\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("df -v lacks %q:\n%s", want, out)
		}
	}
	want125(t, e, "invalid --format", "system", "df", "--format", "{{.Type")
	want125(t, e, "unknown", "system", "df", "extra")
}
