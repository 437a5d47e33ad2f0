package container

import (
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{"A-b_c+d.e9", true},
		{"0", true},
		{"..a", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a b", false},
		{"a\x00b", false},
		{"é", false},
		{"a:b", false},
		{strings.Repeat("a", 1024), true},
		{strings.Repeat("a", 1025), false},
	} {
		if err := CheckID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}
