package engine

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"10m", now.Add(-10 * time.Minute), false},
		{"1h30m", now.Add(-90 * time.Minute), false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"1700000000.5", time.Unix(1700000000, 5e8), false},
		{"2026-12-01T10:00:00Z", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), false},
		{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local), false},
		{"yesterday", time.Time{}, true},
		{"1700000000.x", time.Time{}, true},
		{"", time.Time{}, true},
	} {
		got, err := ParseTimestamp(tc.in, now)
		if (err != nil) != tc.err || err == nil && !got.Equal(tc.want) {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestPruneFilter(t *testing.T) {
	now := time.Now()
	old := &Container{Created: now.Add(-2 * time.Hour), Config: ContainerConfig{Labels: map[string]string{"a": "1", "keep": ""}}}
	young := &Container{Created: now, Config: ContainerConfig{Labels: map[string]string{"a": "2"}}}
	for _, tc := range []struct {
		args       []string
		old, young bool
	}{
		{nil, true, true},
		{[]string{"until=1h"}, true, false},
		{[]string{"label=a"}, true, true},
		{[]string{"label=a=2"}, false, true},
		{[]string{"label!=keep"}, false, true},
		{[]string{"label=a", "label!=a=1"}, false, true},
	} {
		f, err := ParsePruneFilters(tc.args, now)
		if err != nil {
			t.Fatal(err)
		}
		if f.Match(old) != tc.old || f.Match(young) != tc.young {
			t.Errorf("%v: old %v young %v", tc.args, f.Match(old), f.Match(young))
		}
	}
	for _, bad := range []string{"until", "until=", "dangling=true", "until=soon"} {
		if _, err := ParsePruneFilters([]string{bad}, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
