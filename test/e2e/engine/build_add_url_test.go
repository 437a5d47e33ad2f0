package engine_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBuildAddURL: ADD of an http URL is downloaded by berth (from a
// server of the test's on the machine's loopback, so berth runs there:
// newHostNetEnv, whose containers get no network): named from the URL or the dest, mode 600,
// mtime from Last-Modified, --checksum verified (a mismatch fails and
// leaves nothing), the step cached by the content's digest.
func TestBuildAddURL(t *testing.T) {
	e := newHostNetEnv(t, true)
	var body atomic.Value
	body.Store("v1\n")
	modified := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		fmt.Fprint(w, body.Load().(string))
	}))
	defer srv.Close()
	sum := func(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }
	df := func(checksum string) string {
		return fmt.Sprintf("FROM busybox\nADD %s/dir/file.txt /dl/\nADD --checksum=%s %s/other /named.txt\n", srv.URL, checksum, srv.URL)
	}
	dir := buildCtx(t, map[string]string{"Dockerfile": df(sum("v1\n"))})
	e.build("-t", "url", dir)
	if got := e.must("run", "--rm", "url", "stat", "-c", "%n %a %Y", "/dl/file.txt", "/named.txt"); got != fmt.Sprintf("/dl/file.txt 600 %d\n/named.txt 600 %d", modified.Unix(), modified.Unix()) {
		t.Errorf("downloaded files: %q", got)
	}
	if got := e.must("run", "--rm", "url", "cat", "/dl/file.txt"); got != "v1" {
		t.Errorf("content: %q", got)
	}
	if p := e.build("-t", "url", dir); strings.Count(p, "CACHED") < 2 {
		t.Errorf("same content, not cached:\n%s", p)
	}
	// A mismatch fails the build, and leaves no download behind.
	body.Store("v2\n")
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df(sum("v1\n"))), 0o644)
	_, errOut, code := e.berth("build", "--progress", "plain", dir)
	if code != 1 || !strings.Contains(errOut, "digest mismatch for "+srv.URL+"/other: "+sum("v2\n")) {
		t.Errorf("checksum mismatch: exit %d\n%s", code, errOut)
	}
	if left, _ := filepath.Glob(filepath.Join(e.root, "build", "tmp", "*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df(sum("v2\n"))), 0o644)
	e.build("-t", "url", dir)
	if got := e.must("run", "--rm", "url", "cat", "/dl/file.txt", "/named.txt"); got != "v2\nv2" {
		t.Errorf("changed content: %q", got)
	}
	for _, tc := range []struct{ df, err string }{
		{"FROM busybox\nADD --checksum=" + sum("x") + " Dockerfile /x\n", "checksum requires HTTP(S) or Git sources"},
		{"FROM busybox\nADD " + srv.URL + "/missing /x\n", "invalid response status 404"},
		{"FROM busybox\nADD --checksum=md5:00 " + srv.URL + "/a /x\n", "invalid checksum"},
		{"FROM busybox\nADD https://example.invalid/repo.git /x\n", "git sources are not supported"},
	} {
		dir := buildCtx(t, map[string]string{"Dockerfile": tc.df})
		if _, errOut, code := e.berth("build", "--progress", "plain", dir); code != 1 || !strings.Contains(errOut, tc.err) {
			t.Errorf("%q: exit %d, want %q\n%s", tc.df, code, tc.err, errOut)
		}
	}
}
