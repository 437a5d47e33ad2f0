package build

import (
	"runtime"
	"strings"
	"testing"
)

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"linux/amd64", "linux/amd64", ""},
		{"Linux/ARM64/v8", "linux/arm64", ""},
		{"linux/arm", "linux/arm/v7", ""},
		{"linux/arm/v6", "linux/arm/v6", ""},
		{"arm64", "linux/arm64", ""},
		{"linux", "linux/" + runtime.GOARCH, ""},
		{"windows/amd64", "", "only linux images"},
		{"/amd64", "", "invalid platform"},
		{"linux/", "", "invalid platform"},
		{"linux/amd64/", "", "invalid platform"},
		{"a/b/c/d", "", "invalid platform"},
		{"", "", "invalid platform"},
	} {
		p, err := ParsePlatform(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case platformString(p) != tc.want:
			t.Errorf("%q: %s, want %s", tc.in, platformString(p), tc.want)
		}
	}
}
