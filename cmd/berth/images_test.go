package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/engine"
)

func TestHumanSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {999, "999B"}, {1000, "1kB"}, {4_261_000, "4.26MB"}, {1_500_000_000, "1.5GB"},
	}
	for _, tc := range tests {
		if got := humanSize(tc.n); got != tc.want {
			t.Errorf("humanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestSince(t *testing.T) {
	now := time.Now()
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "N/A"},
		{now.Add(-10 * time.Second), "10 seconds ago"},
		{now.Add(-90 * time.Second), "About a minute ago"},
		{now.Add(-5 * time.Minute), "5 minutes ago"},
		{now.Add(-5 * time.Hour), "5 hours ago"},
		{now.Add(-20 * 24 * time.Hour), "2 weeks ago"},
		{now.Add(-61 * time.Minute), "About an hour ago"},
		{now.Add(-72 * time.Hour), "3 days ago"},
		{now.Add(-3 * 365 * 24 * time.Hour), "3 years ago"},
	}
	for _, tc := range tests {
		if got := since(tc.t); got != tc.want {
			t.Errorf("since(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestImageRowsAndFormats(t *testing.T) {
	id, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	dg := "sha256:" + strings.Repeat("cd", 32)
	imgs := []engine.Image{{
		ID:          id,
		Layers:      []engine.Layer{{Size: 1500}},
		RepoDigests: []string{"docker.io/library/busybox@" + dg},
		Names:       []string{"docker.io/library/busybox:latest", "127.0.0.1:5000/bb:v1"},
	}, {
		ID: id, // dangling
	}}
	rows := imageRows(imgs)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	tests := []struct {
		name    string
		rows    []imageRow
		format  string
		digests bool
		want    string
	}{
		{"template", rows[:1], "{{.Repository}}:{{.Tag}} {{.Digest}} {{.Size}}", false, "busybox:latest " + dg + " 1.5kB\n"},
		{"created at", rows[:1], "{{.CreatedAt}}", false, "0001-01-01 00:00:00 +0000 UTC\n"},
		{"digest of other repo", rows[1:2], "{{.Repository}} {{.Digest}}", false, "127.0.0.1:5000/bb <none>\n"},
		{"dangling", rows[2:], "{{.Repository}}:{{.Tag}}", false, "<none>:<none>\n"},
		{"json", rows[:1], "json", false, `"Repository":"busybox"`},
		{"json func", rows[:1], "{{json .Tag}}", false, `"latest"`},
		{"table header", rows[:1], "table {{.Repository}}\t{{.Tag}}", false, "REPOSITORY   TAG\nbusybox      latest\n"},
		{"default digests", rows[:1], "", true, "DIGEST"},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		if err := printRows(&buf, tc.rows, tc.format, tc.digests); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, buf.String(), tc.want)
		}
	}
	var buf bytes.Buffer
	if err := printRows(&buf, rows, "{{.Nope", false); err == nil {
		t.Error("bad template accepted")
	}
	if got := filterRows(rows, "busybox"); len(got) != 1 || got[0].Tag != "latest" {
		t.Errorf("filter busybox: %+v", got)
	}
	if got := filterRows(rows, "127.0.0.1:5000/bb:v1"); len(got) != 1 {
		t.Errorf("filter registry ref: %+v", got)
	}
}
