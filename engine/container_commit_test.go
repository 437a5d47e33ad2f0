package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseCommitChanges(t *testing.T) {
	for _, c := range []struct {
		changes []string
		want    v1.Config
		err     string
	}{
		{changes: []string{`CMD ["a", "b"]`, "ENV A=1 B=2", "WORKDIR /w", "USER 7"},
			want: v1.Config{Cmd: []string{"a", "b"}, Env: []string{"A=1", "B=2"}, WorkingDir: "/w", User: "7"}},
		{changes: []string{"ONBUILD RUN make"}, want: v1.Config{OnBuild: []string{"RUN make"}}},
		{changes: []string{"HEALTHCHECK NONE"}, want: v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}}}},
		{changes: []string{"HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost"},
			want: v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"CMD-SHELL", "wget -q localhost"}, Interval: 5 * time.Second, Retries: 2}}},
		{changes: []string{`HEALTHCHECK CMD ["true"]`}, want: v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}},
		{changes: []string{"FROM x"}, err: "FROM is not a valid change command"},
		{changes: []string{"run x"}, err: "run is not a valid change command"},
		{changes: []string{"ONBUILD FROM x"}, err: "FROM isn't allowed as an ONBUILD trigger"},
		{changes: []string{"HEALTHCHECK --bogus=1 CMD x"}, err: "unknown flag: --bogus"},
		{changes: []string{"HEALTHCHECK --interval=x CMD x"}, err: `invalid duration "x"`},
	} {
		got, err := parseCommitChanges(c.changes)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.changes, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %+v %v, want %+v", c.changes, got, err, c.want)
		}
	}
}

func TestCommitConfig(t *testing.T) {
	ctr := ContainerConfig{Env: []string{"A=ctr", "C=3"}, Cmd: []string{"sh"}, Entrypoint: nil, WorkingDir: "/c",
		Labels: map[string]string{"l": "ctr", "m": "ctr"}, Volumes: map[string]struct{}{"/v": {}}, User: "u"}
	img := v1.Config{ExposedPorts: map[string]struct{}{"80/tcp": {}}}
	got := commitConfig(v1.Config{Env: []string{"A=chg"}, Labels: map[string]string{"l": "chg"}}, ctr, img)
	if !reflect.DeepEqual(got.Env, []string{"A=chg", "C=3"}) || got.Labels["l"] != "chg" || got.Labels["m"] != "ctr" ||
		!reflect.DeepEqual(got.Cmd, []string{"sh"}) || got.WorkingDir != "/c" || got.User != "u" {
		t.Errorf("merge: %+v", got)
	}
	if _, ok := got.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("ports: %v", got.ExposedPorts)
	}
	// A new entrypoint drops the container's command.
	got = commitConfig(v1.Config{Entrypoint: []string{"/e"}}, ctr, img)
	if got.Cmd != nil || !reflect.DeepEqual(got.Entrypoint, []string{"/e"}) {
		t.Errorf("entrypoint change: cmd %q entrypoint %q", got.Cmd, got.Entrypoint)
	}
}
