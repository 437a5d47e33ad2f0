package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
)

func TestPrintVolumes(t *testing.T) {
	created := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	vs := []engine.Volume{
		{Name: "data", Driver: "local", Scope: "local", Mountpoint: "/r/volumes/data/_data", CreatedAt: created,
			Labels: map[string]string{"b": "2", "a": "1"}},
		{Name: "x1", Driver: "local", Scope: "local", Mountpoint: "/r/volumes/x1/_data", CreatedAt: created},
	}
	tests := []struct {
		name, format string
		quiet        bool
		want         string
	}{
		{"default", "", false, "DRIVER    VOLUME NAME\nlocal     data\nlocal     x1\n"},
		{"table", "table", false, "DRIVER    VOLUME NAME\nlocal     data\nlocal     x1\n"},
		{"quiet", "", true, "data\nx1\n"},
		{"quiet wins", "{{.Driver}}", true, "data\nx1\n"},
		{"fields", "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels}} {{.CreatedAt}}", false,
			"data local local /r/volumes/data/_data a=1,b=2 2026-12-03T10:00:00Z\nx1 local local /r/volumes/x1/_data  2026-12-03T10:00:00Z\n"},
		{"label", `{{.Label "b"}}|{{.Size}}`, false, "2|N/A\n|N/A\n"},
		{"escaped tab", `table {{.Name}}\t{{.Labels}}`, false, "VOLUME NAME   LABELS\ndata          a=1,b=2\nx1            \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printVolumes(&out, vs, tc.format, tc.quiet); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), tc.want)
			}
		})
	}
	var out bytes.Buffer
	if err := printVolumes(&out, vs[:1], "json", false); err != nil {
		t.Fatal(err)
	}
	var row map[string]string
	if err := json.Unmarshal(out.Bytes(), &row); err != nil {
		t.Fatal(err)
	}
	if row["Name"] != "data" || row["Labels"] != "a=1,b=2" || row["Driver"] != "local" || row["Links"] != "N/A" {
		t.Errorf("json row %v", row)
	}
	if err := printVolumes(&out, vs, "{{.Nope}}", false); err == nil {
		t.Error("unknown field printed")
	}
}

func TestVolumeInspectOutput(t *testing.T) {
	vs := []engine.Volume{{Name: "data", Driver: "local", Scope: "local", Mountpoint: "/m",
		CreatedAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Anonymous: true,
		Labels: map[string]string{}, Options: map[string]string{}}}
	var out bytes.Buffer
	if err := printVolumeInspect(&out, vs, ""); err != nil {
		t.Fatal(err)
	}
	want := `[
    {
        "CreatedAt": "2026-12-03T10:00:00Z",
        "Driver": "local",
        "Labels": {},
        "Mountpoint": "/m",
        "Name": "data",
        "Options": {},
        "Scope": "local"
    }
]
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if err := printVolumeInspect(&out, vs, "{{.Name}} {{.CreatedAt}} {{json .Labels}}"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "data 2026-12-03T10:00:00Z {}\n" {
		t.Errorf("template: %q", out.String())
	}
	out.Reset()
	if err := printVolumeInspect(&out, nil, ""); err != nil || out.String() != "[]\n" {
		t.Errorf("none: %q, %v", out.String(), err)
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"y\n", true}, {"Y\n", true}, {"yes\n", true}, {" YES \n", true}, {"y", true},
		{"n\n", false}, {"\n", false}, {"", false}, {"yess\n", false}, {"no\ny\n", false},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		got, err := confirm(strings.NewReader(tc.in), &out, "Sure?")
		if err != nil || got != tc.want {
			t.Errorf("confirm(%q) = %v, %v", tc.in, got, err)
		}
		if out.String() != "Sure? [y/N] " {
			t.Errorf("prompt %q", out.String())
		}
	}
}

func TestKeyValues(t *testing.T) {
	got, err := keyValues("--label", []string{"a=1", "b", "c=x=y", "a=2"})
	if err != nil || len(got) != 3 || got["a"] != "2" || got["b"] != "" || got["c"] != "x=y" {
		t.Errorf("%v %v", got, err)
	}
	if m, err := keyValues("--label", nil); m != nil || err != nil {
		t.Error("no flags gave a map")
	}
	if _, err := keyValues("--label", []string{"=v"}); err == nil {
		t.Error("an empty key was taken")
	}
}

func TestPrintPruned(t *testing.T) {
	var out bytes.Buffer
	printPruned(&out, []string{"a", "b"}, 1234)
	if want := "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 1.23kB\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	out.Reset()
	printPruned(&out, nil, 0)
	if want := "Total reclaimed space: 0B\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// volRun runs the CLI in-process on a root of the test's own, with stdin.
func volRun(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	for _, k := range []string{"BERTH_CONFIG", "BERTH_ROOT", "BERTH_RUNROOT", "BERTH_SNAPSHOTTER", "BERTH_RUNTIME"} {
		t.Setenv(k, env[k])
	}
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestVolumeCommands(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	env := map[string]string{"BERTH_CONFIG": "/dev/null", "BERTH_ROOT": root, "BERTH_RUNROOT": filepath.Join(dir, "run")}
	steps := []struct {
		args    []string
		stdin   string
		want    string // stdout; "*" skips the check
		wantErr string
	}{
		{[]string{"volume", "create", "v1"}, "", "v1\n", ""},
		{[]string{"volume", "create", "--label", "app=web", "--label", "tier", "v2"}, "", "v2\n", ""},
		{[]string{"volume", "create", "--name", "v3"}, "", "v3\n", ""},
		{[]string{"volume", "create", "v1"}, "", "v1\n", ""}, // idempotent
		{[]string{"volume", "create", "--name", "a1", "b1"}, "", "", "conflicting options"},
		{[]string{"volume", "create", "-o", "type=tmpfs", "v4"}, "", "", "volume options are not supported yet"},
		{[]string{"volume", "create", "--driver", "nfs", "v4"}, "", "", `volume driver "nfs" is not supported`},
		{[]string{"volume", "create", "x"}, "", "", "invalid characters"},
		{[]string{"volume", "create"}, "", "*", ""},
		{[]string{"volume", "ls", "--filter", "label=app"}, "", "DRIVER    VOLUME NAME\nlocal     v2\n", ""},
		{[]string{"volume", "list", "-q", "--filter", "name=v"}, "", "v1\nv2\nv3\n", ""},
		{[]string{"volume", "ls", "--format", "{{.Name}}={{.Labels}}", "-f", "label=tier"}, "", "v2=app=web,tier=\n", ""},
		{[]string{"volume", "ls", "--filter", "bogus=1"}, "", "", "invalid filter"},
		{[]string{"volume", "inspect", "--format", "{{.Name}} {{.Mountpoint}}", "v1"}, "", "v1 " + filepath.Join(root, "volumes", "v1", "_data") + "\n", ""},
		{[]string{"volume", "inspect", "-f", "{{.Name}}", "v1", "nope", "v3"}, "", "v1\nv3\n", "no such volume: nope"},
		{[]string{"volume", "rm", "v3", "nope", "v2"}, "", "v3\nv2\n", "no such volume: nope"},
		{[]string{"volume", "rm", "-f", "nope"}, "", "nope\n", ""},
		{[]string{"volume", "remove", "v3"}, "", "", "no such volume: v3"},
		{[]string{"volume", "prune"}, "n\n", "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ", ""},
		{[]string{"volume", "prune", "--filter", "name=x", "-f"}, "", "", "only label"},
		{[]string{"volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"}, "", "*", ""},
	}
	var anon string
	for _, s := range steps {
		out, _, err := volRun(t, env, s.stdin, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("%v: err = %v, want %q", s.args, err, s.wantErr)
			}
		} else if err != nil {
			t.Errorf("%v: %v", s.args, err)
		}
		if s.want != "*" && out != s.want {
			t.Errorf("%v: stdout %q, want %q", s.args, out, s.want)
		}
		if len(s.args) == 2 && s.args[1] == "create" {
			anon = strings.TrimSpace(out)
		}
		if s.args[1] == "ls" && s.want == "*" && strings.TrimSpace(out) != anon {
			t.Errorf("anonymous volumes %q, want %q", out, anon)
		}
	}
	if len(anon) != 64 {
		t.Fatalf("anonymous volume name %q", anon)
	}
	if err := os.WriteFile(filepath.Join(root, "volumes", anon, "_data", "f"), make([]byte, 1500), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := volRun(t, env, "y\n", "volume", "prune")
	want := "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] " +
		"Deleted Volumes:\n" + anon + "\n\nTotal reclaimed space: 1.5kB\n"
	if err != nil || out != want {
		t.Errorf("prune: %v\n%q\nwant\n%q", err, out, want)
	}
	out, _, err = volRun(t, env, "", "volume", "prune", "-a", "-f")
	if want := "Deleted Volumes:\nv1\n\nTotal reclaimed space: 0B\n"; err != nil || out != want {
		t.Errorf("prune -a: %v, %q", err, out)
	}
	out, _, err = volRun(t, env, "", "volume", "ls")
	if err != nil || out != "DRIVER    VOLUME NAME\n" {
		t.Errorf("ls after prune: %v, %q", err, out)
	}
}
