package engine_test

import (
	"runtime"
	"strings"
	"testing"
)

// TestBuildPlatform: BuildKit's automatic platform ARGs, the
// cross-build pattern (a RUN stage on $BUILDPLATFORM, a final stage for
// --platform made without RUN), and RUN for another platform refused.
func TestBuildPlatform(t *testing.T) {
	e := newEnv(t)
	host := "linux/" + runtime.GOARCH
	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	otherArch := strings.TrimPrefix(other, "linux/")

	// The args in FROM without a declaration, in a stage after a bare ARG.
	dir := buildCtx(t, map[string]string{"Dockerfile": `FROM --platform=$BUILDPLATFORM busybox AS tools
ARG TARGETPLATFORM
ARG TARGETARCH
ARG BUILDPLATFORM
RUN echo "$BUILDPLATFORM->$TARGETPLATFORM $TARGETARCH" > /made
FROM scratch
COPY --from=tools /made /made
`})
	e.build("-t", "cross", "--platform", other, dir)
	if got := e.must("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "cross"); strings.TrimSpace(got) != other {
		t.Errorf("image platform %q, want %s", got, other)
	}
	// The file the host-platform stage made, read back through a host image.
	e.build("-t", "crossread", buildCtx(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY --from=cross /made /made\n"}))
	want := host + "->" + other + " " + otherArch
	if got := e.must("run", "--rm", "--network", "none", "crossread", "cat", "/made"); strings.TrimSpace(got) != want {
		t.Errorf("RUN saw %q, want %q", got, want)
	}

	// Without --platform the target is the host.
	e.build("-t", "native", dir)
	if got := e.must("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "native"); strings.TrimSpace(got) != host {
		t.Errorf("image platform %q, want %s", got, host)
	}

	bad := []struct {
		name, dockerfile, platform, want string
		code                             int
	}{
		{"run for another platform", "FROM --platform=" + other + " busybox\nRUN true\n", "", "RUN in a stage for " + other + ": only " + host + " can run here (no emulation)", 1},
		{"build --platform with RUN", "FROM scratch\nCOPY Dockerfile /\nFROM busybox\nRUN true\n", other, "no emulation", 1},
		{"bad FROM --platform", "FROM --platform=/amd64 busybox\n", "", "invalid platform", 1},
		{"windows", "FROM --platform=windows/amd64 busybox\n", "", "only linux images can be built", 1},
		{"bad --platform", "FROM busybox\n", "linux/amd64/v2/x", "invalid platform", 125},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"build", "--network", "none", "--progress", "plain"}
			if tc.platform != "" {
				args = append(args, "--platform", tc.platform)
			}
			_, errOut, code := e.berth(append(args, buildCtx(t, map[string]string{"Dockerfile": tc.dockerfile}))...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, errOut)
			}
		})
	}
}
