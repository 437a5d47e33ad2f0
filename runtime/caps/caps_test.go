package caps

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFromSpec(t *testing.T) {
	tests := []struct {
		name     string
		in       *specs.LinuxCapabilities
		want     Set
		warnings int
	}{
		{"nil", nil, Set{}, 0},
		{"known", &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Ambient: []string{"CAP_NET_RAW"}},
			Set{Bounding: 1<<0 | 1<<5, Ambient: 1 << 13}, 0},
		{"unknown skipped", &specs.LinuxCapabilities{Effective: []string{"CAP_NOPE", "CAP_NOPE", "CAP_SYS_ADMIN"}},
			Set{Effective: 1 << 21}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, w := FromSpec(tt.in)
			if got != tt.want || len(w) != tt.warnings {
				t.Fatalf("got %+v %v, want %+v with %d warnings", got, w, tt.want, tt.warnings)
			}
		})
	}
}
