package monitor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseJSONLine(t *testing.T) {
	tests := []struct {
		in      string
		data    string
		stream  string
		partial bool
		bad     bool
	}{
		{in: `{"log":"hello\n","stream":"stdout","time":"2026-12-02T18:23:05.570444639Z"}`, data: "hello\n", stream: "stdout"},
		{in: `{"log":"part","stream":"stderr","time":"2026-12-02T18:23:05Z"}`, data: "part", stream: "stderr", partial: true},
		{in: `{"log":"\u001b[0m\"q\"\n","stream":"stdout","time":"2026-12-02T18:23:05Z"}`, data: "\x1b[0m\"q\"\n", stream: "stdout"},
		{in: `{"stream":"stdout","time":"2026-12-02T18:23:05Z"}`, bad: true},
		{in: `{"log":"x\n","stream":"stdin","time":"2026-12-02T18:23:05Z"}`, bad: true},
		{in: `{"log":"x\n","stream":"stdout","time":"yesterday"}`, bad: true},
		{in: `{"log":"x\n","stream":"stdout","ti`, bad: true},
	}
	for _, tt := range tests {
		e, err := ParseJSONLine([]byte(tt.in))
		if tt.bad {
			if err == nil {
				t.Errorf("%s: no error", tt.in)
			}
			continue
		}
		if err != nil || string(e.Data) != tt.data || e.Stream != tt.stream || e.Partial != tt.partial || e.Time.IsZero() {
			t.Errorf("%s: %+v, %v", tt.in, e, err)
		}
	}
}

func TestParseK8sLine(t *testing.T) {
	tests := []struct {
		in      string
		data    string
		stream  string
		partial bool
		bad     bool
	}{
		{in: "2026-12-02T18:23:05.570444639Z stdout F hello world", data: "hello world\n", stream: "stdout"},
		{in: "2026-12-02T18:23:05Z stderr P part", data: "part", stream: "stderr", partial: true},
		{in: "2026-12-02T18:23:05Z stdout F ", data: "\n", stream: "stdout"},
		{in: "2026-12-02T18:23:05Z stdout F:x  two spaces", data: " two spaces\n", stream: "stdout"},
		{in: "2026-12-02T18:23:05Z stdout X hello", bad: true},
		{in: "2026-12-02T18:23:05Z stdin F hello", bad: true},
		{in: "noon stdout F hello", bad: true},
		{in: "2026-12-02T18:23:05Z stdout", bad: true},
	}
	for _, tt := range tests {
		e, err := ParseK8sLine([]byte(tt.in))
		if tt.bad {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil || string(e.Data) != tt.data || e.Stream != tt.stream || e.Partial != tt.partial {
			t.Errorf("%q: %+v, %v", tt.in, e, err)
		}
	}
}

func FuzzParseLogLine(f *testing.F) {
	f.Add([]byte(`{"log":"hello\n","stream":"stdout","time":"2026-12-02T18:23:05.570444639Z"}`))
	f.Add([]byte("2026-12-02T18:23:05.570444639Z stdout F hello world"))
	f.Add([]byte("2026-12-02T18:23:05Z stderr P:x part"))
	f.Add([]byte(`{"exitCode":137,"signal":9,"time":"2026-12-02T18:23:06.57180848Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := parseExit(b); err == nil && (e.Code < 0 || e.Code > 255) {
			t.Fatalf("exit file: code %d accepted", e.Code)
		}
		if e, err := ParseJSONLine(b); err == nil && e.Stream != "stdout" && e.Stream != "stderr" {
			t.Fatalf("json-file: stream %q accepted", e.Stream)
		}
		if e, err := ParseK8sLine(b); err == nil {
			if e.Stream != "stdout" && e.Stream != "stderr" {
				t.Fatalf("k8s-file: stream %q accepted", e.Stream)
			}
			if !e.Partial && (len(e.Data) == 0 || e.Data[len(e.Data)-1] != '\n') {
				t.Fatalf("k8s-file: a full line without its newline: %q", e.Data)
			}
		}
	})
}

func TestDetachKeys(t *testing.T) {
	k, err := ParseDetachKeys("ctrl-p,ctrl-q")
	if err != nil || !bytes.Equal(k, []byte{16, 17}) {
		t.Fatalf("ctrl-p,ctrl-q: %v %v", k, err)
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "alt-x", "ab", "ctrl-p,"} {
		if _, err := ParseDetachKeys(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	tests := []struct {
		chunks []string
		out    string
		hit    bool
	}{
		{[]string{"abc"}, "abc", false},
		{[]string{"ab\x10\x11cd"}, "ab", true},
		{[]string{"ab\x10", "\x11"}, "ab", true},
		{[]string{"a\x10b", "\x10\x10\x11"}, "a\x10b\x10", true},
		{[]string{"\x10", "x"}, "\x10x", false},
	}
	for _, tt := range tests {
		m := detachMatcher{keys: k}
		var out []byte
		hit := false
		for _, c := range tt.chunks {
			o, h := m.feed([]byte(c))
			out = append(out, o...)
			if h {
				hit = true
				break
			}
		}
		if string(out) != tt.out || hit != tt.hit {
			t.Errorf("%q: %q %v, want %q %v", tt.chunks, out, hit, tt.out, tt.hit)
		}
	}
}

// TestReadLogsFiles reads a rotated set written by hand: tail, since and until across files.
func TestReadLogsFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.log")
	base := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	write := func(name string, from, to int) {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "%s stdout F line %d\n", base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i)
		}
		b.WriteString("damaged record\n")
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(p+".2", 0, 10)
	write(p+".1", 10, 20)
	write(p, 20, 25)
	read := func(o LogOptions) string {
		o.Driver, o.Path = LogK8sFile, p
		var b bytes.Buffer
		if err := ReadLogs(context.Background(), o, Copier(&b, &b, false)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if got := read(LogOptions{}); !strings.HasPrefix(got, "line 0\n") || !strings.HasSuffix(got, "line 24\n") || strings.Count(got, "\n") != 25 {
		t.Errorf("all: %q", got)
	}
	if got := read(LogOptions{Tail: 3}); got != "line 22\nline 23\nline 24\n" {
		t.Errorf("tail 3: %q", got)
	}
	if got := read(LogOptions{Since: base.Add(9 * time.Second), Until: base.Add(11 * time.Second)}); got != "line 9\nline 10\nline 11\n" {
		t.Errorf("since/until: %q", got)
	}
	if got := read(LogOptions{Tail: 100, Until: base.Add(time.Second)}); got != "line 0\nline 1\n" {
		t.Errorf("tail and until: %q", got)
	}
	var b bytes.Buffer
	err := ReadLogs(context.Background(), LogOptions{Driver: LogK8sFile, Path: p, Tail: 1}, Copier(&b, &b, true))
	if err != nil || b.String() != "2026-12-02T00:00:24Z line 24\n" {
		t.Errorf("timestamps: %q %v", b.String(), err)
	}
	if err := ReadLogs(context.Background(), LogOptions{Driver: LogNone, Path: p}, Copier(&b, &b, true)); err == nil {
		t.Error("driver none: no error")
	}
	if err := ReadLogs(context.Background(), LogOptions{Driver: LogJSONFile, Path: p + ".missing"}, Copier(&b, &b, true)); err == nil {
		t.Error("missing log: no error")
	}
}
