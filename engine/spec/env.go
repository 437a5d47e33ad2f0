package spec

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// ResolveEnv resolves one -e value as Docker's CLI does: K=V as given; K alone takes the caller's
// value (lookup, usually os.LookupEnv) and is dropped when the caller has none.
func ResolveEnv(v string, lookup func(string) (string, bool)) (string, bool, error) {
	k, _, hasV := strings.Cut(v, "=")
	if k == "" {
		return "", false, fmt.Errorf("invalid --env %q: empty variable name", v)
	}
	if strings.ContainsFunc(k, unicode.IsSpace) {
		return "", false, fmt.Errorf("invalid --env %q: variable name contains whitespace", v)
	}
	if hasV {
		return v, true, nil
	}
	if val, ok := lookup(k); ok {
		return k + "=" + val, true, nil
	}
	return "", false, nil
}

// ParseEnvFile reads an --env-file as Docker does: one variable a line, blank lines and lines
// starting with # skipped, values taken verbatim (no quotes removed), a name alone resolved
// through lookup. name is the file's name for errors.
func ParseEnvFile(name string, r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeftFunc(sc.Text(), unicode.IsSpace)
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, ok, err := ResolveEnv(line, lookup)
		if err != nil {
			return nil, fmt.Errorf("--env-file %s line %d: %w", name, n, err)
		}
		if ok {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", name, err)
	}
	return out, nil
}
