package container

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fastDecodeSpec decodes the common shape of a config.json without reflection, or reports
// false and leaves the config to encoding/json.
//
// Why: encoding/json's first decode of a struct type builds its field tables and, eagerly, the
// encoders of every type reachable from its fields; for the spec's type tree that is ~0.5 ms
// of every runtime start (a warm decode is ~30 µs). This decoder reads the parts of the spec
// that real configs carry (runc spec, Docker's, Podman's, containerd's): every field of the
// top level, process, user, capabilities, rlimits, root, mounts, linux, namespaces, id
// mappings and device cgroup rules. A field of a section it has no code for (hooks, seccomp,
// the rarer resources, ...) is handed to encoding/json on its own, so only that type pays the
// reflection.
//
// It never decides anything encoding/json would decide differently: on anything outside the
// plain shape — an unknown or differently cased key, a key twice, null, a string with an
// escape, a number that is not a plain in-range integer, a syntax error — it gives up and the
// caller decodes the whole config with encoding/json, which then produces exactly today's
// result or error. FuzzFastDecodeSpec checks that whenever it succeeds, encoding/json gives
// the same spec.
//
// end is the offset just past the config's JSON value (what json.Decoder.InputOffset says after
// Decode): the bytes after it are not looked at, as with encoding/json's Decoder.
func fastDecodeSpec(data []byte) (spec *specs.Spec, end int, ok bool) {
	d := &fastDec{b: data}
	d.ws()
	var s specs.Spec
	ok = d.object(func(key string) bool {
		switch key {
		case "ociVersion":
			return d.str(&s.Version)
		case "process":
			s.Process = &specs.Process{}
			return d.process(s.Process)
		case "root":
			s.Root = &specs.Root{}
			return d.object(func(k string) bool {
				switch k {
				case "path":
					return d.str(&s.Root.Path)
				case "readonly":
					return d.bool(&s.Root.Readonly)
				}
				return false
			})
		case "hostname":
			return d.str(&s.Hostname)
		case "domainname":
			return d.str(&s.Domainname)
		case "mounts":
			return d.array(func() bool {
				s.Mounts = append(s.Mounts, specs.Mount{})
				return d.mount(&s.Mounts[len(s.Mounts)-1])
			}, func() { s.Mounts = []specs.Mount{} })
		case "hooks":
			return d.raw(&s.Hooks)
		case "annotations":
			return d.strMap(&s.Annotations)
		case "linux":
			s.Linux = &specs.Linux{}
			return d.linux(s.Linux)
		}
		return false
	})
	if !ok {
		return nil, 0, false
	}
	return &s, d.i, true
}

type fastDec struct {
	b []byte
	i int
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next consumes c (after white space) or fails.
func (d *fastDec) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDec) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// rawString reads a string without escapes or control characters, in valid UTF-8 (what
// encoding/json would return unchanged).
func (d *fastDec) rawString() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
		d.i++
	}
	return "", false
}

func (d *fastDec) str(p *string) bool {
	s, ok := d.rawString()
	*p = s
	return ok
}

func (d *fastDec) bool(p *bool) bool {
	d.ws()
	switch {
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		*p = true
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		*p = false
	default:
		return false
	}
	return d.delim()
}

// delim checks that a literal or number ends where JSON says it must.
func (d *fastDec) delim() bool {
	if d.i >= len(d.b) {
		return true
	}
	switch d.b[d.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// integer reads a plain JSON integer (no fraction or exponent) as its text.
func (d *fastDec) integer() (string, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || (n > 1 && d.b[digits] == '0') || !d.delim() {
		return "", false
	}
	return string(d.b[start:d.i]), true
}

func (d *fastDec) uint(bits int) (uint64, bool) {
	s, ok := d.integer()
	if !ok || s[0] == '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, bits)
	return v, err == nil
}

func (d *fastDec) int(bits int) (int64, bool) {
	s, ok := d.integer()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, bits)
	return v, err == nil
}

func (d *fastDec) u32(p *uint32) bool {
	v, ok := d.uint(32)
	*p = uint32(v)
	return ok
}

// object reads an object, calling field for each key with the position at its value. A key
// seen twice gives up (encoding/json merges a repeated object into the first).
func (d *fastDec) object(field func(key string) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.peek() == '}' {
		d.i++
		return true
	}
	var seen []string
	for {
		key, ok := d.rawString()
		if !ok || !d.next(':') {
			return false
		}
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if !field(key) {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next('}')
	}
}

// array reads an array, calling elem for each element; empty is called for [] (encoding/json
// makes an empty, non-nil slice of it).
func (d *fastDec) array(elem func() bool, empty func()) bool {
	if !d.next('[') {
		return false
	}
	if d.peek() == ']' {
		d.i++
		empty()
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next(']')
	}
}

func (d *fastDec) strings(p *[]string) bool {
	var out []string
	ok := d.array(func() bool {
		s, ok := d.rawString()
		out = append(out, s)
		return ok
	}, func() { out = []string{} })
	*p = out
	return ok
}

func (d *fastDec) u32s(p *[]uint32) bool {
	var out []uint32
	ok := d.array(func() bool {
		v, ok := d.uint(32)
		out = append(out, uint32(v))
		return ok
	}, func() { out = []uint32{} })
	*p = out
	return ok
}

func (d *fastDec) strMap(p *map[string]string) bool {
	m := map[string]string{}
	*p = m
	if !d.next('{') {
		return false
	}
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		k, ok := d.rawString()
		if !ok || !d.next(':') {
			return false
		}
		v, ok := d.rawString()
		if !ok {
			return false
		}
		m[k] = v // a repeated key: the last wins, as with encoding/json
		if d.next(',') {
			continue
		}
		return d.next('}')
	}
}

// skip moves past one JSON value and returns it. It only finds the end: encoding/json checks
// the value when raw decodes it.
func (d *fastDec) skip() ([]byte, bool) {
	d.ws()
	start := d.i
	depth := 0
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch c {
		case '"':
			d.i++
			for d.i < len(d.b) && d.b[d.i] != '"' {
				if d.b[d.i] == '\\' {
					d.i++
				}
				d.i++
			}
			if d.i >= len(d.b) {
				return nil, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return d.b[start:d.i], d.i > start
			}
			depth--
		case ',':
			if depth == 0 {
				return d.b[start:d.i], d.i > start
			}
		}
		d.i++
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return d.b[start:d.i], true
		}
	}
	if depth == 0 && d.i > start {
		return d.b[start:d.i], true
	}
	return nil, false
}

// raw hands one value to encoding/json, for a field this decoder has no code for: only that
// field's type pays the reflection. null gives up (it would leave the field as it is).
func (d *fastDec) raw(v any) bool {
	b, ok := d.skip()
	if !ok || string(b) == "null" {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false
	}
	return true
}

func (d *fastDec) process(p *specs.Process) bool {
	return d.object(func(key string) bool {
		switch key {
		case "terminal":
			return d.bool(&p.Terminal)
		case "consoleSize":
			return d.raw(&p.ConsoleSize)
		case "user":
			u := &p.User
			return d.object(func(k string) bool {
				switch k {
				case "uid":
					return d.u32(&u.UID)
				case "gid":
					return d.u32(&u.GID)
				case "umask":
					u.Umask = new(uint32)
					return d.u32(u.Umask)
				case "additionalGids":
					return d.u32s(&u.AdditionalGids)
				case "username":
					return d.str(&u.Username)
				}
				return false
			})
		case "args":
			return d.strings(&p.Args)
		case "commandLine":
			return d.str(&p.CommandLine)
		case "env":
			return d.strings(&p.Env)
		case "cwd":
			return d.str(&p.Cwd)
		case "capabilities":
			c := &specs.LinuxCapabilities{}
			p.Capabilities = c
			return d.object(func(k string) bool {
				switch k {
				case "bounding":
					return d.strings(&c.Bounding)
				case "effective":
					return d.strings(&c.Effective)
				case "inheritable":
					return d.strings(&c.Inheritable)
				case "permitted":
					return d.strings(&c.Permitted)
				case "ambient":
					return d.strings(&c.Ambient)
				}
				return false
			})
		case "rlimits":
			return d.array(func() bool {
				p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{})
				r := &p.Rlimits[len(p.Rlimits)-1]
				return d.object(func(k string) bool {
					var ok bool
					switch k {
					case "type":
						return d.str(&r.Type)
					case "hard":
						r.Hard, ok = d.uint(64)
						return ok
					case "soft":
						r.Soft, ok = d.uint(64)
						return ok
					}
					return false
				})
			}, func() { p.Rlimits = []specs.POSIXRlimit{} })
		case "noNewPrivileges":
			return d.bool(&p.NoNewPrivileges)
		case "apparmorProfile":
			return d.str(&p.ApparmorProfile)
		case "oomScoreAdj":
			v, ok := d.int(strconv.IntSize)
			n := int(v)
			p.OOMScoreAdj = &n
			return ok
		case "selinuxLabel":
			return d.str(&p.SelinuxLabel)
		case "scheduler":
			return d.raw(&p.Scheduler)
		case "ioPriority":
			return d.raw(&p.IOPriority)
		case "execCPUAffinity":
			return d.raw(&p.ExecCPUAffinity)
		}
		return false
	})
}

func (d *fastDec) mount(m *specs.Mount) bool {
	return d.object(func(key string) bool {
		switch key {
		case "destination":
			return d.str(&m.Destination)
		case "type":
			return d.str(&m.Type)
		case "source":
			return d.str(&m.Source)
		case "options":
			return d.strings(&m.Options)
		case "uidMappings":
			return d.idMaps(&m.UIDMappings)
		case "gidMappings":
			return d.idMaps(&m.GIDMappings)
		}
		return false
	})
}

func (d *fastDec) idMaps(p *[]specs.LinuxIDMapping) bool {
	var out []specs.LinuxIDMapping
	ok := d.array(func() bool {
		out = append(out, specs.LinuxIDMapping{})
		m := &out[len(out)-1]
		return d.object(func(k string) bool {
			switch k {
			case "containerID":
				return d.u32(&m.ContainerID)
			case "hostID":
				return d.u32(&m.HostID)
			case "size":
				return d.u32(&m.Size)
			}
			return false
		})
	}, func() { out = []specs.LinuxIDMapping{} })
	*p = out
	return ok
}

func (d *fastDec) linux(l *specs.Linux) bool {
	return d.object(func(key string) bool {
		switch key {
		case "uidMappings":
			return d.idMaps(&l.UIDMappings)
		case "gidMappings":
			return d.idMaps(&l.GIDMappings)
		case "sysctl":
			return d.strMap(&l.Sysctl)
		case "resources":
			l.Resources = &specs.LinuxResources{}
			return d.resources(l.Resources)
		case "cgroupsPath":
			return d.str(&l.CgroupsPath)
		case "namespaces":
			return d.array(func() bool {
				l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{})
				ns := &l.Namespaces[len(l.Namespaces)-1]
				return d.object(func(k string) bool {
					switch k {
					case "type":
						var t string
						ok := d.str(&t)
						ns.Type = specs.LinuxNamespaceType(t)
						return ok
					case "path":
						return d.str(&ns.Path)
					}
					return false
				})
			}, func() { l.Namespaces = []specs.LinuxNamespace{} })
		case "devices":
			return d.raw(&l.Devices)
		case "netDevices":
			return d.raw(&l.NetDevices)
		case "seccomp":
			return d.raw(&l.Seccomp)
		case "rootfsPropagation":
			return d.str(&l.RootfsPropagation)
		case "maskedPaths":
			return d.strings(&l.MaskedPaths)
		case "readonlyPaths":
			return d.strings(&l.ReadonlyPaths)
		case "mountLabel":
			return d.str(&l.MountLabel)
		case "intelRdt":
			return d.raw(&l.IntelRdt)
		case "memoryPolicy":
			return d.raw(&l.MemoryPolicy)
		case "personality":
			return d.raw(&l.Personality)
		case "timeOffsets":
			return d.raw(&l.TimeOffsets)
		}
		return false
	})
}

func (d *fastDec) resources(r *specs.LinuxResources) bool {
	return d.object(func(key string) bool {
		switch key {
		case "devices":
			return d.array(func() bool {
				r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{})
				dev := &r.Devices[len(r.Devices)-1]
				return d.object(func(k string) bool {
					switch k {
					case "allow":
						return d.bool(&dev.Allow)
					case "type":
						return d.str(&dev.Type)
					case "major", "minor":
						v, ok := d.int(64)
						if k == "major" {
							dev.Major = &v
						} else {
							dev.Minor = &v
						}
						return ok
					case "access":
						return d.str(&dev.Access)
					}
					return false
				})
			}, func() { r.Devices = []specs.LinuxDeviceCgroup{} })
		case "memory":
			return d.raw(&r.Memory)
		case "cpu":
			return d.raw(&r.CPU)
		case "pids":
			return d.raw(&r.Pids)
		case "blockIO":
			return d.raw(&r.BlockIO)
		case "hugepageLimits":
			return d.raw(&r.HugepageLimits)
		case "network":
			return d.raw(&r.Network)
		case "rdma":
			return d.raw(&r.Rdma)
		case "unified":
			return d.raw(&r.Unified)
		}
		return false
	})
}
