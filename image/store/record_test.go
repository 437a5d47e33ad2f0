package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func benchRecord(b *testing.B) []byte {
	h := func(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }
	img := Image{ID: h("a"), Manifest: h("b"), ManifestMediaType: "application/vnd.oci.image.manifest.v1+json", ManifestSize: 400,
		RepoDigests: []string{"registry.example:5000/bench/app@" + h("b").String()}, Created: time.Now(), Stored: time.Now(),
		Layers: []Layer{{Digest: h("c"), DiffID: h("d"), Size: 1000, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}}}
	v, err := json.Marshal(img)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func TestRecordRoundTrip(t *testing.T) {
	h := func(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }
	img := Image{ID: h("a"), Manifest: h("b"), ManifestMediaType: "m", ManifestSize: 400,
		RepoDigests: []string{"r@" + h("b").String()}, Extra: []v1.Hash{h("e")}, Created: time.Unix(1700000000, 5).UTC(), Stored: time.Now(),
		Layers: []Layer{{Digest: h("c"), DiffID: h("d"), Size: 1000, MediaType: "l"}, {Digest: h("1"), DiffID: h("2"), Size: -1}}}
	b, err := encodeImage(img, true)
	if err != nil || b[0] != recordV1 {
		t.Fatalf("encode: %v", err)
	}
	got, err := decodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	j1, _ := json.Marshal(img)
	j2, _ := json.Marshal(got)
	if string(j1) != string(j2) {
		t.Errorf("round trip:\n%s\n%s", j1, j2)
	}
	for i := range b {
		if _, err := decodeImage(b[:i]); err == nil {
			t.Errorf("truncated at %d decoded", i)
		}
	}
	// A digest other than sha256 keeps JSON.
	img.Extra = []v1.Hash{{Algorithm: "sha512", Hex: strings.Repeat("f", 128)}}
	if b, _ := encodeImage(img, true); b[0] != '{' {
		t.Error("sha512 record not JSON")
	}
}

// BenchmarkDecodeImage: one image record, as `images` reads each.
func BenchmarkDecodeImage(b *testing.B) {
	v := benchRecord(b)
	compact, err := CompactRecord(v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("compact", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeImage(compact); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeImage(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestPermute(t *testing.T) {
	for _, order := range [][]int{{}, {0}, {1, 0}, {2, 0, 1}, {3, 2, 1, 0}, {1, 2, 3, 0, 5, 4}} {
		imgs := make([]Image, len(order))
		for i := range imgs {
			imgs[i].ManifestSize = int64(i)
		}
		idx := append([]int(nil), order...)
		permute(imgs, idx)
		for i, k := range order {
			if imgs[i].ManifestSize != int64(k) {
				t.Errorf("order %v: position %d holds %d", order, i, imgs[i].ManifestSize)
			}
		}
	}
}
