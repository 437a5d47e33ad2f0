package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// maxDownload bounds an ADD of a URL (a hostile server may never stop).
const maxDownload = 8 << 30

// isHTTPSource: an http(s) URL that is not a git repository.
func isHTTPSource(src string) bool {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return false
	}
	return !isGitSource(src)
}

// isGitSource: what BuildKit takes for a git repository (a .git URL,
// git@host:, git://, a #ref on a .git URL).
func isGitSource(src string) bool {
	if strings.HasPrefix(src, "git@") || strings.HasPrefix(src, "git://") {
		return true
	}
	u, err := url.Parse(src)
	return err == nil && strings.HasSuffix(u.Path, ".git")
}

// remoteFile is an ADD URL downloaded into a host file.
type remoteFile struct {
	url  string
	file string // host path, removed after the step
	name string // the file's name in the image when the dest is a directory
	sum  []byte
	fi   remoteInfo
}

type remoteInfo struct {
	name  string
	size  int64
	mtime time.Time
}

func (i remoteInfo) Name() string       { return i.name }
func (i remoteInfo) Size() int64        { return i.size }
func (i remoteInfo) Mode() fs.FileMode  { return 0o600 }
func (i remoteInfo) ModTime() time.Time { return i.mtime }
func (i remoteInfo) IsDir() bool        { return false }
func (i remoteInfo) Sys() any           { return nil }

// download fetches src into a file of dir, checks it against checksum
// (sha256:HEX, "" for none): a mismatch is an error, and leaves no file.
// The name is the URL path's base (BuildKit's __unnamed__ without one),
// the mtime Last-Modified's.
func download(src, checksum, dir string) (*remoteFile, error) {
	want := ""
	if checksum != "" {
		alg, hx, ok := strings.Cut(checksum, ":")
		if !ok || alg != "sha256" || len(hx) != 64 || strings.Trim(strings.ToLower(hx), "0123456789abcdef") != "" {
			return nil, fmt.Errorf("invalid checksum %q: want sha256:<64 hex digits>", checksum)
		}
		want = strings.ToLower(hx)
	}
	u, err := url.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", src, err)
	}
	name := "__unnamed__"
	if base := path.Base(u.Path); base != "." && base != "/" && base != "" {
		name = base
	}
	redacted := u.Redacted()
	resp, err := http.Get(src)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", redacted, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invalid response status %d downloading %s", resp.StatusCode, redacted)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "add-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", redacted, err)
	}
	if n > maxDownload {
		return nil, fmt.Errorf("download %s: larger than %d bytes", redacted, int64(maxDownload))
	}
	sum := h.Sum(nil)
	if got := hex.EncodeToString(sum); want != "" && got != want {
		return nil, fmt.Errorf("digest mismatch for %s: sha256:%s (expected: %s)", redacted, got, checksum)
	}
	mtime := time.Unix(0, 0)
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm
	}
	ok = true
	return &remoteFile{url: src, file: f.Name(), name: name, sum: sum, fi: remoteInfo{name: name, size: n, mtime: mtime}}, nil
}

// downloadDir is where ADD's downloads wait for their step.
func (bd *builder) downloadDir() string {
	if bd.o.CacheDir == "" {
		return filepath.Join(os.TempDir(), "berth-build")
	}
	return filepath.Join(bd.o.CacheDir, "tmp")
}
