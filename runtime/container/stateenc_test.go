package container

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fill sets every field of the struct v points to a value that is not its zero value.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		switch {
		case f.Type() == reflect.TypeOf(json.RawMessage(nil)):
			f.Set(reflect.ValueOf(json.RawMessage(`{"ociVersion":"1.0.2", "x":[1,2]}`)))
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Date(2026, 12, 2, 18, 0, 0, 123456789, time.UTC)))
		case f.Type() == reflect.TypeOf(&specs.Hooks{}):
			f.Set(reflect.ValueOf(&specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Args: []string{"true"}}}}))
		case f.Type() == reflect.TypeOf(&specs.Spec{}):
			// not in the state (json:"-")
		case f.Kind() == reflect.String:
			f.SetString(name + ` "q" \ ` + "\x01 é")
		case f.Kind() == reflect.Int:
			f.SetInt(1<<40 + int64(i))
		case f.Kind() == reflect.Uint64:
			f.SetUint(1<<63 + uint64(i))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Type() == reflect.TypeOf([]int(nil)):
			f.Set(reflect.ValueOf([]int{i, 1 << 40, -1}))
		case f.Type() == reflect.TypeOf(map[string]string(nil)):
			f.Set(reflect.ValueOf(map[string]string{name + "b": "2", name + "a": "1<>&"}))
		default:
			t.Fatalf("saved.%s has a type (%s) this test does not fill: extend the test and encodeSaved", name, f.Type())
		}
	}
}

// TestEncodeSavedCoversEveryField: every field of saved survives encodeSaved and Load's
// json.Unmarshal, as with json.Marshal. A field added to saved without its line in
// encodeSaved fails here.
func TestEncodeSavedCoversEveryField(t *testing.T) {
	var s saved
	fill(t, reflect.ValueOf(&s).Elem())
	b, err := encodeSaved(&s)
	if err != nil {
		t.Fatal(err)
	}
	var got, want saved
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	ref, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ref, &want); err != nil {
		t.Fatal(err)
	}
	// RawSpec is kept as bytes: json.Marshal compacts it, encodeSaved copies it.
	if !json.Valid(got.RawSpec) || compact(t, got.RawSpec) != compact(t, want.RawSpec) {
		t.Errorf("config: got %s, want %s", got.RawSpec, want.RawSpec)
	}
	if !json.Valid(got.HooksJSON) || compact(t, got.HooksJSON) != compact(t, want.HooksJSON) {
		t.Errorf("hooks: got %s, want %s", got.HooksJSON, want.HooksJSON)
	}
	got.RawSpec, want.RawSpec = nil, nil
	got.HooksJSON, want.HooksJSON = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("encodeSaved round trip differs from json.Marshal's:\n got %+v\nwant %+v\n%s", got, want, b)
	}
	// Hooks is decoded from HooksJSON when needed (json:"-"), as Spec is from RawSpec.
	s.Spec, s.RawSpec, s.Hooks, s.HooksJSON = nil, nil, nil, nil
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip lost fields:\n got %+v\nwant %+v", got, s)
	}
}

func compact(t *testing.T, b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// Zero values and odd strings decode as json.Marshal's output does.
func TestEncodeSavedMatchesMarshal(t *testing.T) {
	var odd string
	for c := 0; c < 0x80; c++ {
		odd += string(rune(c))
	}
	odd += "\xff\xfe é 日本 \u2028"
	for i, s := range []saved{
		{},
		{ID: odd, Bundle: "/b", RawSpec: json.RawMessage(`{}`), CgroupPaths: map[string]string{odd: odd}},
		{ID: "a", RawSpec: json.RawMessage("  {\n\t\"a\": [1, 2]\n}\n")},
	} {
		b, err := encodeSaved(&s)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		ref, err := json.Marshal(&s)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var got, want saved
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%d: decode %q: %v", i, b, err)
		}
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		got.RawSpec, want.RawSpec = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d: got %+v, want %+v", i, got, want)
		}
	}
	// A kept config that is not JSON is json.Marshal's error, as before.
	bad := saved{RawSpec: json.RawMessage(`{"a":1} trailing`)}
	if _, err := encodeSaved(&bad); err == nil {
		t.Error("a state with an invalid config encoded")
	}
}
