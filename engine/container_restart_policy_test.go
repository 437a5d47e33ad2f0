package engine

import (
	"strings"
	"testing"
	"time"
)

func TestParseRestartPolicyMessages(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		err  string
	}{
		{"", RestartPolicy{Name: "no"}, ""},
		{"no", RestartPolicy{Name: "no"}, ""},
		{"always", RestartPolicy{Name: "always"}, ""},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, ""},
		{"on-failure", RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:3", RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, ""},
		{"on-failure:", RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:x", RestartPolicy{}, "must be an integer"},
		{"on-failure:-2", RestartPolicy{}, "cannot be negative"},
		{"always:1", RestartPolicy{}, "only be used with 'on-failure'"},
		{":1", RestartPolicy{}, "no policy provided"},
		{"sometimes", RestartPolicy{}, "unknown policy 'sometimes'"},
	} {
		got, err := ParseRestartPolicy(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one with %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestRestartDecision(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		c       Container
		restart bool
		delay   time.Duration
	}{
		{"no policy", Container{ExitCode: 1}, false, 0},
		{"always, first", Container{RestartPolicy: RestartPolicy{Name: "always"}}, true, 100 * time.Millisecond},
		{"always, doubling", Container{RestartPolicy: RestartPolicy{Name: "always"}, Restart: RestartState{DelayMS: 400}}, true, 800 * time.Millisecond},
		{"always, capped", Container{RestartPolicy: RestartPolicy{Name: "always"}, Restart: RestartState{DelayMS: 40000}}, true, time.Minute},
		{"always, reset after 10 s", Container{RestartPolicy: RestartPolicy{Name: "always"}, Restart: RestartState{DelayMS: 6400},
			Started: start, Finished: start.Add(10 * time.Second)}, true, 100 * time.Millisecond},
		{"always, cancelled by stop", Container{RestartPolicy: RestartPolicy{Name: "always"}, Restart: RestartState{Cancelled: true}}, false, 0},
		{"unless-stopped", Container{RestartPolicy: RestartPolicy{Name: "unless-stopped"}}, true, 100 * time.Millisecond},
		{"unless-stopped, stopped", Container{RestartPolicy: RestartPolicy{Name: "unless-stopped"}, Restart: RestartState{ManuallyStopped: true}}, false, 100 * time.Millisecond},
		{"on-failure, 0", Container{RestartPolicy: RestartPolicy{Name: "on-failure"}}, false, 100 * time.Millisecond},
		{"on-failure, 1", Container{RestartPolicy: RestartPolicy{Name: "on-failure"}, ExitCode: 1, RestartCount: 50}, true, 100 * time.Millisecond},
		{"on-failure:2, 1 done", Container{RestartPolicy: RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, ExitCode: 1, RestartCount: 1}, true, 100 * time.Millisecond},
		{"on-failure:2, 2 done", Container{RestartPolicy: RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, ExitCode: 1, RestartCount: 2}, false, 100 * time.Millisecond},
	} {
		restart, delay := tc.c.restartDecision()
		if restart != tc.restart || (restart && delay != tc.delay) {
			t.Errorf("%s: %v after %v, want %v after %v", tc.name, restart, delay, tc.restart, tc.delay)
		}
	}
}

func TestParseKillAt(t *testing.T) {
	for in, want := range map[string]struct {
		name string
		n    int64
	}{"": {"", 1}, "pin": {"pin", 1}, "pin:3": {"pin", 3}, "pin:x": {"pin", 1}} {
		if name, n := parseKillAt(in); name != want.name || n != want.n {
			t.Errorf("%q: %q %d", in, name, n)
		}
	}
}
