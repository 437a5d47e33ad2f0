package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func imageJSON(mt, configMT, layerMT, layerDigest string, size int) string {
	mtField := ""
	if mt != "" {
		mtField = fmt.Sprintf(`"mediaType":%q,`, mt)
	}
	return fmt.Sprintf(`{"schemaVersion":2,%s"config":{"mediaType":%q,"digest":%q,"size":10},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		mtField, configMT, d1, layerMT, layerDigest, size)
}

func indexJSON(mt, childMT string) string {
	mtField := ""
	if mt != "" {
		mtField = fmt.Sprintf(`"mediaType":%q,`, mt)
	}
	return fmt.Sprintf(`{"schemaVersion":2,%s"manifests":[{"mediaType":%q,"digest":%q,"size":500,"platform":{"os":"linux","architecture":"amd64"}}]}`,
		mtField, childMT, d2)
}

// seeds are the table of TestParse and the starting points of FuzzParse.
var seeds = []struct {
	name      string
	mediaType types.MediaType
	data      string
	wantKind  string // "image", "index" or "" for an error
	wantErr   string
}{
	{"oci manifest", types.OCIManifestSchema1, imageJSON(string(types.OCIManifestSchema1), string(types.OCIConfigJSON), string(types.OCILayer), d2, 5), "image", ""},
	{"oci manifest untyped body", types.OCIManifestSchema1, imageJSON("", string(types.OCIConfigJSON), string(types.OCILayerZStd), d2, 5), "image", ""},
	{"oci manifest guessed", "", imageJSON("", string(types.OCIConfigJSON), string(types.OCIUncompressedLayer), d2, 5), "image", ""},
	{"docker schema 2", types.DockerManifestSchema2, imageJSON(string(types.DockerManifestSchema2), string(types.DockerConfigJSON), string(types.DockerLayer), d2, 5), "image", ""},
	{"docker foreign layer", types.DockerManifestSchema2, imageJSON(string(types.DockerManifestSchema2), string(types.DockerConfigJSON), string(types.DockerForeignLayer), d2, 5), "image", ""},
	{"oci index", types.OCIImageIndex, indexJSON(string(types.OCIImageIndex), string(types.OCIManifestSchema1)), "index", ""},
	{"oci index guessed", "", indexJSON("", string(types.OCIManifestSchema1)), "index", ""},
	{"docker list", types.DockerManifestList, indexJSON(string(types.DockerManifestList), string(types.DockerManifestSchema2)), "index", ""},
	{"unknown media type", "application/vnd.example.thing+json", imageJSON("", string(types.OCIConfigJSON), string(types.OCILayer), d2, 5), "", `unsupported manifest media type "application/vnd.example.thing+json"`},
	{"unknown media type in body", "", `{"schemaVersion":2,"mediaType":"text/plain"}`, "", `unsupported manifest media type "text/plain"`},
	{"schema 1", types.DockerManifestSchema1Signed, `{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}`, "", "schema 1"},
	{"schema 1 untyped", "", `{"schemaVersion":1,"fsLayers":[{"blobSum":"` + d1 + `"}]}`, "", "schema 1"},
	{"schema 3", "", `{"schemaVersion":3}`, "", "schemaVersion 3"},
	{"no schema version", types.OCIManifestSchema1, `{"config":{}}`, "", "no schemaVersion"},
	{"media type mismatch", types.OCIManifestSchema1, imageJSON(string(types.DockerManifestSchema2), string(types.DockerConfigJSON), string(types.DockerLayer), d2, 5), "", "was served as"},
	{"not json", types.OCIManifestSchema1, `<html>502 Bad Gateway</html>`, "", "not valid JSON"},
	{"empty", "", ``, "", "not valid JSON"},
	{"ambiguous", "", `{"schemaVersion":2}`, "", "neither an image manifest nor an index"},
	{"bad layer digest", types.OCIManifestSchema1, imageJSON("", string(types.OCIConfigJSON), string(types.OCILayer), "sha256:abc", 5), "", "wrong number of hex digits for sha256: abc"},
	{"sha512 layer", types.OCIManifestSchema1, imageJSON("", string(types.OCIConfigJSON), string(types.OCILayer), "sha512:"+strings.Repeat("a", 128), 5), "", "only sha256"},
	{"upper-case digest", types.OCIManifestSchema1, imageJSON("", string(types.OCIConfigJSON), string(types.OCILayer), strings.ToUpper(d2[:7])+strings.ToUpper(d2[7:]), 5), "", `unsupported hash: "SHA256"`},
	{"negative size", types.OCIManifestSchema1, imageJSON("", string(types.OCIConfigJSON), string(types.OCILayer), d2, -1), "", "negative size"},
	{"non-tar layer", types.OCIManifestSchema1, imageJSON("", "application/vnd.example.config", "application/vnd.example.model", d2, 5), "", `unsupported layer media type "application/vnd.example.model"`},
	{"docker config type wrong", types.DockerManifestSchema2, imageJSON("", "application/vnd.example.config", string(types.DockerLayer), d2, 5), "", "not an image config"},
	{"empty index", types.OCIImageIndex, `{"schemaVersion":2,"manifests":[]}`, "", "no manifests"},
	{"index entry untyped", types.OCIImageIndex, indexJSON("", ""), "", "has no mediaType"},
	{"wrong shape", types.OCIImageIndex, `{"schemaVersion":2,"manifests":{"a":1}}`, "", "parse application/vnd.oci.image.index.v1+json"},
	{"too big", "", `{"schemaVersion":2,"pad":"` + strings.Repeat("x", MaxSize) + `"}`, "", "more than"},
}

func TestParse(t *testing.T) {
	for _, tc := range seeds {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.mediaType, []byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if kind := kindOf(p); kind != tc.wantKind {
				t.Errorf("kind %s, want %s", kind, tc.wantKind)
			}
		})
	}
	if _, err := Parse("text/html", []byte(`{"schemaVersion":2}`)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown media type: %v does not wrap ErrUnsupported", err)
	}
}

func kindOf(p *Parsed) string {
	switch {
	case p.Image != nil && p.Index == nil:
		return "image"
	case p.Index != nil && p.Image == nil:
		return "index"
	}
	return "both or neither"
}

// TestWriteFuzzCorpus refreshes the committed corpus when asked:
// BERTH_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus ./image/manifest
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("BERTH_WRITE_CORPUS") == "" {
		t.Skip("set BERTH_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzParse")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		if len(s.data) > 64<<10 {
			continue // the size check needs no corpus file
		}
		body := fmt.Sprintf("go test fuzz v1\nstring(%q)\n[]byte(%q)\n", s.mediaType, s.data)
		name := strings.ReplaceAll(s.name, " ", "-")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParse: whatever the bytes and media type, Parse never panics;
// what it accepts is one kind of document whose digests are all valid,
// and which parses the same again once re-encoded.
func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add(string(s.mediaType), []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, mediaType string, data []byte) {
		p, err := Parse(types.MediaType(mediaType), data)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		var again []byte
		var digests []string
		switch kindOf(p) {
		case "image":
			digests = append(digests, p.Image.Config.Digest.String())
			for _, l := range p.Image.Layers {
				digests = append(digests, l.Digest.String())
			}
			again, err = json.Marshal(p.Image)
		case "index":
			for _, m := range p.Index.Manifests {
				digests = append(digests, m.Digest.String())
			}
			again, err = json.Marshal(p.Index)
		default:
			t.Fatalf("accepted %q as %s", data, kindOf(p))
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range digests {
			if len(d) != len("sha256:")+64 {
				t.Fatalf("accepted digest %q", d)
			}
		}
		p2, err := Parse(p.MediaType, again)
		if err != nil {
			t.Fatalf("re-encoded %s does not parse: %v\n%s", p.MediaType, err, again)
		}
		var digests2 []string
		if p2.Image != nil {
			digests2 = append(digests2, p2.Image.Config.Digest.String())
			for _, l := range p2.Image.Layers {
				digests2 = append(digests2, l.Digest.String())
			}
		} else {
			for _, m := range p2.Index.Manifests {
				digests2 = append(digests2, m.Digest.String())
			}
		}
		sort.Strings(digests)
		sort.Strings(digests2)
		if strings.Join(digests, ",") != strings.Join(digests2, ",") {
			t.Fatalf("digests changed on re-encoding: %v vs %v", digests, digests2)
		}
	})
}
