package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestEnvFile(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "FROM_CALLER" {
			return "yes", true
		}
		return "", false
	}
	in := "\ufeffA=1\n# comment\n\n  B=two words \nC=\"quoted\"\nFROM_CALLER\nUNSET\nD==x\n"
	got, err := ParseEnvFile("f.env", strings.NewReader(in), lookup)
	want := []string{"A=1", "B=two words ", `C="quoted"`, "FROM_CALLER=yes", "D==x"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseEnvFile = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"=x\n", "A B=1\n"} {
		if _, err := ParseEnvFile("f.env", strings.NewReader("OK=1\n"+bad), lookup); err == nil || !strings.Contains(err.Error(), "f.env line 2") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if e, ok, err := ResolveEnv("FROM_CALLER", lookup); e != "FROM_CALLER=yes" || !ok || err != nil {
		t.Errorf("ResolveEnv = %q %v %v", e, ok, err)
	}
	if _, ok, err := ResolveEnv("UNSET", lookup); ok || err != nil {
		t.Errorf("unset: %v %v", ok, err)
	}
}
