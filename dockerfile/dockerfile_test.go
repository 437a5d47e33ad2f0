package dockerfile

import (
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  string
		err   string
	}{
		{[]string{`CMD echo hi`}, `{"Cmd":["/bin/sh","-c","echo hi"]}`, ""},
		{[]string{`SHELL ["/bin/ash", "-ec"]`, `CMD echo hi`}, `{"Cmd":["/bin/ash","-ec","echo hi"],"Shell":["/bin/ash","-ec"]}`, ""},
		{[]string{`CMD ["a"]`, `ENTRYPOINT ["/e"]`}, `{"Entrypoint":["/e"]}`, ""},
		{[]string{`ENV A=b C="d e"`, `ENV A=x`}, `{"Env":["A=x","C=d e"]}`, ""},
		{[]string{`EXPOSE 80 53/udp 8000-8010`}, `{"ExposedPorts":{"53/udp":{},"80/tcp":{},"8000-8010/tcp":{}}}`, ""},
		{[]string{`WORKDIR /x`, `WORKDIR y`}, `{"WorkingDir":"/x/y"}`, ""},
		{[]string{`HEALTHCHECK --interval=5s CMD true`}, `{"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000}}`, ""},
		{[]string{`STOPSIGNAL SIGINT`, `USER 7:7`}, `{"User":"7:7","StopSignal":"SIGINT"}`, ""},
		{[]string{`ONBUILD RUN make`}, `{"OnBuild":["RUN make"]}`, ""},
		{[]string{`EXPOSE 99999`}, ``, "invalid port"},
		{[]string{`STOPSIGNAL !!`}, ``, "invalid signal"},
		{[]string{`RUN true`}, ``, "does not change the image config"},
		{[]string{`BOGUS x`}, ``, "unknown instruction: BOGUS"},
		{[]string{``}, ``, "empty instruction"},
	} {
		var cfg v1.Config
		var err error
		for _, l := range tc.lines {
			c, perr := ParseChange(l, cfg.Env)
			if perr == nil {
				perr = Apply(&cfg, c)
			}
			if perr != nil {
				err = perr
				break
			}
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.lines, err, tc.err)
			}
			continue
		}
		b, _ := json.Marshal(cfg)
		if err != nil || string(b) != tc.want {
			t.Errorf("%q = %s %v, want %s", tc.lines, b, err, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ src, err string }{
		{"ARG B=busybox\nFROM $B AS one\nRUN true\nFROM one\nCOPY . /\n", ""},
		{"# syntax=docker/dockerfile:1.7\nFROM scratch\n", ""},
		{"# syntax=example.com/frontend\nFROM scratch\n", "only the built-in Dockerfile front end"},
		{"FROM scratch\nFOO bar\n", "dockerfile parse error on line 2: unknown instruction: FOO"},
		{"RUN true\n", "no build stage in current context"},
		{"", "file with no instructions"},
		{"# syntax=docker/dockerfile:1\nFROM scratch\nCOPY <<EOF /x\nhi\nEOF\nRUN <<A cat >/y <<-B\na\nA\n\tb\n\tB\n", ""},
		{"FROM scratch\nRUN <<EOF\nhi\n", "unterminated heredoc"},
		{"FROM scratch\nENV\n", "line 2: ENV requires at least one argument"},
	} {
		_, err := Parse(strings.NewReader(tc.src))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: err %v, want %q", tc.src, err, tc.err)
		}
	}
}

// FuzzParse: any input gives stages or an error, never a panic, and
// every stage's commands apply or fail cleanly.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FROM busybox\nRUN echo hi\nCOPY --chown=1:1 a b /c/\nENV A=$B\n",
		"ARG X\nFROM ${X:-scratch} AS s\nHEALTHCHECK --interval=1s CMD [\"true\"]\nEXPOSE 80/udp\n",
		"# escape=`\nFROM x\nRUN a `\n b\n",
		"FROM a\nONBUILD RUN x\nSHELL [\"sh\"]\nCMD x\nENTRYPOINT [\"y\"]\n",
		"FROM a\nRUN <<EOF\necho $A\nEOF\nCOPY <<X <<'Y' /d/\n$B\nX\n$A\nY\n",
		"FROM a\nRUN --mount=type=cache,target=/c,id=$A --mount=type=secret,id=s,required true\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		df, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		// As the builder calls it: variables expanded from the config's
		// env, then the config instructions applied.
		cfg := v1.Config{Env: []string{"A=1", "B=$A"}}
		for _, st := range df.Stages {
			for _, c := range st.Commands {
				if err := Expand(c, cfg.Env, df.EscapeToken); err != nil {
					continue
				}
				if IsConfig(c) {
					_ = Apply(&cfg, c)
				}
				if r, ok := c.(*instructions.RunCommand); ok {
					_ = instructions.GetMounts(r)
					_ = CommandLine(&cfg, r.ShellDependantCmdLine)
				}
			}
		}
	})
}
