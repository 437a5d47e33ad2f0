package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
)

func TestParseEventTime(t *testing.T) {
	now := time.Date(2024, 3, 4, 10, 0, 0, 500, time.UTC)
	loc := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"10m", time.Unix(now.Add(-10*time.Minute).Unix(), 0)},
		{"1h30m", time.Unix(now.Add(-90*time.Minute).Unix(), 0)},
		{"2024-01-02", loc("2024-01-02T00:00:00")},
		{"2024-01-02T15", loc("2024-01-02T15:00:00")},
		{"2024-01-02T15:04", loc("2024-01-02T15:04:00")},
		{"2024-01-02T15:04:05", loc("2024-01-02T15:04:05")},
		{"2024-01-02T15:04:05.123", loc("2024-01-02T15:04:05.123")},
		{"2024-01-02T15:04:05Z", time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"2024-01-02T15:04:05.123456789Z", time.Date(2024, 1, 2, 15, 4, 5, 123456789, time.UTC)},
		{"2024-01-02T15:04:05+01:00", time.Date(2024, 1, 2, 14, 4, 5, 0, time.UTC)},
		{"2024-01-02T15:04:05-07:00", time.Date(2024, 1, 2, 22, 4, 5, 0, time.UTC)},
		{"2024-01-02T15:04Z", time.Date(2024, 1, 2, 15, 4, 0, 0, time.UTC)},
		{"2024-01-02Z", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"2024-01-02+02:00", time.Date(2024, 1, 1, 22, 0, 0, 0, time.UTC)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.5", time.Unix(1700000000, 500000000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)},
		{"0", time.Unix(0, 0)},
	} {
		got, err := parseEventTime("--since", tc.in, now)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", "10x", "2024-13-01", "2024-01-02T25:00:00Z", "1.2.3", "-5", "1700000000.", "2024/01/02", "1e9"} {
		if got, err := parseEventTime("--since", bad, now); err == nil {
			t.Errorf("%q: %s, want an error", bad, got)
		}
	}
}

func TestPrintEvent(t *testing.T) {
	ev := engine.Event{Type: "container", Action: "start", Actor: engine.Actor{ID: "abc",
		Attributes: map[string]string{"name": "x", "image": "busybox", "b": "2"}},
		TimeNano: time.Date(2024, 1, 2, 15, 4, 5, 123000000, time.Local).UnixNano()}
	var b bytes.Buffer
	printEvent(&b, ev)
	ts := time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00")
	if want := ts + " container start abc (b=2, image=busybox, name=x)\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
