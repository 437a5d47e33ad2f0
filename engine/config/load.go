package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/berth-dev/berth/image/registry"
)

// Options are the inputs of Load besides the file and the environment.
type Options struct {
	// File is the --config flag's value; "" falls back to $BERTH_CONFIG,
	// then to DefaultFile, the only one that may be missing.
	File string
	// Flags are the settings given on the command line, applied last.
	Flags []Setting
	// Getenv reads the environment; nil is os.Getenv.
	Getenv func(string) string
}

// Setting is one value given on the command line.
type Setting struct {
	Key   string // "storage.root"
	Flag  string // "--root", for Source and errors
	Value string
}

// EnvVar ties an environment variable to the key it sets.
type EnvVar struct{ Name, Key string }

// EnvVars are the environment variables Load reads, besides EnvFile.
var EnvVars = []EnvVar{
	{"BERTH_ROOT", "storage.root"},
	{"BERTH_RUNROOT", "storage.runroot"},
	{"BERTH_SNAPSHOTTER", "storage.driver"},
	{"BERTH_RUNTIME", "runtime.default"},
	{registry.EnvCertsDir, "registry.certs_dir"},
	{"BERTH_DOCKER_SOCKET", "server.docker_socket"},
	{"BERTH_CRI_SOCKET", "server.cri_socket"},
}

// defaultFile is DefaultFile; tests point it elsewhere.
var defaultFile = DefaultFile

// Load builds the effective configuration: the defaults, then the config
// file, then ROOT/registries.json under the resulting root (see the package
// documentation for how it merges), then the environment, then opts.Flags.
// Every value is checked; errors name where the bad value came from.
func Load(opts Options) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Default()
	path, named := opts.File, true
	if path == "" {
		path = getenv(EnvFile)
	}
	if path == "" {
		path, named = defaultFile, false
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := c.decodeFile(path, data); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist) && !named:
	default:
		return nil, fmt.Errorf("config: %w", err)
	}
	for _, e := range EnvVars {
		if v := getenv(e.Name); v != "" {
			if err := c.set(e.Key, v, Source{Kind: FromEnv, Name: e.Name}); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range opts.Flags {
		if err := c.set(s.Key, s.Value, Source{Kind: FromFlag, Name: s.Flag}); err != nil {
			return nil, err
		}
	}
	c.derive()
	// Only now is the root known. A value from the environment or a flag
	// still wins: registries.json only fills what those left alone.
	if err := c.mergeRegistriesJSON(); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeFile applies the keys that the file sets, and only those: a key
// the file leaves out keeps its default, and a map entry the file adds
// ([runtime.runtimes] kata = "...") joins the default entries.
func (c *Config) decodeFile(path string, data []byte) error {
	var fc Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return fileError(path, data, err)
	}
	keys, err := keyPositions(data)
	if err != nil {
		return fileError(path, data, err)
	}
	c.file = path
	c.positions = make(map[string]position, len(keys))
	src := Source{Kind: FromFile, Name: path}
	dst, from := reflect.ValueOf(c).Elem(), reflect.ValueOf(&fc).Elem()
	for _, k := range keys {
		f, entry, ok := lookup(k.path)
		if !ok {
			continue // a section header such as `storage = {...}`
		}
		d, s := dst.FieldByIndex(f.index), from.FieldByIndex(f.index)
		switch {
		case d.Kind() == reflect.Map && entry == "":
			// The whole table; its entries come one by one.
			c.positions[f.key] = k.pos
		case d.Kind() == reflect.Map:
			if d.IsNil() {
				d.Set(reflect.MakeMap(d.Type()))
			}
			ev := reflect.ValueOf(entry)
			d.SetMapIndex(ev, s.MapIndex(ev))
			c.sources[f.key+"."+entry] = src
			c.positions[f.key+"."+entry] = k.pos
		default:
			d.Set(s)
			c.sources[f.key] = src
			c.positions[f.key] = k.pos
		}
	}
	return nil
}

// lookup finds the field of a key path: ["storage", "root"], or a map
// entry ["runtime", "runtimes", "runc"].
func lookup(path []string) (field, string, bool) {
	if len(path) < 2 || len(path) > 3 {
		return field{}, "", false
	}
	key := path[0] + "." + path[1]
	for _, f := range fields() {
		if f.key != key {
			continue
		}
		if len(path) == 3 {
			if f.typ.Kind() != reflect.Map {
				return field{}, "", false
			}
			return f, path[2], true
		}
		return f, "", true
	}
	return field{}, "", false
}

// position is where a key stands in the file.
type position struct{ line, col int }

type keyPos struct {
	path  []string
	pos   position
	value *unstable.Node
}

// keyPositions lists every key the document sets with its full path and
// where it is written, inline tables included; the decoder reports
// positions only for its own errors, and the checks after it need them too.
func keyPositions(data []byte) ([]keyPos, error) {
	var p unstable.Parser
	p.Reset(data)
	var out []keyPos
	var walk func(prefix []string, kv *unstable.Node)
	walk = func(prefix []string, kv *unstable.Node) {
		path := slices.Clone(prefix)
		var first *unstable.Node
		for it := kv.Key(); it.Next(); {
			if first == nil {
				first = it.Node()
			}
			path = append(path, string(it.Node().Data))
		}
		sh := p.Shape(first.Raw)
		v := kv.Value()
		out = append(out, keyPos{path: path, pos: position{sh.Start.Line, sh.Start.Column}, value: v})
		if v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				if it.Node().Kind == unstable.KeyValue {
					walk(path, it.Node())
				}
			}
		}
	}
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = table[:0:0]
			for it := e.Key(); it.Next(); {
				table = append(table, string(it.Node().Data))
			}
		case unstable.KeyValue:
			walk(table, e)
		}
	}
	return out, p.Error()
}

// goField is the decoder's Go-side wording of a type mismatch.
var goField = regexp.MustCompile(`into struct field \S+ of type `)

// fileError words a decoding error as FILE:LINE:COL: KEY: what.
func fileError(path string, data []byte, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			what := "unknown key"
			if strings.Contains(e.Error(), "missing table") {
				what = "unknown table"
			}
			row, col := e.Position()
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: %s", path, row, col, strings.Join(e.Key(), "."), what))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := goField.ReplaceAllString(strings.TrimPrefix(de.Error(), "toml: "), "into ")
		if k := de.Key(); len(k) > 0 {
			return fmt.Errorf("%s:%d:%d: %s: %s", path, row, col, strings.Join(k, "."), msg)
		}
		return fmt.Errorf("%s:%d:%d: %s", path, row, col, msg)
	}
	// The decoder hands a size's UnmarshalText error back without a
	// position when the value is not a string or an integer (a boolean):
	// find the key by checking the sizes again.
	if keys, perr := keyPositions(data); perr == nil {
		for _, k := range keys {
			f, entry, ok := lookup(k.path)
			if !ok || entry != "" || f.typ != reflect.TypeFor[Size]() {
				continue
			}
			if k.value.Kind == unstable.String || k.value.Kind == unstable.Integer {
				continue // the decoder reports these itself
			}
			return fmt.Errorf("%s:%d:%d: %s: want a size such as \"10MiB\", got a %s", path, k.pos.line, k.pos.col, f.key, strings.ToLower(k.value.Kind.String()))
		}
	}
	return fmt.Errorf("%s: %w", path, err)
}

// set applies a value given as text (environment, flags).
func (c *Config) set(key, value string, src Source) error {
	f, entry, ok := lookup(strings.SplitN(key, ".", 2))
	if !ok || entry != "" {
		return fmt.Errorf("config: no setting %q", key)
	}
	d := reflect.ValueOf(c).Elem().FieldByIndex(f.index)
	switch d.Interface().(type) {
	case string:
		d.SetString(value)
	case []string:
		var l []string
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				l = append(l, s)
			}
		}
		d.Set(reflect.ValueOf(l))
	case Size:
		n, err := ParseSize(value)
		if err != nil {
			return c.errorAt(key, err, src)
		}
		d.Set(reflect.ValueOf(n))
	default:
		return fmt.Errorf("config: %s cannot be set from %s", key, src)
	}
	c.sources[key] = src
	return nil
}

// mergeRegistriesJSON reads ROOT/registries.json into what the config file,
// the environment and the flags left at its default.
func (c *Config) mergeRegistriesJSON() error {
	rj, err := registry.Load(c.Storage.Root)
	if err != nil {
		return err
	}
	src := Source{Kind: FromFile, Name: filepath.Join(c.Storage.Root, registry.FileName)}
	r := &c.Registry
	if rj.DefaultRegistry != "" && c.Source("registry.default_registry").Kind == FromDefault {
		r.DefaultRegistry = rj.DefaultRegistry
		c.sources["registry.default_registry"] = src
	}
	if rj.CertsDir != "" && c.Source("registry.certs_dir").Kind == FromDefault {
		r.CertsDir = rj.CertsDir
		c.sources["registry.certs_dir"] = src
	}
	if len(rj.Insecure) > 0 {
		s := src
		if prev := c.Source("registry.insecure_registries"); prev.Kind != FromDefault && len(r.Insecure) > 0 {
			s.Name += ", " + prev.String()
		}
		joined := slices.Clone(rj.Insecure)
		for _, h := range r.Insecure {
			if !slices.Contains(joined, h) {
				joined = append(joined, h)
			}
		}
		r.Insecure = joined
		c.sources["registry.insecure_registries"] = s
	}
	for h, ms := range rj.Mirrors {
		if _, ok := r.Mirrors[h]; ok {
			continue
		}
		if r.Mirrors == nil {
			r.Mirrors = map[string][]string{}
		}
		r.Mirrors[h] = slices.Clone(ms)
		c.sources["registry.mirrors."+h] = src
	}
	return nil
}

// errorAt words a bad value of key with where it came from.
func (c *Config) errorAt(key string, err error, src Source) error {
	// A bad path under the run root is the run root's fault.
	if src.Kind == FromDefault && src.Name == underRunRoot {
		if rs := c.Source("storage.runroot"); rs.Kind != FromDefault {
			return c.errorAt("storage.runroot", fmt.Errorf("%s (%s): %w", key, underRunRoot, err), rs)
		}
	}
	switch src.Kind {
	case FromFile:
		if p, ok := c.positions[key]; ok && src.Name == c.file {
			return fmt.Errorf("%s:%d:%d: %s: %w", src.Name, p.line, p.col, key, err)
		}
		return fmt.Errorf("%s: %s: %w", src.Name, key, err)
	case FromEnv, FromFlag:
		return fmt.Errorf("%s: %s: %w", src, key, err)
	}
	return fmt.Errorf("config %s (%s): %w", key, src, err)
}
