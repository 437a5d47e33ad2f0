package build

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// chmodFn gives a copied file its mode from its own (nil: kept).
type chmodFn func(m fs.FileMode, dir bool) fs.FileMode

// parseChmod reads --chmod: octal (up to 07777), or symbolic clauses as
// chmod(1) takes them and newer BuildKit does ("u+x,go-w", "a=rX").
func parseChmod(s string) (chmodFn, error) {
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.ParseUint(s, 8, 32); err == nil || strings.Trim(s, "0123456789") == "" {
		if err != nil || n > 0o7777 {
			return nil, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
		}
		m := octalMode(uint32(n))
		return func(fs.FileMode, bool) fs.FileMode { return m }, nil
	}
	type clause struct {
		who  uint32 // permission bits the clause touches
		op   byte
		perm string
	}
	var cls []clause
	for _, c := range strings.Split(s, ",") {
		i := 0
		var who uint32
		for ; i < len(c) && strings.IndexByte("ugoa", c[i]) >= 0; i++ {
			who |= map[byte]uint32{'u': 0o4700, 'g': 0o2070, 'o': 0o1007, 'a': 0o7777}[c[i]]
		}
		if who == 0 {
			who = 0o7777
		}
		if i >= len(c) || strings.IndexByte("+-=", c[i]) < 0 {
			return nil, fmt.Errorf("invalid chmod parameter: '%v'", s)
		}
		op := c[i]
		perm := c[i+1:]
		if strings.Trim(perm, "rwxXst") != "" {
			return nil, fmt.Errorf("invalid chmod parameter: '%v'", s)
		}
		cls = append(cls, clause{who, op, perm})
	}
	return func(m fs.FileMode, dir bool) fs.FileMode {
		cur := unixMode(m)
		for _, c := range cls {
			var bits uint32
			for _, p := range c.perm {
				switch p {
				case 'r':
					bits |= 0o444
				case 'w':
					bits |= 0o222
				case 'x':
					bits |= 0o111
				case 'X':
					if dir || cur&0o111 != 0 {
						bits |= 0o111
					}
				case 's':
					bits |= 0o6000
				case 't':
					bits |= 0o1000
				}
			}
			bits &= c.who
			switch c.op {
			case '+':
				cur |= bits
			case '-':
				cur &^= bits
			case '=':
				cur = cur&^(c.who&0o777) | bits
			}
		}
		return octalMode(cur)
	}, nil
}

// octalMode is a Unix mode's bits as a FileMode (setuid etc. included).
func octalMode(n uint32) fs.FileMode {
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func unixMode(m fs.FileMode) uint32 {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return n
}
