package container

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStateKeepsSpec: the config is saved as read, decoded only when a
// command needs it, and encoded again once changed (update).
func TestStateKeepsSpec(t *testing.T) {
	root := t.TempDir()
	raw := []byte(`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},
		"hooks":{"poststop":[{"path":"/bin/true"}]},"linux":{"namespaces":[{"type":"pid"}]},
		"windows":{"layerFolders":["C:\\x"]}}`)
	spec, err := decodeSpec(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "c1"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &Container{root: root, dir: filepath.Join(root, "c1"), s: saved{ID: "c1", Spec: spec, RawSpec: raw, Hooks: spec.Hooks}}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}

	got, err := Load(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.s.Spec != nil {
		t.Error("Load decoded the spec")
	}
	if got.s.Hooks == nil || len(got.s.Hooks.Poststop) != 1 {
		t.Errorf("hooks not kept: %+v", got.s.Hooks)
	}
	s, err := got.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if s.Process.Args[0] != "sh" || s.Linux.Namespaces[0].Type != specs.PIDNamespace {
		t.Errorf("spec after load: %+v", s)
	}

	// A change is encoded by the next save.
	s.Hostname = "changed"
	got.s.RawSpec = nil
	if err := got.save(); err != nil {
		t.Fatal(err)
	}
	again, err := Load(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := again.Spec(); err != nil || s.Hostname != "changed" {
		t.Errorf("changed spec not saved: %v %+v", err, s)
	}

	// A corrupt config in the state is an error, not a panic.
	again.s.Spec, again.s.RawSpec = nil, []byte(`{"process": 5}`)
	if _, err := again.Spec(); err == nil {
		t.Error("corrupt config decoded")
	}
}
