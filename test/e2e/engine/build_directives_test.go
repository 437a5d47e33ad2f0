package engine_test

import (
	"strings"
	"testing"
)

// TestBuildDirectives: the parser directives (syntax of the built-in
// front end, escape, check) and COPY --link.
func TestBuildDirectives(t *testing.T) {
	e := newEnv(t)
	dir := buildCtx(t, map[string]string{
		"Dockerfile": "# syntax=docker/dockerfile:1.7\n# escape=`\n# check=skip=JSONArgsRecommended;error=false\nFROM busybox\n" +
			"COPY --link a.txt /linked/\nRUN echo one `\n  two > /escaped\nCMD cat /linked/a.txt /escaped\n",
		"a.txt": "A\n",
	})
	e.build("-t", "directives", dir)
	if got := strings.TrimSpace(e.must("run", "--rm", "--network", "none", "directives")); got != "A\none two" {
		t.Errorf("run: %q", got)
	}
	_, errOut, code := e.berth("build", "--network", "none", buildCtx(t, map[string]string{
		"Dockerfile": "# syntax=example.com/other/frontend:1\nFROM busybox\n"}))
	if code != 1 || !strings.Contains(errOut, "only the built-in Dockerfile front end") {
		t.Errorf("another front end: exit %d\n%s", code, errOut)
	}
}
