package container

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestRel(t *testing.T) {
	for in, want := range map[string]string{
		"/": "", "": "", "/proc": "proc", "proc/sys/": "proc/sys", "/../../etc//x": "etc/x",
		"/a/./b/../c": "a/c", "/proc/self/root/x": "proc/self/root/x",
	} {
		if got := rel(in); got != want {
			t.Errorf("rel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMountOptions(t *testing.T) {
	for _, tc := range []struct {
		opts       []string
		flags      uintptr
		set, clr   uint64 // bind attributes
		rset, rclr uint64
		data       string
		idmap      bool
	}{
		{opts: []string{"ro", "nosuid", "size=1k"}, flags: unix.MS_RDONLY | unix.MS_NOSUID,
			set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID, data: "size=1k"},
		{opts: []string{"rro"}, rset: unix.MOUNT_ATTR_RDONLY},
		{opts: []string{"rro", "rrw"}, rclr: unix.MOUNT_ATTR_RDONLY},
		{opts: []string{"nosymfollow"}, flags: unix.MS_NOSYMFOLLOW, set: unix.MOUNT_ATTR_NOSYMFOLLOW},
		{opts: []string{"noatime"}, flags: unix.MS_NOATIME, set: unix.MOUNT_ATTR_NOATIME, clr: unix.MOUNT_ATTR__ATIME},
		{opts: []string{"rnoatime"}, rset: unix.MOUNT_ATTR_NOATIME, rclr: unix.MOUNT_ATTR__ATIME},
		{opts: []string{"idmap"}, idmap: true},
		{opts: []string{"ridmap", "tmpcopyup"}, idmap: true},
	} {
		t.Run(strings.Join(tc.opts, ","), func(t *testing.T) {
			o := parseMountOptions(tc.opts)
			set, clr := o.bindAttrs()
			if o.flags != tc.flags || set != tc.set || clr != tc.clr || o.rset != tc.rset || o.rclr != tc.rclr ||
				o.data != tc.data || o.idmap != tc.idmap {
				t.Errorf("got flags %#x attrs %#x/%#x recursive %#x/%#x data %q idmap %v", o.flags, set, clr, o.rset, o.rclr, o.data, o.idmap)
			}
		})
	}
}

// TestMountOptionsListed: every option features advertises changes something.
func TestMountOptionsListed(t *testing.T) {
	opts := MountOptions()
	if !slices.IsSorted(opts) {
		t.Errorf("not sorted: %v", opts)
	}
	for _, o := range opts {
		p := parseMountOptions([]string{o})
		set, clr := p.bindAttrs()
		if p.flags == 0 && len(p.prop) == 0 && p.rset == 0 && p.rclr == 0 && !p.idmap && set == 0 && clr == 0 &&
			!slices.Contains([]string{"rw", "suid", "dev", "exec", "async", "nomand", "atime", "diratime", "norelatime", "nostrictatime"}, o) {
			t.Errorf("option %s is listed but has no effect", o)
		}
		if p.data != "" {
			t.Errorf("option %s is listed but passed to the file system as data", o)
		}
	}
}

func TestIDMapOf(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{}}
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
	if _, err := idmapOf(spec, specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"idmap"}, UIDMappings: m, GIDMappings: m}); err == nil ||
		!strings.Contains(err.Error(), "only bind mounts") {
		t.Errorf("tmpfs idmap: %v", err)
	}
	if _, err := idmapOf(spec, specs.Mount{Destination: "/t", Type: "bind", Options: []string{"idmap"}}); err == nil {
		t.Errorf("idmap without mappings accepted")
	}
	spec.Linux.UIDMappings, spec.Linux.GIDMappings = m, m
	im, err := idmapOf(spec, specs.Mount{Destination: "/t", Type: "bind", Options: []string{"rbind", "ridmap"}})
	if err != nil || im.uidMap != "0 1000 10\n" || !im.rec {
		t.Errorf("container mappings: %+v %v", im, err)
	}
}
