package layercheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/berth-dev/berth"

// repoRoot is the module's root: two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

func rules(t *testing.T) *Rules {
	t.Helper()
	r, err := LoadRules(filepath.Join(repoRoot(t), "layers.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLayers checks the module as it is.
func TestLayers(t *testing.T) {
	r := rules(t)
	pkgs, err := List(repoRoot(t), "", "./...")
	if err != nil {
		t.Fatal(err)
	}
	violations, unused := r.Check(module, pkgs)
	for _, v := range violations {
		t.Error(v)
	}
	// A stale [[allow]] is no error (another branch may still need it),
	// but it should go once nothing needs it.
	for _, a := range unused {
		t.Logf("layers.toml: [[allow]] %s -> %s is used by no import; remove it", a.From, a.To)
	}
	// The future folders are on the map before their code arrives.
	for _, c := range []string{"engine", "monitor", "network", "build", "api/docker", "api/cri", "image", "snapshot", "runtime", "cmd/berth", "cmd/berth-runtime"} {
		if got, ok := r.component(c + "/x"); !ok || got.name != c {
			t.Errorf("layers.toml: no component %s (got %+v)", c, got)
		}
	}
}

// TestPlantedImports runs the real check on the real tree with files
// planted through a go list overlay: each must be rejected.
func TestPlantedImports(t *testing.T) {
	root := repoRoot(t)
	r := rules(t)
	tests := []struct {
		name, dir, pkg, imp string
		want                string
	}{
		{"runtime imports engine", "runtime/caps", "caps", module + "/engine/config",
			"runtime/caps imports engine/config: runtime (layer runtime) is below engine (layer engine)"},
		{"unlisted sideways import", "snapshot/copy", "copy", module + "/image/reference",
			"snapshot/copy imports image/reference: sideways import between snapshot and image (layer services) not listed"},
		{"berth-runtime depends on net/http", "runtime/hooks", "hooks", "net/http",
			"cmd/berth-runtime imports net/http: forbidden dependency (cmd/berth-runtime -> runtime/container -> runtime/hooks -> net/http)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			planted := filepath.Join(tmp, "planted.go")
			src := "package " + tc.pkg + "\n\nimport _ \"" + tc.imp + "\"\n"
			if err := os.WriteFile(planted, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			overlay := filepath.Join(tmp, "overlay.json")
			b, _ := json.Marshal(map[string]any{"Replace": map[string]string{
				filepath.Join(root, tc.dir, "zz_planted_layercheck.go"): planted,
			}})
			if err := os.WriteFile(overlay, b, 0o644); err != nil {
				t.Fatal(err)
			}
			pkgs, err := List(root, overlay, "./...")
			if err != nil {
				t.Fatal(err)
			}
			violations, _ := r.Check(module, pkgs)
			var got []string
			for _, v := range violations {
				got = append(got, v.String())
			}
			if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, tc.want) }) {
				t.Errorf("violations %q\nlack %q", got, tc.want)
			}
		})
	}
	// The planted files never touched the tree.
	for _, tc := range tests {
		if _, err := os.Stat(filepath.Join(root, tc.dir, "zz_planted_layercheck.go")); !os.IsNotExist(err) {
			t.Errorf("%s: planted file is in the tree: %v", tc.dir, err)
		}
	}
}

// TestCheckGraph runs the checker on synthetic graphs.
func TestCheckGraph(t *testing.T) {
	r := &Rules{
		Layers: []Layer{
			{Name: "runtime", Components: []string{"runtime"}},
			{Name: "services", Components: []string{"image", "snapshot"}},
			{Name: "engine", Components: []string{"engine"}},
			{Name: "cmd", Components: []string{"cmd/berth", "cmd/berth-runtime"}},
			{Name: "tools", Components: []string{"test", "snapshot/snapshottest"}, Open: true},
		},
		Allow: []Allow{{From: "image", To: "snapshot/archive", Why: "extraction"}, {From: "image", To: "snapshot/unused", Why: "stale"}},
		Deny:  []Deny{{Package: "cmd/berth-runtime", Deps: []string{"net/http", "github.com/spf13/cobra"}, Why: "start-up"}},
	}
	if err := r.validate(); err != nil {
		t.Fatal(err)
	}
	m := func(p string) string { return module + "/" + p }
	pkgs := []Package{
		{m("runtime/container"), []string{m("runtime/caps"), "fmt"}},                         // own component
		{m("runtime/caps"), nil},                                                             //
		{m("image/store"), []string{m("runtime/caps"), m("snapshot/archive"), m("image/x")}}, // lower, allowed sideways, own
		{m("image/x"), nil},
		{m("snapshot/archive"), nil},
		{m("snapshot/copy"), []string{m("image/store")}},                         // sideways, not listed
		{m("runtime/hooks"), []string{m("engine/config")}},                       // upward
		{m("engine/config"), []string{m("image/store")}},                         // downward
		{m("misc/tool"), nil},                                                    // no component
		{m("cmd/berth"), []string{m("engine/config"), m("nowhere/pkg")}},         // imports a package in no component
		{m("cmd/berth-runtime"), []string{m("runtime/container"), "os"}},         //
		{m("nowhere/pkg"), nil},                                                  //
		{m("snapshot/snapshottest"), []string{m("test/fixture"), m("snapshot")}}, // open layer, lower layer
		{m("test/fixture"), nil},
		{m("snapshot"), []string{m("snapshot/snapshottest")}}, // a service importing a test suite
		{"os", nil},             //
		{"fmt", []string{"os"}}, //
		{"github.com/spf13/cobra", []string{"fmt"}},                      //
		{m("cmd/berth-runtime") + "/internal/cli", []string{"net/http"}}, // not reached from cmd/berth-runtime
	}
	// A chain through the module reaches cobra.
	pkgs[0].Imports = append(pkgs[0].Imports, m("runtime/cli"))
	pkgs = append(pkgs, Package{m("runtime/cli"), []string{"github.com/spf13/cobra"}})

	violations, unused := r.Check(module, pkgs)
	var got []string
	for _, v := range violations {
		got = append(got, v.String())
	}
	want := []string{
		"snapshot/copy imports image/store: sideways import between snapshot and image (layer services) not listed under [[allow]]",
		"runtime/hooks imports engine/config: runtime (layer runtime) is below engine (layer engine)",
		"misc/tool: in no component of layers.toml",
		"cmd/berth imports nowhere/pkg: imported package is in no component of layers.toml",
		"nowhere/pkg: in no component of layers.toml",
		"snapshot imports snapshot/snapshottest: snapshot (layer services) is below snapshot/snapshottest (layer tools)",
		"cmd/berth-runtime imports github.com/spf13/cobra: forbidden dependency (cmd/berth-runtime -> runtime/container -> runtime/cli -> github.com/spf13/cobra): start-up",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(unused) != 1 || unused[0].To != "snapshot/unused" {
		t.Errorf("unused allows: %+v", unused)
	}
}

// TestBadRules: a rules file that breaks its own rules is refused.
func TestBadRules(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown key", "[[layer]]\nname = \"a\"\ncomponent = [\"a\"]\n", "layers.toml:3:1: layer.component: unknown key"},
		{"twice", "[[layer]]\nname = \"a\"\ncomponents = [\"a\"]\n[[layer]]\nname = \"b\"\ncomponents = [\"a\"]\n", `component "a" is listed twice`},
		{"not sideways", "[[layer]]\nname = \"a\"\ncomponents = [\"a\"]\n[[layer]]\nname = \"b\"\ncomponents = [\"b\"]\n[[allow]]\nfrom = \"a\"\nto = \"b\"\nwhy = \"x\"\n", "not sideways"},
		{"no why", "[[layer]]\nname = \"a\"\ncomponents = [\"a\", \"b\"]\n[[allow]]\nfrom = \"a\"\nto = \"b\"\n", "say why"},
		{"outside", "[[layer]]\nname = \"a\"\ncomponents = [\"a\"]\n[[allow]]\nfrom = \"a\"\nto = \"c\"\nwhy = \"x\"\n", "both ends"},
		{"bad component", "[[layer]]\nname = \"a\"\ncomponents = [\"a/\"]\n", "bad component"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "layers.toml")
			if err := os.WriteFile(p, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadRules(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
