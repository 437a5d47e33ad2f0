// Package layercheck keeps the layer map of DESIGN.md true: it reads the
// rules in the repository's layers.toml and checks an import graph (from
// `go list -deps`) against them. Its test runs the check on the module.
package layercheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Rules is layers.toml.
type Rules struct {
	Layers []Layer `toml:"layer"`
	Allow  []Allow `toml:"allow"`
	Deny   []Deny  `toml:"deny"`
}

// Layer is one level of the map, lowest first in the file.
type Layer struct {
	Name string `toml:"name"`
	// Components are path prefixes relative to the module.
	Components []string `toml:"components"`
	// Open lets the layer's components import one another freely (tests
	// and tools); elsewhere each sideways import is listed.
	Open bool `toml:"open"`
}

// Allow is one sideways import between two components of one layer: any
// package at or below From may import the package To (that one only).
type Allow struct {
	From string `toml:"from"`
	To   string `toml:"to"`
	Why  string `toml:"why"`
}

// Deny forbids Package to depend, even transitively, on Deps.
type Deny struct {
	Package string   `toml:"package"`
	Deps    []string `toml:"deps"`
	Why     string   `toml:"why"`
}

// Package is one node of the import graph: an import path and the imports
// of its non-test files.
type Package struct {
	ImportPath string
	Imports    []string
}

// LoadRules reads and checks a rules file.
func LoadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Rules
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			var errs []error
			for _, e := range strict.Errors {
				row, col := e.Position()
				errs = append(errs, fmt.Errorf("%s:%d:%d: %s: unknown key", path, row, col, strings.Join(e.Key(), ".")))
			}
			return nil, errors.Join(errs...)
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: %w", path, row, col, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func (r *Rules) validate() error {
	seen := map[string]bool{}
	for _, l := range r.Layers {
		for _, c := range l.Components {
			if c == "" || strings.HasPrefix(c, "/") || strings.HasSuffix(c, "/") {
				return fmt.Errorf("layer %s: bad component %q", l.Name, c)
			}
			if seen[c] {
				return fmt.Errorf("component %q is listed twice", c)
			}
			seen[c] = true
		}
	}
	for _, a := range r.Allow {
		from, ok1 := r.component(a.From)
		to, ok2 := r.component(a.To)
		if !ok1 || !ok2 {
			return fmt.Errorf("allow %s -> %s: both ends must be in a component", a.From, a.To)
		}
		if from.layer != to.layer || from.name == to.name {
			return fmt.Errorf("allow %s -> %s: not sideways (%s in %s, %s in %s): only imports between two components of one layer are listed",
				a.From, a.To, from.name, r.Layers[from.layer].Name, to.name, r.Layers[to.layer].Name)
		}
		if a.Why == "" {
			return fmt.Errorf("allow %s -> %s: say why", a.From, a.To)
		}
	}
	for _, d := range r.Deny {
		if d.Package == "" || len(d.Deps) == 0 {
			return fmt.Errorf("deny: want a package and its forbidden deps")
		}
	}
	return nil
}

type component struct {
	name  string
	layer int
}

// component finds the component of a path relative to the module.
func (r *Rules) component(rel string) (component, bool) {
	best, found := component{}, false
	for i, l := range r.Layers {
		for _, c := range l.Components {
			if under(rel, c) && len(c) > len(best.name) {
				best, found = component{c, i}, true
			}
		}
	}
	return best, found
}

// under tells whether path is prefix or below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// Violation is one broken rule.
type Violation struct {
	Package string // relative to the module, or the full path outside it
	Import  string
	Rule    string
}

func (v Violation) String() string {
	if v.Import == "" {
		return v.Package + ": " + v.Rule
	}
	return v.Package + " imports " + v.Import + ": " + v.Rule
}

// Check checks the graph of module's packages; pkgs must hold every
// package reachable from them (go list -deps) for the deny rules to see
// indirect dependencies. It also returns the allow rules no import used.
func (r *Rules) Check(module string, pkgs []Package) (violations []Violation, unused []Allow) {
	rel := func(p string) (string, bool) {
		if p == module {
			return ".", true
		}
		s, ok := strings.CutPrefix(p, module+"/")
		return s, ok
	}
	used := make([]bool, len(r.Allow))
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		fc, ok := r.component(from)
		if !ok {
			violations = append(violations, Violation{Package: from, Rule: "in no component of layers.toml"})
			continue
		}
		for _, imp := range p.Imports {
			to, ok := rel(imp)
			if !ok {
				continue
			}
			tc, ok := r.component(to)
			switch {
			case !ok:
				violations = append(violations, Violation{from, to, "imported package is in no component of layers.toml"})
			case tc.name == fc.name, tc.layer < fc.layer, tc.layer == fc.layer && r.Layers[fc.layer].Open:
			case tc.layer > fc.layer:
				violations = append(violations, Violation{from, to, fmt.Sprintf("%s (layer %s) is below %s (layer %s)",
					fc.name, r.Layers[fc.layer].Name, tc.name, r.Layers[tc.layer].Name)})
			default:
				i := slices.IndexFunc(r.Allow, func(a Allow) bool { return under(from, a.From) && to == a.To })
				if i < 0 {
					violations = append(violations, Violation{from, to, fmt.Sprintf("sideways import between %s and %s (layer %s) not listed under [[allow]]",
						fc.name, tc.name, r.Layers[fc.layer].Name)})
					continue
				}
				used[i] = true
			}
		}
	}
	graph := make(map[string][]string, len(pkgs))
	for _, p := range pkgs {
		graph[p.ImportPath] = p.Imports
	}
	for _, d := range r.Deny {
		root := module + "/" + d.Package
		if _, ok := graph[root]; !ok {
			violations = append(violations, Violation{Package: d.Package, Rule: "[[deny]] names a package that is not in the graph"})
			continue
		}
		for _, chain := range forbiddenPaths(graph, root, d.Deps) {
			for i := range chain {
				if s, ok := rel(chain[i]); ok {
					chain[i] = s
				}
			}
			violations = append(violations, Violation{Package: d.Package, Import: chain[len(chain)-1],
				Rule: "forbidden dependency (" + strings.Join(chain, " -> ") + "): " + d.Why})
		}
	}
	for i, a := range r.Allow {
		if !used[i] {
			unused = append(unused, a)
		}
	}
	return violations, unused
}

// forbiddenPaths finds, breadth first, one shortest import chain from root
// to each forbidden package it reaches.
func forbiddenPaths(graph map[string][]string, root string, deny []string) [][]string {
	parent := map[string]string{root: ""}
	queue := []string{root}
	var out [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != root && slices.ContainsFunc(deny, func(d string) bool { return under(p, d) }) {
			var chain []string
			for q := p; q != ""; q = parent[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			out = append(out, chain)
			continue // what it imports in turn is its own problem
		}
		for _, imp := range graph[p] {
			if _, seen := parent[imp]; !seen {
				parent[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return out
}

// List runs `go list -deps` on the packages in dir and returns the whole
// graph. overlay, when not empty, is a `go build -overlay` file: tests use
// it to plant a file without touching the tree.
func List(dir, overlay string, patterns ...string) ([]Package, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.Command(goBin, append(args, patterns...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.Bytes())
	}
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			pkgs = append(pkgs, Package{ImportPath: f[0], Imports: f[1:]})
		}
	}
	return pkgs, sc.Err()
}
