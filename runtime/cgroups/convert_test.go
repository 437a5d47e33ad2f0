package cgroups

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64 { return &v }

func TestSharesToWeight(t *testing.T) {
	for _, tc := range []struct{ shares, want uint64 }{
		{0, 0}, {1, 1}, {2, 1}, {1024, 100}, {262144, 10000}, {1 << 30, 10000},
	} {
		if got := sharesToWeight(tc.shares); got != tc.want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tc.shares, got, tc.want)
		}
	}
	prev := uint64(0)
	for s := uint64(2); s <= 262144; s *= 2 {
		w := sharesToWeight(s)
		if w < prev || w < 1 || w > 10000 {
			t.Fatalf("sharesToWeight(%d) = %d not monotonic in range", s, w)
		}
		prev = w
	}
}

func TestBlkioToIOWeight(t *testing.T) {
	for _, tc := range []struct {
		in   uint16
		want uint64
	}{{0, 0}, {10, 1}, {500, 4950}, {1000, 10000}} {
		if got := blkioToIOWeight(tc.in); got != tc.want {
			t.Errorf("blkioToIOWeight(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSwapToV2(t *testing.T) {
	for _, tc := range []struct {
		swap, mem int64
		want      string
		set, err  bool
	}{
		{0, 0, "", false, false},
		{0, -1, "max", true, false},
		{-1, 100, "max", true, false},
		{200, 100, "100", true, false},
		{100, 100, "0", true, false},
		{50, 100, "", false, true},
		{200, 0, "", false, true},
		{200, -1, "", false, true},
		{-5, 100, "", false, true},
	} {
		got, set, err := swapToV2(tc.swap, tc.mem)
		if got != tc.want || set != tc.set || (err != nil) != tc.err {
			t.Errorf("swapToV2(%d, %d) = %q, %v, %v; want %q, %v, err %v", tc.swap, tc.mem, got, set, err, tc.want, tc.set, tc.err)
		}
	}
}

func TestDevRuleV1String(t *testing.T) {
	for _, tc := range []struct {
		rule specs.LinuxDeviceCgroup
		want string
		err  bool
	}{
		{specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}, "a", false},
		{specs.LinuxDeviceCgroup{Type: "a"}, "a", false},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}, "c 1:3 rwm", false},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(136), Access: "wr"}, "c 136:* rw", false},
		{specs.LinuxDeviceCgroup{Type: "b", Major: i64(-1), Minor: i64(-1), Access: "m"}, "b *:* m", false},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(1), Minor: i64(3)}, "c 1:3 rwm", false},
		{specs.LinuxDeviceCgroup{Type: "x"}, "", true},
		{specs.LinuxDeviceCgroup{Type: "c", Access: "rwx"}, "", true},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(-7)}, "", true},
	} {
		rs, err := parseDevRules([]specs.LinuxDeviceCgroup{tc.rule})
		if (err != nil) != tc.err {
			t.Errorf("%+v: err %v, want error %v", tc.rule, err, tc.err)
			continue
		}
		if err == nil && rs[0].v1String() != tc.want {
			t.Errorf("%+v: %q, want %q", tc.rule, rs[0].v1String(), tc.want)
		}
	}
}

func TestDeviceProgramBuilds(t *testing.T) {
	dev := func(allow bool, typ string, major, minor int64, acc string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: i64(major), Minor: i64(minor), Access: acc}
	}
	for name, rules := range map[string][]specs.LinuxDeviceCgroup{
		"empty":          nil,
		"deny all":       {{Allow: false, Access: "rwm"}},
		"docker like":    {{Allow: false, Access: "rwm"}, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 136, -1, "rwm"), dev(false, "c", 1, 3, "w")},
		"allow all last": {dev(false, "b", 8, 0, "r"), {Allow: true, Type: "a", Access: "rwm"}},
		"partial a":      {{Allow: false, Type: "a", Access: "m"}},
	} {
		// assemble has checked that every jump names a label and no label is defined twice.
		insns, err := deviceProgram(rules)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if last := insns[len(insns)-1]; last.code != bpfClassJMP|bpfExit {
			t.Errorf("%s: program does not end in exit: %+v", name, insns)
		}
		for i, in := range insns {
			if in.code&0x07 == bpfClassJMP && in.code != bpfClassJMP|bpfExit {
				if to := i + 1 + int(in.off); to <= i || to >= len(insns) {
					t.Errorf("%s: jump %d lands on %d (backwards or outside)\n%+v", name, i, to, insns)
				}
			}
		}
	}
}

func TestParseV1Mounts(t *testing.T) {
	mi := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/my\040devices rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:29 / /mnt/again rw,relatime - cgroup cgroup rw,cpu,cpuacct
`
	got, err := parseV1Mounts([]byte(mi))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]v1Mount{
		"cpu":          {point: "/sys/fs/cgroup/cpu,cpuacct", root: "/"},
		"cpuacct":      {point: "/sys/fs/cgroup/cpu,cpuacct", root: "/"},
		"memory":       {point: "/sys/fs/cgroup/memory", root: "/docker/abc"},
		"devices":      {point: "/sys/fs/cgroup/my devices", root: "/"},
		"name=systemd": {point: "/sys/fs/cgroup/systemd", root: "/"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestParseOwnCgroups(t *testing.T) {
	got := parseOwnCgroups([]byte("9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/d\n"))
	want := map[string]string{"name=systemd": "/", "memory": "/a/b", "cpu": "/c", "cpuacct": "/c", "": "/d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestHostPath(t *testing.T) {
	for _, tc := range []struct{ point, root, cg, want string }{
		{"/sys/fs/cgroup/memory", "/", "/berth/x", "/sys/fs/cgroup/memory/berth/x"},
		{"/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc/berth/x", "/sys/fs/cgroup/memory/berth/x"},
		{"/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc", "/sys/fs/cgroup/memory"},
		{"/sys/fs/cgroup/memory", "/docker/abc", "/other", "/sys/fs/cgroup/memory/other"},
	} {
		if got := hostPath(tc.point, tc.root, tc.cg); got != tc.want {
			t.Errorf("hostPath(%q, %q, %q) = %q, want %q", tc.point, tc.root, tc.cg, got, tc.want)
		}
	}
}

func TestContainerPath(t *testing.T) {
	for _, tc := range []struct {
		path, id, want string
		err            bool
	}{
		{"", "abc", "/berth-abc", false},
		{"", "", "", true},
		{"", "a/b", "", true},
		{"", "..", "", true},
		{"/foo/bar/", "x", "/foo/bar", false},
		{"foo//bar", "x", "foo/bar", false},
		{"/foo/../etc", "x", "", true},
		{"/", "x", "", true},
		{"system.slice:berth:abc", "x", "", true},
	} {
		got, err := containerPath(tc.path, tc.id)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("containerPath(%q, %q) = %q, %v; want %q, error %v", tc.path, tc.id, got, err, tc.want, tc.err)
		}
	}
}

func TestCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []uint16
	}{{"0-3,6", []uint16{0, 1, 2, 3, 6}}, {"1", []uint16{1}}, {"", nil}, {"3-1,x", nil}} {
		if got := cpuList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("cpuList(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestIOStatV2(t *testing.T) {
	b := ioStatV2("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n")
	if len(b.IoServiceBytesRecursive) != 3 || b.IoServiceBytesRecursive[1] != (BlkioEntry{8, 0, "Write", 20}) {
		t.Errorf("bytes: %+v", b.IoServiceBytesRecursive)
	}
	if len(b.IoServicedRecursive) != 3 || b.IoServicedRecursive[0] != (BlkioEntry{8, 0, "Read", 1}) {
		t.Errorf("ios: %+v", b.IoServicedRecursive)
	}
}
