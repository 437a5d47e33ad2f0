package engine

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateHealth(t *testing.T) {
	for _, tc := range []struct {
		h    *HealthConfig
		want string // "" ok
	}{
		{nil, ""},
		{&HealthConfig{}, ""},
		{&HealthConfig{Test: []string{"NONE"}}, ""},
		{&HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Millisecond}, ""},
		{&HealthConfig{Test: []string{"CMD-SHELL", "exit 0"}, Retries: 1}, ""},
		{&HealthConfig{Interval: time.Microsecond}, "Interval in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Timeout: 1}, "Timeout in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{StartPeriod: -time.Second}, "StartPeriod in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{StartInterval: 999 * time.Microsecond}, "StartInterval in Healthcheck cannot be less than 1ms"},
		{&HealthConfig{Retries: -1}, "Retries in Healthcheck cannot be negative"},
		{&HealthConfig{Test: []string{"CMD"}}, "CMD needs a command"},
		{&HealthConfig{Test: []string{"CMD-SHELL", "a", "b"}}, "CMD-SHELL needs one command string"},
		{&HealthConfig{Test: []string{"HTTP", "x"}}, "unknown test type"},
	} {
		err := ValidateHealth(tc.h)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("ValidateHealth(%+v) = %v, want %q", tc.h, err, tc.want)
		}
	}
}

func TestMergeHealth(t *testing.T) {
	img := &HealthConfig{Test: []string{"CMD", "img"}, Interval: time.Second, Timeout: 2 * time.Second,
		StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}
	for _, tc := range []struct {
		name       string
		user, want *HealthConfig
	}{
		{"no user", nil, img},
		{"user only fields", &HealthConfig{Retries: 9}, &HealthConfig{Test: img.Test, Interval: time.Second, Timeout: 2 * time.Second,
			StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 9}},
		{"user test", &HealthConfig{Test: []string{"CMD-SHELL", "u"}}, &HealthConfig{Test: []string{"CMD-SHELL", "u"}, Interval: time.Second,
			Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}},
		{"none", &HealthConfig{Test: []string{"NONE"}}, &HealthConfig{Test: []string{"NONE"}, Interval: time.Second,
			Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}},
	} {
		got := mergeHealth(tc.user, img)
		if !slices.Equal(got.Test, tc.want.Test) || got.Interval != tc.want.Interval || got.Timeout != tc.want.Timeout ||
			got.StartPeriod != tc.want.StartPeriod || got.StartInterval != tc.want.StartInterval || got.Retries != tc.want.Retries {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if mergeHealth(nil, nil) != nil {
		t.Error("no check at all gave one")
	}
	u := &HealthConfig{Interval: time.Second}
	if got := mergeHealth(u, nil); got.Interval != time.Second || len(got.Test) != 0 {
		t.Errorf("user without image: %+v", got)
	}
}

func TestProbeArgs(t *testing.T) {
	for _, tc := range []struct {
		test, shell, want []string
	}{
		{[]string{"CMD", "a", "b"}, nil, []string{"a", "b"}},
		{[]string{"CMD-SHELL", "x y"}, nil, []string{"/bin/sh", "-c", "x y"}},
		{[]string{"CMD-SHELL", "x"}, []string{"/bin/bash", "-ec"}, []string{"/bin/bash", "-ec", "x"}},
	} {
		if got := probeArgs(&HealthConfig{Test: tc.test}, tc.shell); !slices.Equal(got, tc.want) {
			t.Errorf("probeArgs(%v, %v) = %v, want %v", tc.test, tc.shell, got, tc.want)
		}
	}
}
