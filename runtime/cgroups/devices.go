package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// devRule is a validated device rule.
type devRule struct {
	allow        bool
	typ          byte  // 'a', 'b' or 'c'
	major, minor int64 // -1 = any
	access       uint8 // accMknod|accRead|accWrite
}

// Access bits, numbered as the kernel's BPF_DEVCG_ACC_* (the v2 program compares them as is).
const (
	accMknod = 1
	accRead  = 2
	accWrite = 4
	accAll   = accMknod | accRead | accWrite
)

func parseDevRules(rules []specs.LinuxDeviceCgroup) ([]devRule, error) {
	out := make([]devRule, 0, len(rules))
	for i, r := range rules {
		d := devRule{allow: r.Allow, major: -1, minor: -1}
		switch r.Type {
		case "", "a":
			d.typ = 'a'
		case "b", "c":
			d.typ = r.Type[0]
		default:
			return nil, fmt.Errorf("device rule %d: invalid type %q (want a, b or c)", i, r.Type)
		}
		if d.typ != 'a' {
			if r.Major != nil {
				if *r.Major < -1 || *r.Major > 0xfff {
					return nil, fmt.Errorf("device rule %d: invalid major %d", i, *r.Major)
				}
				d.major = *r.Major
			}
			if r.Minor != nil {
				if *r.Minor < -1 || *r.Minor > 0xfffff {
					return nil, fmt.Errorf("device rule %d: invalid minor %d", i, *r.Minor)
				}
				d.minor = *r.Minor
			}
		}
		if r.Access == "" {
			d.access = accAll
		}
		for _, c := range r.Access {
			switch c {
			case 'r':
				d.access |= accRead
			case 'w':
				d.access |= accWrite
			case 'm':
				d.access |= accMknod
			default:
				return nil, fmt.Errorf("device rule %d: invalid access %q (want letters of rwm)", i, r.Access)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// wildcard reports whether the rule matches every device and every access.
func (d devRule) wildcard() bool { return d.typ == 'a' && d.access == accAll }

// v1String renders the rule as devices.allow/devices.deny take it: "c 1:3 rwm", "a".
func (d devRule) v1String() string {
	if d.typ == 'a' {
		// The kernel reads "a" as every device with every access, whatever follows.
		return "a"
	}
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	var acc strings.Builder
	if d.access&accRead != 0 {
		acc.WriteByte('r')
	}
	if d.access&accWrite != 0 {
		acc.WriteByte('w')
	}
	if d.access&accMknod != 0 {
		acc.WriteByte('m')
	}
	return fmt.Sprintf("%c %s:%s %s", d.typ, num(d.major), num(d.minor), acc.String())
}

// setV1Devices writes the rules in order. A v1 cgroup starts with its parent's list, so a
// leading deny-all resets it to "nothing allowed" and the allow rules after it build the list.
// A partial "a" rule cannot be expressed in v1, where "a" always means everything.
func setV1Devices(dir string, rules []specs.LinuxDeviceCgroup) error {
	rs, err := parseDevRules(rules)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.typ == 'a' && r.access != accAll {
			return errors.New("device rule for all devices with partial access is not supported on cgroup v1")
		}
	}
	// Each write(2) to devices.allow or devices.deny is one rule, so a run of rules for the
	// same file goes through one open file: the default set (deny all, then nine allows) takes
	// two opens instead of ten.
	w := &fileWriter{}
	defer w.close()
	for _, r := range rs {
		file := "devices.deny"
		if r.allow {
			file = "devices.allow"
		}
		if err := w.write(dir, file, r.v1String()); err != nil {
			return fmt.Errorf("device rule %q: %w", r.v1String(), err)
		}
	}
	return nil
}
