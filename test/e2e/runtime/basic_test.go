package runtime_test

import (
	"strings"
	"testing"
)

func TestRunPid1AndHostname(t *testing.T) {
	e := newEnv(t, "sh", "-c", "echo pid=$$; hostname")
	e.spec.Hostname = "boat"
	out := e.mustRun()
	if !strings.Contains(out, "pid=1\n") || !strings.Contains(out, "boat\n") {
		t.Fatalf("output %q", out)
	}
}

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		want int
	}{
		{"zero", "exit 0", 0},
		{"three", "exit 3", 3},
		{"child killed", "sh -c 'kill -9 $$'; exit $?", 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "sh", "-c", tt.cmd)
			if r := e.run(); r.code != tt.want {
				t.Fatalf("want exit %d, got %s", tt.want, r)
			}
		})
	}
}
