package store

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"

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

// reader decodes a recordV1. Digests are collected raw and hex-encoded
// into one string at the end, and well-known media types are not copied:
// listing decodes every record, so allocations per record count.
type reader struct {
	b    []byte
	err  error
	raws [][]byte
	dsts []*v1.Hash
	// room for the digests of an image of up to five layers
	rawBuf [12][]byte
	dstBuf [12]*v1.Hash
}

func (r *reader) hash(dst *v1.Hash) {
	if r.err != nil || len(r.b) < 32 {
		r.err = errRecord
		return
	}
	r.raws = append(r.raws, r.b[:32])
	r.dsts = append(r.dsts, dst)
	r.b = r.b[32:]
}

// hexAll fills in the digests collected by hash.
func (r *reader) hexAll() {
	buf := make([]byte, 64*len(r.raws))
	for i, raw := range r.raws {
		hex.Encode(buf[64*i:], raw)
	}
	// buf is never written again: the string shares it (one copy less
	// per record listed).
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	for i, d := range r.dsts {
		*d = v1.Hash{Algorithm: "sha256", Hex: all[64*i : 64*i+64]}
	}
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

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errRecord
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) string() string { return string(r.bytes()) }

// knownTypes are the media types nearly every record holds.
var knownTypes = []string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
}

func (r *reader) mediaType() string {
	b := r.bytes()
	for _, t := range knownTypes {
		if string(b) == t {
			return t
		}
	}
	return string(b)
}

func (r *reader) time() time.Time {
	b := r.bytes()
	var t time.Time
	if r.err == nil {
		if err := t.UnmarshalBinary(b); err != nil {
			r.err = errRecord
		}
	}
	return t
}

func decodeV1(b []byte) (Image, error) {
	r := reader{b: b}
	r.raws, r.dsts = r.rawBuf[:0], r.dstBuf[:0]
	var img Image
	r.hash(&img.ID)
	r.hash(&img.Manifest)
	img.ManifestMediaType, img.ManifestSize = r.mediaType(), r.varint()
	if n := r.count(); n > 0 {
		img.Layers = make([]Layer, n)
		for i := range img.Layers {
			l := &img.Layers[i]
			r.hash(&l.Digest)
			r.hash(&l.DiffID)
			l.Size, l.MediaType = r.varint(), r.mediaType()
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
			r.hash(&img.Extra[i])
		}
	}
	img.Created, img.Stored = r.time(), r.time()
	if r.err == nil && len(r.b) != 0 {
		r.err = errRecord
	}
	if r.err != nil {
		return Image{}, r.err
	}
	r.hexAll()
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
