package importer

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChanges(t *testing.T) {
	tests := []struct {
		changes []string
		want    string // JSON of the config
		err     string
	}{
		{[]string{`CMD ["sh"]`}, `{"Cmd":["sh"]}`, ""},
		{[]string{`CMD echo hi`}, `{"Cmd":["/bin/sh","-c","echo hi"]}`, ""},
		{[]string{`CMD ["a"]`, `ENTRYPOINT ["/e"]`}, `{"Entrypoint":["/e"]}`, ""},
		{[]string{`ENV A=b C="d e"`, `ENV A=x`}, `{"Env":["A=x","C=d e"]}`, ""},
		{[]string{`ENV OLD form value`}, `{"Env":["OLD=form value"]}`, ""},
		{[]string{`LABEL a=1 'b c'=2`}, `{"Labels":{"a":"1","b c":"2"}}`, ""},
		{[]string{`EXPOSE 80 53/udp 8000-8010`}, `{"ExposedPorts":{"53/udp":{},"80/tcp":{},"8000-8010/tcp":{}}}`, ""},
		{[]string{`VOLUME ["/data", "/logs"]`}, `{"Volumes":{"/data":{},"/logs":{}}}`, ""},
		{[]string{`WORKDIR /x`, `WORKDIR y`}, `{"WorkingDir":"/x/y"}`, ""},
		{[]string{`workdir rel`}, `{"WorkingDir":"/rel"}`, ""},
		{[]string{`USER 1000:1000`, `STOPSIGNAL SIGINT`}, `{"User":"1000:1000","StopSignal":"SIGINT"}`, ""},
		{[]string{`RUN true`}, ``, "unsupported instruction RUN"},
		{[]string{`CMD`}, ``, "CMD requires at least one argument"},
		{[]string{``}, ``, "empty instruction"},
		{[]string{`CMD ["x"`}, `{"Cmd":["/bin/sh","-c","[\"x\""]}`, ""}, // not JSON: the shell form, as in a Dockerfile
		{[]string{`EXPOSE 99999`}, ``, "invalid port"},
		{[]string{`EXPOSE 80/icmp`}, ``, "invalid port"},
		{[]string{`ENV A="unterminated`}, ``, "looking for matching double-quote"},
		{[]string{`ENV A=1 =2`}, ``, "ENV names can not be blank"},
	}
	for _, tc := range tests {
		var cfg v1.Config
		err := ApplyChanges(&cfg, tc.changes)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.changes, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.changes, err)
			continue
		}
		b, _ := json.Marshal(cfg)
		if string(b) != tc.want {
			t.Errorf("%q = %s, want %s", tc.changes, b, tc.want)
		}
	}
}
