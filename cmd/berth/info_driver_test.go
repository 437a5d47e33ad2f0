package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestInfoSnapshotDriver(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	env := map[string]string{"BERTH_CONFIG": "/dev/null", "BERTH_ROOT": root, "BERTH_RUNROOT": filepath.Join(dir, "run")}
	tests := []struct {
		name, snapshotter string
		args              []string
		want              string
	}{
		{"named by env", "vfs", []string{"info"}, "\nSnapshot driver: copy (storage.driver (env BERTH_SNAPSHOTTER))\n\n"},
		{"recorded", "", []string{"info"}, "\nSnapshot driver: copy (storage.driver (env BERTH_SNAPSHOTTER); recorded in " + filepath.Join(root, "meta.db") + " on "},
		{"template", "", []string{"info", "--format", "{{.SnapshotDriver.Name}}"}, "copy\n"},
		{"json", "", []string{"info", "--format", "json"}, `"SnapshotDriver": {` + "\n" + `        "Name": "copy",`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env["BERTH_SNAPSHOTTER"] = tc.snapshotter
			out, err := runBerth(t, env, tc.args...)
			if err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("%v: %v\n%s\nwant %q", tc.args, err, out, tc.want)
			}
		})
	}
}
