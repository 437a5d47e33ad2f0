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
	if h := got.hooks(); h == nil || len(h.Poststop) != 1 {
		t.Errorf("hooks not kept: %+v", h)
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

// TestStateWithoutHooksKey: a state written by an older binary has no "hooks" key; its hooks are
// read from the saved config, so start and delete still run poststart and poststop. A state
// saying "hooks": null (no hooks) does not decode the config.
func TestStateWithoutHooksKey(t *testing.T) {
	root := t.TempDir()
	for name, state := range map[string]string{
		"old":   `{"id":"old","config":{"process":{"args":["sh"]},"hooks":{"poststop":[{"path":"/bin/true"}],"poststart":[{"path":"/bin/false"}]}}}`,
		"none":  `{"id":"none","config":{"process":{"args":["sh"]},"hooks":{"poststop":[{"path":"/bin/true"}]}},"hooks":null}`,
		"empty": `{"id":"empty","config":{"process":{"args":["sh"]}}}`,
	} {
		if err := os.MkdirAll(filepath.Join(root, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name, stateFile), []byte(state), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old, err := Load(root, "old")
	if err != nil {
		t.Fatal(err)
	}
	if h := old.hooks(); h == nil || len(h.Poststop) != 1 || len(h.Poststart) != 1 {
		t.Fatalf("hooks of a state without the key: %+v", h)
	}
	// Saved again, the state carries them itself.
	if err := old.save(); err != nil {
		t.Fatal(err)
	}
	again, err := Load(root, "old")
	if err != nil {
		t.Fatal(err)
	}
	if string(again.s.HooksJSON) == "" {
		t.Error("saved state has no hooks key")
	}
	if h := again.hooks(); h == nil || len(h.Poststop) != 1 || again.s.Spec != nil {
		t.Errorf("after save: hooks %+v (spec decoded: %v)", h, again.s.Spec != nil)
	}
	none, err := Load(root, "none")
	if err != nil {
		t.Fatal(err)
	}
	if h := none.hooks(); h != nil || none.s.Spec != nil {
		t.Errorf(`"hooks": null gave hooks %+v (spec decoded: %v)`, h, none.s.Spec != nil)
	}
	empty, err := Load(root, "empty")
	if err != nil {
		t.Fatal(err)
	}
	if h := empty.hooks(); h != nil {
		t.Errorf("hooks of a config without any: %+v", h)
	}
}

// TestLoadSpecTrailingData: data after the config's JSON value is ignored, and the state keeps
// only the value (encoding the state with the rest would fail).
func TestLoadSpecTrailingData(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	value := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"}]}}`
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(value+"\n}} trailing {"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, raw, err := loadSpec(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != value {
		t.Errorf("kept %q, want %q", raw, value)
	}
	c := &Container{root: t.TempDir(), s: saved{ID: "x", RawSpec: raw}}
	c.dir = c.root
	if err := c.save(); err != nil {
		t.Errorf("save: %v", err)
	}
}
