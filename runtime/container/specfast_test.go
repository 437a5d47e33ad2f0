package container

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// reflectDecode is what decodeSpec did before the fast path: encoding/json into linuxSpec.
func reflectDecode(data []byte) (*specs.Spec, int, error) {
	var ls linuxSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&ls); err != nil {
		return nil, 0, err
	}
	return &specs.Spec{
		Version: ls.Version, Process: ls.Process, Root: ls.Root, Hostname: ls.Hostname,
		Domainname: ls.Domainname, Mounts: ls.Mounts, Hooks: ls.Hooks, Annotations: ls.Annotations,
		Linux: ls.Linux,
	}, int(dec.InputOffset()), nil
}

func fastSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, rootless := range []bool{false, true} {
		for _, indent := range []bool{false, true} {
			var b []byte
			var err error
			if indent {
				b, err = json.MarshalIndent(DefaultSpec(rootless), "", "\t")
			} else {
				b, err = json.Marshal(DefaultSpec(rootless))
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	out = append(out, []byte(`{"ociVersion":"1.0.2","process":{"terminal":true,"consoleSize":{"height":24,"width":80},
		"user":{"uid":1000,"gid":1000,"umask":18,"additionalGids":[1,2,2147483647]},"args":["sh","-c","echo é ü"],
		"env":[],"cwd":"/","capabilities":{"bounding":[],"inheritable":["CAP_KILL"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":0}],
		"noNewPrivileges":false,"oomScoreAdj":-999,"apparmorProfile":"p","selinuxLabel":"l","scheduler":{"policy":"SCHED_OTHER"}},
		"root":{"path":"rootfs","readonly":false},"hostname":"h","domainname":"d",
		"mounts":[{"destination":"/d","type":"bind","source":"/s","options":["rbind","ro"],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}]}],
		"hooks":{"prestart":[{"path":"/bin/true","args":["true"],"timeout":5}]},"annotations":{"a":"1","a":"2","b":""},
		"linux":{"uidMappings":[],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"sysctl":{"net.ipv4.ip_forward":"1"},
		"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":-1,"minor":3,"access":"rw"}],
			"memory":{"limit":-1,"swap":1048576},"cpu":{"shares":512,"cpus":"0"},"pids":{"limit":100},"unified":{"memory.high":"max"}},
		"cgroupsPath":"/x/y","namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"}],
		"devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438}],
		"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]},
		"rootfsPropagation":"rslave","maskedPaths":["/proc/kcore"],"readonlyPaths":[],"mountLabel":"","personality":{"domain":"LINUX32"},
		"timeOffsets":{"monotonic":{"secs":1,"nanosecs":2}}}}  trailing data`))
	return out
}

func TestFastDecodeSpecMatchesEncodingJSON(t *testing.T) {
	for i, data := range fastSeeds(t) {
		fast, end, ok := fastDecodeSpec(data)
		if !ok {
			t.Fatalf("seed %d: the fast decoder gave up on %s", i, data)
		}
		want, wantEnd, err := reflectDecode(data)
		if err != nil {
			t.Fatalf("seed %d: encoding/json: %v", i, err)
		}
		if end != wantEnd {
			t.Errorf("seed %d: value ends at %d, encoding/json says %d", i, end, wantEnd)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Errorf("seed %d: fast decode differs:\n got %+v\nwant %+v", i, fast, want)
		}
	}
}

// Anything outside the plain shape is left to encoding/json, which decides (or errors) as before.
func TestFastDecodeSpecGivesUp(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `null`, `{`, `{"ociVersion":"1"`, `{"ociVersion":1}`,
		`{"OciVersion":"1"}`,                            // another case: encoding/json matches it
		`{"unknown":1}`,                                 // ignored by encoding/json
		`{"hostname":"a","hostname":"b"}`,               // a key twice
		`{"hostname":"a\nb"}`, `{"hostname":"a\u0041"}`, // escapes
		`{"hostname":"a` + "\xff" + `"}`, // invalid UTF-8 (replaced by encoding/json)
		`{"process":null}`, `{"linux":{"seccomp":null}}`,
		`{"process":{"user":{"uid":4294967296}}}`, // out of range: an error from encoding/json
		`{"process":{"user":{"uid":-1}}}`, `{"process":{"user":{"uid":1.0}}}`,
		`{"process":{"user":{"uid":1e3}}}`, `{"process":{"user":{"uid":01}}}`,
		`{"process":{"oomScoreAdj":1x}}`, `{"root":{"readonly":truex}}`,
		`{"linux":{"resources":{"memory":{"limit":"x"}}}}`, // a type error in a raw field
		`{"linux":{"resources":{"memory":{"limit":1}}`,
		`{"mounts":[{"destination":"/a"},]}`,
	} {
		if spec, _, ok := fastDecodeSpec([]byte(in)); ok {
			t.Errorf("fast decoder accepted %q: %+v", in, spec)
		}
	}
}

// FuzzFastDecodeSpec: whenever the fast decoder accepts an input, encoding/json accepts it too
// and decodes the same spec.
func FuzzFastDecodeSpec(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"process":{"args":["a"]},"linux":{"namespaces":[{"type":"mount"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, end, ok := fastDecodeSpec(data)
		if !ok {
			return
		}
		want, wantEnd, err := reflectDecode(data)
		if err != nil {
			t.Fatalf("fast decoder accepted %q, encoding/json refused it: %v", data, err)
		}
		if end != wantEnd {
			t.Fatalf("%q: value ends at %d, encoding/json says %d", data, end, wantEnd)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%q: fast decode differs:\n got %+v\nwant %+v", data, fast, want)
		}
	})
}
