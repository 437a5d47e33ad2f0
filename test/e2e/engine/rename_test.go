package engine_test

import (
	"strings"
	"testing"
)

func TestRename(t *testing.T) {
	e := newEnv(t)
	id := e.must("run", "-d", "--name", "old", "busybox", "sleep", "600")
	other := e.must("create", "--name", "other", "busybox", "true")
	if out := e.must("rename", "old", "new"); out != "" {
		t.Errorf("rename printed %q", out)
	}
	if got := e.must("ps", "--format", "{{.Names}}"); got != "new" {
		t.Errorf("ps names: %q", got)
	}
	if got := e.must("inspect", "-f", "{{.Name}} {{.State.Running}}", id); got != "/new true" {
		t.Errorf("inspect: %q", got)
	}
	if _, _, code := e.berth("inspect", "old"); code == 0 {
		t.Error("the old name still resolves")
	}
	evs := readEventLog(t, e, id, "rename")
	if len(evs) != 1 || evs[0].Actor.Attributes["oldName"] != "/old" || evs[0].Actor.Attributes["name"] != "new" {
		t.Errorf("rename events: %+v", evs)
	}
	// The old name is free again; an id prefix and a "/" name work.
	e.must("create", "--name", "old", "busybox", "true")
	e.must("rename", id[:10], "newer")
	e.must("rename", "/newer", "new")

	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"same name", "same name", []string{"rename", "new", "new"}},
		{"taken", "already in use", []string{"rename", "new", "other"}},
		{"invalid", "invalid container name", []string{"rename", "new", "_bad"}},
		{"invalid char", "invalid container name", []string{"rename", "new", "a/b"}},
		{"empty", "empty", []string{"rename", "new", ""}},
		{"missing", "no such container", []string{"rename", "gone", "fresh"}},
		{"one arg", "2 arg", []string{"rename", "new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want125(t, e, tc.want, tc.args...)
			got := e.must("ps", "-a", "--format", "{{.Names}}")
			if strings.Join(strings.Fields(got), " ") != "old other new" {
				t.Errorf("names changed: %q", got)
			}
		})
	}
	if got := e.must("inspect", "-f", "{{.Name}}", other); got != "/other" {
		t.Errorf("other: %q", got)
	}
}
