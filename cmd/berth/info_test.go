package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runBerth runs the CLI in-process with an environment of its own: every
// BERTH_* variable the config reads is cleared, then env is applied.
func runBerth(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	for _, k := range []string{"BERTH_CONFIG", "BERTH_ROOT", "BERTH_RUNROOT", "BERTH_SNAPSHOTTER", "BERTH_RUNTIME",
		"BERTH_CERTS_DIR", "BERTH_DOCKER_SOCKET", "BERTH_CRI_SOCKET"} {
		t.Setenv(k, env[k])
	}
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestInfoSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "berth.toml")
	fileRoot, envRoot, flagRoot := filepath.Join(dir, "file-root"), filepath.Join(dir, "env-root"), filepath.Join(dir, "flag-root")
	runRoot := filepath.Join(dir, "run")
	doc := "[storage]\nroot = \"" + fileRoot + "\"\n[log]\nmax_size = \"10m\"\n"
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `{{.Storage.Root}} {{.Source "storage.root"}}`
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"file via BERTH_CONFIG", map[string]string{"BERTH_CONFIG": file}, nil, fileRoot + " file " + file},
		{"file via --config", nil, []string{"--config", file}, fileRoot + " file " + file},
		{"env over file", map[string]string{"BERTH_CONFIG": file, "BERTH_ROOT": envRoot}, nil, envRoot + " env BERTH_ROOT"},
		{"flag over env", map[string]string{"BERTH_CONFIG": file, "BERTH_ROOT": envRoot}, []string{"--root", flagRoot}, flagRoot + " flag --root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runBerth(t, tc.env, append(tc.args, "info", "--format", src)...)
			if err != nil {
				t.Fatal(err)
			}
			if out != tc.want+"\n" {
				t.Errorf("info = %q, want %q", out, tc.want)
			}
		})
	}

	// The table names the file and every source; --runroot moves the
	// sockets along.
	out, err := runBerth(t, map[string]string{"BERTH_CONFIG": file}, "--runroot", runRoot, "info")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Config file: " + file + "\n",
		"log.max_size ", "10MiB", "file " + file,
		"storage.runroot ", "flag --runroot",
		filepath.Join(runRoot, "docker.sock"), "default (under storage.runroot)",
		"network.dns_upstream ", "[]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}

	// JSON carries the sections and the rows.
	out, err = runBerth(t, map[string]string{"BERTH_CONFIG": file}, "info", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		ConfigFile string
		Storage    struct{ Root string }
		Log        struct{ MaxSize int64 }
		Values     []struct {
			Key    string
			Value  any
			Source string
		}
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if j.ConfigFile != file || j.Storage.Root != fileRoot || j.Log.MaxSize != 10<<20 || len(j.Values) == 0 || j.Values[0].Key != "storage.root" || j.Values[0].Source != "file "+file {
		t.Errorf("info json: %+v", j)
	}

	// Rows through a table template.
	out, err = runBerth(t, map[string]string{"BERTH_CONFIG": file}, "info", "--format", "table {{.Key}}\t{{.Source}}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "KEY ") || !strings.Contains(out, "\nstorage.root ") {
		t.Errorf("table: %q", out)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[storage]\nroot = \"/x\"\nrunrot = \"/y\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown key, any command", nil, []string{"--config", bad, "images"}, bad + ":3:1: storage.runrot: unknown key"},
		{"missing named file", map[string]string{"BERTH_CONFIG": filepath.Join(dir, "none.toml"), "BERTH_ROOT": dir}, []string{"info"}, "none.toml"},
		{"empty --config", nil, []string{"--config", "", "info"}, "--config: empty file name"},
		{"relative --root", nil, []string{"--config", os.DevNull, "--root", "rel", "info"}, `flag --root: storage.root: "rel"`},
		{"relative BERTH_RUNROOT", map[string]string{"BERTH_RUNROOT": "rel", "BERTH_CONFIG": os.DevNull, "BERTH_ROOT": dir}, []string{"info"}, `env BERTH_RUNROOT: storage.runroot`},
		{"bad template", map[string]string{"BERTH_CONFIG": os.DevNull, "BERTH_ROOT": dir}, []string{"info", "--format", "{{.Nope"}, "invalid --format"},
		{"bad field", map[string]string{"BERTH_CONFIG": os.DevNull, "BERTH_ROOT": dir}, []string{"info", "--format", "{{.Nope}}"}, "--format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runBerth(t, tc.env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
