package engine

import "testing"

func TestCrunBefore(t *testing.T) {
	tests := []struct {
		out  string
		want bool
	}{
		{"crun version 1.8.1\ncommit: f8a0\n", true},
		{"crun version 1.14.2\n", true},
		{"crun version 1.14.3\n", false},
		{"crun version 1.21\n", false}, // two parts since 1.15
		{"crun version 1.14\n", true},
		{"crun version x.y\n", true},
		{"crun version 2.0.0\n", false},
		{"crun version 1.15.0-dirty\n", false},
		{"something else\n", true},
		{"", true},
	}
	for _, tt := range tests {
		if got := crunBefore(tt.out, 1, 14, 3); got != tt.want {
			t.Errorf("crunBefore(%q) = %v, want %v", tt.out, got, tt.want)
		}
	}
}
