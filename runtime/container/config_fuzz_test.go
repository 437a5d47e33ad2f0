package container

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig feeds arbitrary bytes to the config decoder, the validator and the plan builders:
// none may panic; the bytes kept for the state are the JSON value at the start of the input;
// and a config that passes validation holds no id or limit the kernel would misread.
func FuzzConfig(f *testing.F) {
	if b, err := json.Marshal(DefaultSpec(false)); err == nil {
		f.Add(b)
		f.Add(append(append([]byte{}, b...), []byte("\n}} trailing {")...))
	}
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/","user":{"uid":4294967295,"gid":0,"additionalGids":[1,2147483648]}},"linux":{"namespaces":[{"type":"mount"}]}}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},"process":{"args":["true"],"cwd":"/tmp"},"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/d","type":"bind","source":"/","options":["rbind","ro","rprivate"]}],"linux":{"resources":{"memory":{"limit":-5,"swap":-1},"pids":{"limit":-2},"cpu":{"quota":-1}},"namespaces":[{"type":"pid"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"sysctl":{"net.ipv4.ip_forward":"1"},"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}`))
	f.Add([]byte(`{"root":{"path":"rootfs"},"process":{"args":["x"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}],"capabilities":{"bounding":["CAP_NOPE"]}},"linux":{}}`))
	f.Add([]byte("\x00\x00\x00"))
	f.Add([]byte(`[`))
	bundle := f.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, raw, err := decodeSpecFrom(bytes.NewReader(data))
		if err != nil {
			return
		}
		if !bytes.HasPrefix(data, raw) || !json.Valid(raw) {
			t.Fatalf("kept %q of %q: not the JSON value at its start", raw, data)
		}
		if err := validate(spec, bundle); err != nil {
			return
		}
		u := spec.Process.User
		if u.UID > math.MaxInt32 || u.GID > math.MaxInt32 {
			t.Fatalf("accepted user %+v", u)
		}
		for _, g := range u.AdditionalGids {
			if g > math.MaxInt32 {
				t.Fatalf("accepted additional gid %d", g)
			}
		}
		if r := spec.Linux.Resources; r != nil {
			for _, v := range []*int64{limitOf(r.Memory != nil, func() *int64 { return r.Memory.Limit }),
				limitOf(r.Memory != nil, func() *int64 { return r.Memory.Swap }),
				limitOf(r.Pids != nil, func() *int64 { return r.Pids.Limit })} {
				if v != nil && *v < -1 {
					t.Fatalf("accepted limit %d", *v)
				}
			}
		}
		// The state must be encodable with what was kept.
		if _, err := json.Marshal(&saved{RawSpec: raw, Hooks: spec.Hooks}); err != nil {
			t.Fatalf("state of %q: %v", raw, err)
		}
		in := &planInput{spec: spec, rootfs: filepath.Join(bundle, "rootfs"), bundle: bundle,
			fifoFd: 3, consoleFd: -1, firstFreeFd: 4, warn: func(string) {}}
		firstPlan(in)
		_, _ = secondPlan(in)
	})
}

func limitOf(ok bool, f func() *int64) *int64 {
	if !ok {
		return nil
	}
	return f()
}
