package engine

import "testing"

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    RestartPolicy
		wantErr bool
	}{
		{"", RestartPolicy{Name: "no"}, false},
		{"no", RestartPolicy{Name: "no"}, false},
		{"always", RestartPolicy{Name: "always"}, false},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, false},
		{"on-failure", RestartPolicy{Name: "on-failure"}, false},
		{"on-failure:5", RestartPolicy{Name: "on-failure", MaximumRetryCount: 5}, false},
		{"on-failure:-1", RestartPolicy{}, true},
		{"on-failure:x", RestartPolicy{}, true},
		{"always:2", RestartPolicy{}, true},
		{"no:1", RestartPolicy{}, true},
		{"sometimes", RestartPolicy{}, true},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if (err != nil) != tc.wantErr || err == nil && got != tc.want {
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
