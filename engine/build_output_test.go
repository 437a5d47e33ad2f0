package engine

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseBuildOutput(t *testing.T) {
	for _, c := range []struct {
		in   string
		want BuildOutput
		err  string
	}{
		{in: "out", want: BuildOutput{Type: OutputLocal, Dest: "out"}},
		{in: "-", want: BuildOutput{Type: OutputTar, Dest: "-"}},
		{in: "type=local,dest=/x", want: BuildOutput{Type: OutputLocal, Dest: "/x"}},
		{in: "type=tar,dest=fs.tar", want: BuildOutput{Type: OutputTar, Dest: "fs.tar"}},
		{in: "type=tar", want: BuildOutput{Type: OutputTar, Dest: "-"}},
		{in: "type=oci", want: BuildOutput{Type: OutputOCI, Dest: "-"}},
		{in: "type=oci,dest=a.tar,name=a:1", want: BuildOutput{Type: OutputOCI, Dest: "a.tar", Names: []string{"a:1"}}},
		{in: `type=docker,dest=a.tar,"name=a:1,b:2"`, want: BuildOutput{Type: OutputDocker, Dest: "a.tar", Names: []string{"a:1", "b:2"}}},
		{in: "type=docker", want: BuildOutput{Type: OutputImage}},
		{in: "type=docker,name=x", want: BuildOutput{Type: OutputImage, Names: []string{"x"}}},
		{in: "type=image,name=x", want: BuildOutput{Type: OutputImage, Names: []string{"x"}}},
		{in: " Type=image", want: BuildOutput{Type: OutputImage}},
		{in: "", err: "empty value"},
		{in: "type=image,dest=x", err: "takes no dest"},
		{in: "type=local", err: "needs dest=DIRECTORY"},
		{in: "type=local,dest=-", err: "needs dest=DIRECTORY"},
		{in: "type=registry,name=x", err: `unknown type "registry"`},
		{in: "dest=x", err: "no type="},
		{in: "type=oci,push=true", err: `unsupported attribute "push"`},
		{in: "type=oci,dest", err: `"dest" is not key=value`},
		{in: "type=image,name=Bad", err: `name "Bad"`},
		{in: `type=oci,"dest=x`, err: "invalid --output"},
	} {
		got, err := ParseBuildOutput(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%q: (-want +got)\n%s", c.in, d)
		}
	}
}
