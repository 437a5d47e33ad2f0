package engine

import (
	"strings"
	"testing"
)

func TestCheckContainerName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"web", "web", true},
		{"/web-1.a_b", "web-1.a_b", true},
		{"", "", false},
		{"-x", "", false},
		{"a/b", "", false},
		{"a b", "", false},
		{strings.Repeat("a", 254), "", false},
	} {
		got, err := CheckContainerName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CheckContainerName(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestNewContainerIDAndName(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id, err := NewContainerID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 64 || strings.Trim(id[:12], "0123456789") == "" || seen[id] {
			t.Fatalf("bad id %q", id)
		}
		seen[id] = true
		for _, r := range []int{0, 1} {
			if n := RandomContainerName(r); !validName.MatchString(n) || !strings.Contains(n, "_") {
				t.Fatalf("bad name %q", n)
			}
		}
	}
}
