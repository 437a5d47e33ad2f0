package reference

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, canonical, familiar string
		wantErr                 bool
	}{
		{in: "busybox", canonical: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "busybox:1.36", canonical: "docker.io/library/busybox:1.36", familiar: "busybox:1.36"},
		{in: "docker.io/library/busybox", canonical: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "index.docker.io/foo/bar:x", canonical: "docker.io/foo/bar:x", familiar: "foo/bar:x"},
		{in: "127.0.0.1:5000/app", canonical: "127.0.0.1:5000/app:latest", familiar: "127.0.0.1:5000/app:latest"},
		{in: "localhost/berth/busybox:latest", canonical: "localhost/berth/busybox:latest", familiar: "localhost/berth/busybox:latest"},
		{
			in:        "quay.io/a/b@sha256:0123456789012345678901234567890123456789012345678901234567890123",
			canonical: "quay.io/a/b@sha256:0123456789012345678901234567890123456789012345678901234567890123",
			familiar:  "quay.io/a/b@sha256:0123456789012345678901234567890123456789012345678901234567890123",
		},
		{in: "", wantErr: true},
		{in: "BusyBox", wantErr: true},
		{in: "a b", wantErr: true},
		{in: "busybox@sha256:nothex", wantErr: true},
	}
	for _, tc := range tests {
		got, err := Normalize(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Normalize(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if got != tc.canonical {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.canonical)
		}
		if f := Familiar(got); f != tc.familiar {
			t.Errorf("Familiar(%q) = %q, want %q", got, f, tc.familiar)
		}
	}
}

func TestSplitTag(t *testing.T) {
	tests := []struct{ in, repo, tag string }{
		{"docker.io/library/busybox:latest", "docker.io/library/busybox", "latest"},
		{"127.0.0.1:5000/app:v1", "127.0.0.1:5000/app", "v1"},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app", "<none>"},
		{"a/b@sha256:00", "a/b", "sha256:00"},
	}
	for _, tc := range tests {
		if r, tg := SplitTag(tc.in); r != tc.repo || tg != tc.tag {
			t.Errorf("SplitTag(%q) = %q, %q", tc.in, r, tg)
		}
	}
}
