package build

import (
	"io/fs"
	"testing"
)

func TestParseChmod(t *testing.T) {
	for _, tc := range []struct {
		in      string
		from    fs.FileMode
		dir     bool
		want    uint32
		wantErr bool
	}{
		{in: "755", from: 0o600, want: 0o755},
		{in: "4755", from: 0o600, want: 0o4755},
		{in: "u+x", from: 0o644, want: 0o744},
		{in: "go-rwx", from: 0o755, want: 0o700},
		{in: "a=rX", from: 0o644, want: 0o444},
		{in: "a=rX", from: 0o644, dir: true, want: 0o555},
		{in: "u=rwx,g=rx,o=", from: 0o600, want: 0o750},
		{in: "+x", from: 0o600, want: 0o711},
		{in: "u+s", from: 0o755, want: 0o4755},
		{in: "8", wantErr: true},
		{in: "17777", wantErr: true},
		{in: "u+q", wantErr: true},
		{in: "z+x", wantErr: true},
		{in: "u", wantErr: true},
	} {
		fn, err := parseChmod(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := unixMode(fn(tc.from, tc.dir)); got != tc.want {
			t.Errorf("%q on %o: %o, want %o", tc.in, tc.from, got, tc.want)
		}
	}
}
