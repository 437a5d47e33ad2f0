package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Size is a byte count, written in the file as a string with an optional
// unit ("10MiB", "10m" as Docker's log max-size, "512k", "1G") or as a
// plain integer of bytes. Units are powers of 1024 whichever spelling is
// used, as in Docker and Podman.
type Size int64

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// ParseSize reads a size as the file writes it.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || num[0] == '-' || num[0] == '+' || !ok {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (k, m, g, t; KiB, MiB, ...)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (k, m, g, t; KiB, MiB, ...)", s)
	}
	if err != nil || n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q: out of range", s)
	}
	return Size(n * mult), nil
}

// UnmarshalText lets the TOML decoder take a size as a string.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// String prints the size in the largest binary unit that divides it.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.n == 0 {
			return strconv.FormatInt(int64(s)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}
