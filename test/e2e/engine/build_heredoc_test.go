package engine_test

import "testing"

// TestBuildHeredoc: RUN <<EOF runs the script by the shell, a #! script
// as a file; heredocs after a command are its input; COPY <<EOF writes
// files, expanded unless the delimiter is quoted.
func TestBuildHeredoc(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{"Dockerfile": `# syntax=docker/dockerfile:1
FROM busybox
ARG WHO=world
RUN <<EOF
echo "hello $WHO" > /one
echo second >> /one
EOF
RUN <<EOF
#!/bin/sh -e
echo "script $0" > /two
EOF
RUN cat > /three <<A && cat >> /three <<-B
from a
A
	from b
	B
COPY <<X <<'Y' /files/
$WHO
X
$WHO
Y
COPY <<EOF /named.txt
named
EOF
`})
	e.build("-t", "hd", "--build-arg", "WHO=you", dir)
	for file, want := range map[string]string{
		"/one":       "hello you\nsecond",
		"/two":       "script /dev/pipes/EOF",
		"/three":     "from a\nfrom b",
		"/files/X":   "you",
		"/files/Y":   "$WHO",
		"/named.txt": "named",
	} {
		if got := e.must("run", "--rm", "hd", "cat", file); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	if out, _, code := e.berth("run", "--rm", "hd", "ls", "-d", "/dev/pipes"); code == 0 {
		t.Errorf("/dev/pipes is in the image: %s", out)
	}
	// The scripts are in the cache key.
	e.build("-t", "hd", "--build-arg", "WHO=them", dir)
	if got := e.must("run", "--rm", "hd", "cat", "/one", "/files/X"); got != "hello them\nsecond\nthem" {
		t.Errorf("rebuilt: %q", got)
	}
}
