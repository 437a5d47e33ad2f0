package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// env is a fake environment: tests must not see the real BERTH_* variables.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// write puts a config file into a fresh temp dir.
func write(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "berth.toml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// noDefaultFile makes the default file one that does not exist, so that
// the host's /etc/berth/berth.toml never leaks into a test.
func noDefaultFile(t *testing.T) {
	t.Helper()
	old := defaultFile
	defaultFile = filepath.Join(t.TempDir(), "missing.toml")
	t.Cleanup(func() { defaultFile = old })
}

func TestDefaults(t *testing.T) {
	noDefaultFile(t)
	root := t.TempDir() // no registries.json there
	c, err := Load(Options{Getenv: env("BERTH_ROOT", root)})
	if err != nil {
		t.Fatal(err)
	}
	if c.File() != "" {
		t.Errorf("File() = %q, want none", c.File())
	}
	want := Default()
	want.Storage.Root = root
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(Config{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".sources" || p.Last().String() == ".positions"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("effective config (-want +got):\n%s", diff)
	}
	for _, v := range c.Values() {
		if v.Key == "storage.root" {
			if v.Source.String() != "env BERTH_ROOT" {
				t.Errorf("storage.root source %q", v.Source)
			}
			continue
		}
		if v.Source.Kind != FromDefault {
			t.Errorf("%s: source %q, want a default", v.Key, v.Source)
		}
	}
	// Every key of the file is listed, map entries one by one.
	var keys []string
	for _, v := range c.Values() {
		keys = append(keys, v.Key)
	}
	for _, k := range []string{"storage.root", "runtime.runtimes.runc", "log.max_size", "network.dns_upstream",
		"registry.certs_dir", "server.streaming_address"} {
		if !strings.Contains(strings.Join(keys, " ")+" ", k+" ") {
			t.Errorf("Values lacks %s: %v", k, keys)
		}
	}
	// The built-in defaults pass their own checks.
	if err := Default().validate(); err != nil {
		t.Errorf("defaults are invalid: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	noDefaultFile(t)
	dir := t.TempDir()
	fileRoot, envRoot, flagRoot := filepath.Join(dir, "file"), filepath.Join(dir, "env"), filepath.Join(dir, "flag")
	file := write(t, "[storage]\nroot = \""+fileRoot+"\"\n")
	tests := []struct {
		name      string
		file      bool
		env, flag string
		want      string
		source    string
	}{
		{"default", false, "", "", "/var/lib/berth", "default"},
		{"file", true, "", "", fileRoot, "file " + file},
		{"env over file", true, envRoot, "", envRoot, "env BERTH_ROOT"},
		{"flag over env", true, envRoot, flagRoot, flagRoot, "flag --root"},
		{"flag over file", true, "", flagRoot, flagRoot, "flag --root"},
		{"empty env is unset", true, "", "", fileRoot, "file " + file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			if tc.file {
				o.File = file
			}
			o.Getenv = env("BERTH_ROOT", tc.env)
			if tc.flag != "" {
				o.Flags = []Setting{{Key: "storage.root", Flag: "--root", Value: tc.flag}}
			}
			c, err := Load(o)
			if err != nil {
				t.Fatal(err)
			}
			if c.Storage.Root != tc.want || c.Source("storage.root").String() != tc.source {
				t.Errorf("storage.root = %q from %q, want %q from %q", c.Storage.Root, c.Source("storage.root"), tc.want, tc.source)
			}
		})
	}
}

func TestConfigFileChoice(t *testing.T) {
	noDefaultFile(t)
	viaEnv := write(t, "[log]\ndriver = \"none\"\n")
	viaFlag := write(t, "[log]\ndriver = \"k8s-file\"\n")
	missing := filepath.Join(t.TempDir(), "nope.toml")

	c, err := Load(Options{Getenv: env(EnvFile, viaEnv)})
	if err != nil || c.Log.Driver != "none" || c.File() != viaEnv {
		t.Fatalf("BERTH_CONFIG: %v, driver %q, file %q", err, c.Log.Driver, c.File())
	}
	c, err = Load(Options{File: viaFlag, Getenv: env(EnvFile, viaEnv)})
	if err != nil || c.Log.Driver != "k8s-file" || c.File() != viaFlag {
		t.Fatalf("--config over BERTH_CONFIG: %v, driver %q, file %q", err, c.Log.Driver, c.File())
	}
	// A file asked for by name must exist; only the default may be missing.
	for _, o := range []Options{{File: missing, Getenv: env()}, {Getenv: env(EnvFile, missing)}} {
		if _, err := Load(o); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("missing named file: err = %v", err)
		}
	}
	// The default file is read when it is there.
	defaultFile = viaEnv
	if c, err := Load(Options{Getenv: env()}); err != nil || c.Log.Driver != "none" {
		t.Errorf("default file: %v", err)
	}
}

func TestFileValues(t *testing.T) {
	noDefaultFile(t)
	doc := `# every section, as the package documentation shows it
[storage]
root = "/srv/berth"
runroot = "/run/b2"
driver = "copy"

[runtime]
default = "kata"
[runtime.runtimes]
kata = "/opt/kata/bin/kata-runtime"
runc = "/usr/sbin/runc"

[log]
driver = "k8s-file"
max_size = "10m"

[network]
default_network = "berth0"
cni_plugin_dirs = ["/usr/libexec/cni"]
cni_config_dir = "/etc/berth/net.d"
default_subnet = "10.77.0.0/24"
ipv6_pool = "fd00:77::/56"
dns_upstream = ["192.0.2.53", "192.0.2.54:5353"]

[registry]
default_registry = "registry.example:5000"
insecure_registries = ["10.0.0.0/8"]
certs_dir = "/etc/berth/certs.d"
mirrors = { "docker.io" = ["https://mirror.example"] }

[server]
cri_socket = "/run/k8s/berth.sock"
socket_group = "docker"
streaming_address = "0.0.0.0:10010"
`
	p := write(t, doc)
	c, err := Load(Options{File: p, Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Storage = Storage{Root: "/srv/berth", RunRoot: "/run/b2", Driver: "copy"}
	want.Runtime = Runtime{Default: "kata", Root: "/run/b2/runtime", Runtimes: map[string]string{
		"kata": "/opt/kata/bin/kata-runtime", "runc": "/usr/sbin/runc", "crun": "crun", "berth-runtime": "berth-runtime"}}
	want.Log = Log{Driver: "k8s-file", MaxSize: 10 << 20, MaxFile: 5}
	want.Network = Network{DefaultNetwork: "berth0", CNIPluginDirs: []string{"/usr/libexec/cni"}, CNIConfigDir: "/etc/berth/net.d",
		DefaultSubnet: "10.77.0.0/24", IPv6Pool: "fd00:77::/56", DNSUpstream: []string{"192.0.2.53", "192.0.2.54:5353"}}
	want.Registry = Registry{DefaultRegistry: "registry.example:5000", Insecure: []string{"10.0.0.0/8"},
		CertsDir: "/etc/berth/certs.d", Mirrors: map[string][]string{"docker.io": {"https://mirror.example"}}}
	want.Server = Server{DockerSocket: "/run/b2/docker.sock", CRISocket: "/run/k8s/berth.sock", SocketGroup: "docker", StreamingAddress: "0.0.0.0:10010"}
	for _, sec := range []struct{ got, want any }{
		{c.Storage, want.Storage}, {c.Runtime, want.Runtime}, {c.Log, want.Log},
		{c.Network, want.Network}, {c.Registry, want.Registry}, {c.Server, want.Server},
	} {
		if diff := cmp.Diff(sec.want, sec.got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	sources := map[string]string{
		"storage.root":                   "file " + p,
		"runtime.runtimes.kata":          "file " + p,
		"runtime.runtimes.crun":          "default",
		"runtime.root":                   "default (under storage.runroot)",
		"registry.mirrors.docker.io":     "file " + p,
		"server.docker_socket":           "default (under storage.runroot)",
		"server.cri_socket":              "file " + p,
		"registry.insecure_registries":   "file " + p,
		"network.default_subnet":         "file " + p,
		"runtime.runtimes.berth-runtime": "default",
	}
	for k, s := range sources {
		if got := c.Source(k).String(); got != s {
			t.Errorf("Source(%s) = %q, want %q", k, got, s)
		}
	}
	rc := c.RegistryConfig()
	if rc.Qualify("app") != "registry.example:5000/app" || !rc.IsInsecure("10.1.2.3:5000") ||
		rc.MirrorsFor("index.docker.io")[0] != "mirror.example" || rc.CertsDirPath() != "/etc/berth/certs.d" {
		t.Errorf("RegistryConfig = %+v", rc)
	}
}

func TestBadFile(t *testing.T) {
	noDefaultFile(t)
	tests := []struct {
		name, doc string
		want      []string // each must be in the error; PATH stands for the file
	}{
		{"unknown key", "[storage]\nroot = \"/x\"\nrot = \"/y\"\n", []string{"PATH:3:1: storage.rot: unknown key"}},
		{"unknown table", "[storage]\n[stroage]\nroot = \"/x\"\n", []string{"PATH:2:2: stroage: unknown table"}},
		{"two unknown keys", "[log]\nsize = 1\n[server]\nport = 2\n", []string{"PATH:2:1: log.size: unknown key", "PATH:4:1: server.port: unknown key"}},
		{"unknown top-level key", "root = \"/x\"\n", []string{"PATH:1:1: root: unknown key"}},
		{"wrong type", "[storage]\n\nroot = 5\n", []string{"PATH:3:8: storage.root: cannot decode TOML integer into string"}},
		{"wrong list type", "[network]\ncni_plugin_dirs = \"/usr/lib/cni\"\n", []string{"PATH:2:", "network.cni_plugin_dirs"}},
		{"wrong map value", "[runtime.runtimes]\nrunc = 1\n", []string{"PATH:2:", "runtime.runtimes.runc"}},
		{"bad size", "[log]\nmax_size = \"10QB\"\n", []string{"PATH:2:", "log.max_size", `size "10QB"`}},
		{"boolean size", "[log]\ndriver = \"none\"\nmax_size = true\n", []string{`PATH:3:1: log.max_size: want a size such as "10MiB", got`}},
		{"float size", "[log]\nmax_size = 1.5\n", []string{"PATH:2:", "log.max_size"}},
		{"negative size", "[log]\nmax_size = -1\n", []string{"PATH:2:1: log.max_size: -1: must not be negative"}},
		{"bad log driver", "[log]\n  driver = \"syslog\"\n", []string{`PATH:2:3: log.driver: "syslog": want one of json-file, k8s-file, none`}},
		{"relative root", "[storage]\nroot = \"var/lib\"\n", []string{`PATH:2:1: storage.root: "var/lib": want an absolute path`}},
		{"bad driver", "[storage]\ndriver = \"zfs\"\n", []string{"PATH:2:1: storage.driver:"}},
		{"runtime not listed", "[runtime]\ndefault = \"youki\"\n", []string{`PATH:2:1: runtime.default: "youki" is not in [runtime.runtimes] (have berth-runtime, crun, runc)`}},
		{"relative runtime path", "[runtime.runtimes]\nrunc = \"bin/runc\"\n", []string{"PATH:2:1: runtime.runtimes.runc:"}},
		{"inline runtime table", "[runtime]\nruntimes = { runc = \"\" }\n", []string{"PATH:2:14: runtime.runtimes.runc: empty path"}},
		{"bad subnet", "[network]\ndefault_subnet = \"10.90.0.0\"\n", []string{"PATH:2:1: network.default_subnet:"}},
		{"ipv4 pool", "[network]\nipv6_pool = \"10.0.0.0/8\"\n", []string{"PATH:2:1: network.ipv6_pool:", "IPv6 prefix"}},
		{"small pool", "[network]\nipv6_pool = \"fd00::/80\"\n", []string{"PATH:2:1: network.ipv6_pool:", "/64 or larger"}},
		{"bad dns", "[network]\ndns_upstream = [\"1.1.1.1\", \"dns.example\"]\n", []string{"PATH:2:1: network.dns_upstream: entry 1:"}},
		{"bad network name", "[network]\ndefault_network = \"a b\"\n", []string{"PATH:2:1: network.default_network:"}},
		{"bad default registry", "[registry]\ndefault_registry = \"https://reg\"\n", []string{"PATH:2:1: registry.default_registry:", "want HOST[:PORT]"}},
		{"bad mirror", "[registry.mirrors]\n\"docker.io\" = [\"a/b\"]\n", []string{"PATH:2:1: registry.mirrors.docker.io: entry 0:"}},
		{"bad mirror host", "[registry.mirrors]\n\"a b\" = [\"m\"]\n", []string{"PATH:2:1: registry.mirrors.a b: registry"}},
		{"bad insecure", "[registry]\ninsecure_registries = [\"http://x\"]\n", []string{"PATH:2:1: registry.insecure_registries: entry 0:"}},
		{"long socket", "[server]\ndocker_socket = \"/" + strings.Repeat("s", 120) + "\"\n", []string{"PATH:2:1: server.docker_socket:", "longer than a unix socket path"}},
		{"bad group", "[server]\nsocket_group = \"Wheel Group\"\n", []string{"PATH:2:1: server.socket_group:"}},
		{"bad streaming address", "[server]\nstreaming_address = \"localhost\"\n", []string{"PATH:2:1: server.streaming_address:"}},
		{"bad port", "[server]\nstreaming_address = \"127.0.0.1:99999\"\n", []string{"PATH:2:1: server.streaming_address:", "bad port"}},
		{"syntax", "[storage\nroot = 1\n", []string{"PATH:1:"}},
		{"duplicate key", "[storage]\nroot = \"/a\"\nroot = \"/b\"\n", []string{"PATH:3:"}},
		{"long run root", "[storage]\nrunroot = \"/" + strings.Repeat("r", 100) + "\"\n", []string{"PATH:2:1: storage.runroot: server.docker_socket (under storage.runroot):", "longer than a unix socket path"}},
		{"several bad values", "[storage]\nroot = \"a\"\n[log]\ndriver = \"x\"\n", []string{"PATH:2:1: storage.root:", "PATH:4:1: log.driver:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.doc)
			c, err := Load(Options{File: p, Getenv: env()})
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "PATH", p); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestBadEnvAndFlags(t *testing.T) {
	noDefaultFile(t)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"env", Options{Getenv: env("BERTH_RUNROOT", "run")}, `env BERTH_RUNROOT: storage.runroot: "run": want an absolute path`},
		{"flag", Options{Getenv: env(), Flags: []Setting{{Key: "storage.root", Flag: "--root", Value: ""}}}, `flag --root: storage.root: "": want an absolute path`},
		{"env runtime", Options{Getenv: env("BERTH_RUNTIME", "nope")}, `env BERTH_RUNTIME: runtime.default: "nope" is not in`},
		{"derived socket", Options{Getenv: env("BERTH_RUNROOT", "/"+strings.Repeat("r", 100))}, "env BERTH_RUNROOT: storage.runroot: server.docker_socket (under storage.runroot): "},
		{"unknown flag key", Options{Getenv: env(), Flags: []Setting{{Key: "storage.nope", Flag: "--x", Value: "1"}}}, `no setting "storage.nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRunRootMovesItsPaths(t *testing.T) {
	noDefaultFile(t)
	rr := t.TempDir()
	c, err := Load(Options{Getenv: env(), Flags: []Setting{{Key: "storage.runroot", Flag: "--runroot", Value: rr}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.DockerSocket != rr+"/docker.sock" || c.Server.CRISocket != rr+"/cri.sock" || c.Runtime.Root != rr+"/runtime" {
		t.Errorf("paths under the run root: %+v %+v", c.Server, c.Runtime)
	}
	// A path set on its own stays put.
	p := write(t, "[server]\ndocker_socket = \"/run/d.sock\"\n")
	c, err = Load(Options{File: p, Getenv: env("BERTH_CRI_SOCKET", "/run/c.sock", "BERTH_RUNROOT", rr)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.DockerSocket != "/run/d.sock" || c.Server.CRISocket != "/run/c.sock" || c.Runtime.Root != rr+"/runtime" {
		t.Errorf("paths: %+v %+v", c.Server, c.Runtime)
	}
	if s := c.Source("server.cri_socket").String(); s != "env BERTH_CRI_SOCKET" {
		t.Errorf("cri_socket source %q", s)
	}
}

func TestRegistriesJSON(t *testing.T) {
	noDefaultFile(t)
	root := t.TempDir()
	rj := filepath.Join(root, "registries.json")
	if err := os.WriteFile(rj, []byte(`{"default-registry": "json.example",
		"registry-mirrors": {"docker.io": ["json-mirror"], "quay.io": ["quay-mirror"]},
		"insecure-registries": ["127.0.0.1:5000"], "certs-dir": "/json/certs"}`), 0o644); err != nil {
		t.Fatal(err)
	}

	// Alone, it gives what it gave before the engine config existed.
	c, err := Load(Options{Getenv: env("BERTH_ROOT", root)})
	if err != nil {
		t.Fatal(err)
	}
	got := c.RegistryConfig()
	if got.DefaultRegistry != "json.example" || got.CertsDir != "/json/certs" || !got.IsInsecure("127.0.0.1:5000") ||
		!reflect.DeepEqual(got.MirrorsFor("quay.io"), []string{"quay-mirror"}) {
		t.Errorf("registries.json alone: %+v", got)
	}
	for _, k := range []string{"registry.default_registry", "registry.certs_dir", "registry.insecure_registries", "registry.mirrors.quay.io"} {
		if s := c.Source(k).String(); s != "file "+rj {
			t.Errorf("Source(%s) = %q", k, s)
		}
	}

	// With berth.toml: its scalars win, insecure lists join, mirrors merge per host.
	p := write(t, `[registry]
default_registry = "toml.example"
insecure_registries = ["10.0.0.0/8", "127.0.0.1:5000"]
[registry.mirrors]
"docker.io" = ["toml-mirror"]
`)
	c, err = Load(Options{File: p, Getenv: env("BERTH_ROOT", root, "BERTH_CERTS_DIR", "/env/certs")})
	if err != nil {
		t.Fatal(err)
	}
	want := Registry{
		DefaultRegistry: "toml.example",
		CertsDir:        "/env/certs",
		Insecure:        []string{"127.0.0.1:5000", "10.0.0.0/8"},
		Mirrors:         map[string][]string{"docker.io": {"toml-mirror"}, "quay.io": {"quay-mirror"}},
	}
	if diff := cmp.Diff(want, c.Registry); diff != "" {
		t.Errorf("merged registry (-want +got):\n%s", diff)
	}
	sources := map[string]string{
		"registry.default_registry":    "file " + p,
		"registry.certs_dir":           "env BERTH_CERTS_DIR",
		"registry.insecure_registries": "file " + rj + ", file " + p,
		"registry.mirrors.docker.io":   "file " + p,
		"registry.mirrors.quay.io":     "file " + rj,
	}
	for k, s := range sources {
		if got := c.Source(k).String(); got != s {
			t.Errorf("Source(%s) = %q, want %q", k, got, s)
		}
	}

	// A bad registries.json is an error naming it, as before.
	if err := os.WriteFile(rj, []byte(`{"mirrors": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Options{Getenv: env("BERTH_ROOT", root)}); err == nil || !strings.Contains(err.Error(), rj) {
		t.Errorf("bad registries.json: err = %v", err)
	}
}

func TestValuesJSON(t *testing.T) {
	noDefaultFile(t)
	c, err := Load(Options{Getenv: env("BERTH_ROOT", t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c.Values())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `{"Key":"storage.root","Value":"`) || !strings.Contains(string(b), `"Source":"env BERTH_ROOT"`) {
		t.Errorf("JSON: %s", b)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  bool
	}{
		{"0", 0, false}, {"512", 512, false}, {"10m", 10 << 20, false}, {"10MiB", 10 << 20, false},
		{"10 MB", 10 << 20, false}, {"1g", 1 << 30, false}, {"3k", 3 << 10, false}, {"2TiB", 2 << 40, false},
		{"", 0, true}, {"m", 0, true}, {"-1", 0, true}, {"+1", 0, true}, {"1.5g", 0, true}, {"10QB", 0, true},
		{"99999999999999999999", 0, true}, {"9000000000t", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, s := range []Size{0, 512, 10 << 20, 3 << 10, 1<<30 + 1} {
		back, err := ParseSize(s.String())
		if err != nil || back != s {
			t.Errorf("%d -> %q -> %d, %v", s, s.String(), back, err)
		}
	}
}

// BenchmarkLoad: what every berth command pays to read its config (a full
// file, no registries.json).
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "berth.toml")
	doc := "[storage]\nroot = \"" + dir + "\"\n[runtime.runtimes]\nkata = \"/opt/kata\"\n[registry]\ninsecure_registries = [\"10.0.0.0/8\"]\n[registry.mirrors]\n\"docker.io\" = [\"m:5000\"]\n[log]\nmax_size = \"10m\"\n"
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(Options{File: p, Getenv: env()}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeyForms: dotted keys, inline tables and quoted keys set the same
// values, with the line of the key.
func TestKeyForms(t *testing.T) {
	noDefaultFile(t)
	p := write(t, `storage = { root = "/a", runroot = "/r" }
runtime.runtimes.kata = "/opt/kata"
[registry]
mirrors."quay.io" = ["q:1"]
"default_registry" = "reg.example"
[log]
max_size = 4096
`)
	c, err := Load(Options{File: p, Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Root != "/a" || c.Storage.RunRoot != "/r" || c.Runtime.Runtimes["kata"] != "/opt/kata" ||
		c.Registry.Mirrors["quay.io"][0] != "q:1" || c.Registry.DefaultRegistry != "reg.example" || c.Log.MaxSize != 4096 {
		t.Errorf("config: %+v", c)
	}
	for k, line := range map[string]int{"storage.root": 1, "storage.runroot": 1, "runtime.runtimes.kata": 2,
		"registry.mirrors.quay.io": 4, "registry.default_registry": 5, "log.max_size": 7} {
		if c.positions[k].line != line || c.Source(k).Kind != FromFile {
			t.Errorf("%s: line %d from %s, want line %d from the file", k, c.positions[k].line, c.Source(k), line)
		}
	}
}

func TestRuntimePath(t *testing.T) {
	noDefaultFile(t)
	p := write(t, "[runtime]\ndefault = \"sh\"\n[runtime.runtimes]\nsh = \"sh\"\nabs = \"/opt/none/runtime\"\nmissing = \"berth-no-such-runtime\"\n")
	c, err := Load(Options{File: p, Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.RuntimePath(""); err != nil || !filepath.IsAbs(got) || filepath.Base(got) != "sh" {
		t.Errorf("default runtime: %q, %v", got, err)
	}
	if got, err := c.RuntimePath("abs"); err != nil || got != "/opt/none/runtime" {
		t.Errorf("absolute: %q, %v", got, err)
	}
	if _, err := c.RuntimePath("missing"); err == nil || !strings.Contains(err.Error(), "runtime missing") {
		t.Errorf("not in $PATH: %v", err)
	}
	if _, err := c.RuntimePath("youki"); err == nil || !strings.Contains(err.Error(), `"youki" is not in [runtime.runtimes]`) {
		t.Errorf("unknown name: %v", err)
	}
}
