package runtime_test

import (
	"strings"
	"testing"
)

// TestRootfsPropagation checks linux.rootfsPropagation on the container's root, read from the
// optional fields of its mountinfo line. The unbindable values are the regression case: making
// the host side unbindable before the rootfs bind mount made that mount fail with EINVAL (found
// by the OCI runtime-tools suite, linux_rootfs_propagation); the flag must only reach the
// container's root after pivot_root.
func TestRootfsPropagation(t *testing.T) {
	tests := []struct {
		prop string
		want string // the propagation tag of "/" in the container: "" is private
	}{
		{"private", ""},
		{"rprivate", ""},
		{"shared", "shared"},
		{"unbindable", "unbindable"},
		{"runbindable", "unbindable"},
	}
	for _, tt := range tests {
		t.Run(tt.prop, func(t *testing.T) {
			// Optional fields sit between field 7 and the "-" separator.
			e := newEnv(t, "sh", "-c", `awk '$5 == "/" { s = ""; for (i = 7; $i != "-"; i++) s = s $i " "; print "tags=" s }' /proc/self/mountinfo`)
			e.spec.Linux.RootfsPropagation = tt.prop
			out := strings.TrimSpace(e.mustRun())
			tags, ok := strings.CutPrefix(out, "tags=")
			if !ok || strings.Contains(tags, "\n") {
				t.Fatalf("mountinfo of / in the container: %q", out)
			}
			var got string
			for _, f := range strings.Fields(tags) {
				switch {
				case strings.HasPrefix(f, "shared:"):
					got = "shared"
				case f == "unbindable":
					got = "unbindable"
				case strings.HasPrefix(f, "master:") && got == "":
					got = "slave"
				}
			}
			if got != tt.want {
				t.Errorf("rootfsPropagation %q: / has tags %q, want %q", tt.prop, tags, tt.want)
			}
		})
	}
}
