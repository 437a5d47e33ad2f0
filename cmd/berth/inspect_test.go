package main

import (
	"bytes"
	"testing"
)

func TestPrintInspectFormat(t *testing.T) {
	type obj struct {
		ID   string `json:"Id"`
		Size int64  `json:"Size"`
	}
	objs := []any{obj{ID: "abc", Size: 67108864}}
	for _, tc := range []struct{ format, want string }{
		{"{{.ID}}", "abc\n"},        // the Go field, as Docker's CLI tries first
		{"{{.Id}}", "abc\n"},        // the JSON's, its fallback
		{"{{.Size}}", "67108864\n"}, // not 6.7108864e+07
		{"{{json .}}", `{"Id":"abc","Size":67108864}` + "\n"},
	} {
		var out bytes.Buffer
		if err := printInspect(&out, tc.format, objs); err != nil {
			t.Errorf("%s: %v", tc.format, err)
		} else if out.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.format, out.String(), tc.want)
		}
	}
	// Neither has it: the JSON's map answers "<no value>", as Docker's CLI prints.
	var out bytes.Buffer
	if err := printInspect(&out, "{{.Nope}}", objs); err != nil || out.String() != "<no value>\n" {
		t.Errorf("{{.Nope}}: %q, %v", out.String(), err)
	}
}
