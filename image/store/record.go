package store

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image records are stored in one of two encodings, told apart by their
// first byte:
//
//   - '{': JSON of Image, as stores before the engine wrote them (and a
//     standalone Open still writes, so that older berth binaries read it);
//   - recordV1: a compact binary form that the engine's stores write.
//     Listing 1,000 images decodes 1,000 records on every `berth images`;
//     JSON cost about 10 µs a record here, this form a small fraction.
//
// recordV1 layout: the byte 0x01, then ID and Manifest as 32 raw sha256
// bytes, ManifestMediaType (string), ManifestSize (varint), the layers
// (uvarint count; each: Digest, DiffID, Size varint, MediaType string),
// RepoDigests (uvarint count of strings), Extra (uvarint count of
// digests), Created and Stored (time.Time binary, length-prefixed).
// Strings are a uvarint length and the bytes.
const recordV1 = 0x01

var errRecord = errors.New("truncated or malformed image record")

// encodeImage encodes img compactly; an image with a digest other than
// sha256 keeps JSON.
func encodeImage(img Image, compact bool) ([]byte, error) {
	if !compact || !allSHA256(img) {
		return json.Marshal(img)
	}
	b := make([]byte, 0, 256+len(img.Layers)*160)
	b = append(b, recordV1)
	b = appendHash(b, img.ID)
	b = appendHash(b, img.Manifest)
	b = appendString(b, img.ManifestMediaType)
	b = binary.AppendVarint(b, img.ManifestSize)
	b = binary.AppendUvarint(b, uint64(len(img.Layers)))
	for _, l := range img.Layers {
		b = appendHash(b, l.Digest)
		b = appendHash(b, l.DiffID)
		b = binary.AppendVarint(b, l.Size)
		b = appendString(b, l.MediaType)
	}
	b = binary.AppendUvarint(b, uint64(len(img.RepoDigests)))
	for _, d := range img.RepoDigests {
		b = appendString(b, d)
	}
	b = binary.AppendUvarint(b, uint64(len(img.Extra)))
	for _, e := range img.Extra {
		b = appendHash(b, e)
	}
	for _, t := range []time.Time{img.Created, img.Stored} {
		tb, err := t.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = appendString(b, string(tb))
	}
	return b, nil
}

func allSHA256(img Image) bool {
	hs := append([]v1.Hash{img.ID, img.Manifest}, img.Extra...)
	for _, l := range img.Layers {
		hs = append(hs, l.Digest, l.DiffID)
	}
	for _, h := range hs {
		if checkDigest(h) != nil {
			return false
		}
	}
	return true
}

// appendHash appends a digest that allSHA256 checked.
func appendHash(b []byte, h v1.Hash) []byte {
	b, _ = hex.AppendDecode(b, []byte(h.Hex))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func decodeImage(b []byte) (Image, error) {
	if len(b) > 0 && b[0] == recordV1 {
		return decodeV1(b[1:])
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		return Image{}, err
	}
	return img, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) hash() v1.Hash {
	if r.err != nil || len(r.b) < 32 {
		r.err = errRecord
		return v1.Hash{}
	}
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(r.b[:32])}
	r.b = r.b[32:]
	return h
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a list length, bounded by what is left (each entry takes
// at least one byte) so that a damaged record cannot ask for a huge slice.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errRecord
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errRecord
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	s := r.string()
	var t time.Time
	if r.err == nil {
		if err := t.UnmarshalBinary([]byte(s)); err != nil {
			r.err = errRecord
		}
	}
	return t
}

func decodeV1(b []byte) (Image, error) {
	r := &reader{b: b}
	img := Image{ID: r.hash(), Manifest: r.hash(), ManifestMediaType: r.string(), ManifestSize: r.varint()}
	if n := r.count(); n > 0 {
		img.Layers = make([]Layer, n)
		for i := range img.Layers {
			img.Layers[i] = Layer{Digest: r.hash(), DiffID: r.hash(), Size: r.varint(), MediaType: r.string()}
		}
	}
	if n := r.count(); n > 0 {
		img.RepoDigests = make([]string, n)
		for i := range img.RepoDigests {
			img.RepoDigests[i] = r.string()
		}
	}
	if n := r.count(); n > 0 {
		img.Extra = make([]v1.Hash, n)
		for i := range img.Extra {
			img.Extra[i] = r.hash()
		}
	}
	img.Created, img.Stored = r.time(), r.time()
	if r.err == nil && len(r.b) != 0 {
		r.err = errRecord
	}
	if r.err != nil {
		return Image{}, r.err
	}
	return img, nil
}

// CompactRecord re-encodes an image record (JSON from a store before the
// engine) in the engine's compact form; the engine's migration uses it.
func CompactRecord(v []byte) ([]byte, error) {
	img, err := decodeImage(v)
	if err != nil {
		return nil, fmt.Errorf("image record: %w", err)
	}
	return encodeImage(img, true)
}
