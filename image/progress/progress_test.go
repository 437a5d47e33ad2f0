package progress

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {999, "999B"}, {1000, "1.0kB"}, {1_500_000, "1.5MB"}, {2_000_000_000, "2.0GB"},
	} {
		if got := Size(tc.n); got != tc.want {
			t.Errorf("Size(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// fakeClock advances one second per reading, so speeds are exact.
func fakeClock() func() time.Time {
	t0 := time.Unix(1000, 0)
	return func() time.Time { t0 = t0.Add(time.Second); return t0 }
}

func TestPlain(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(r Renderer)
		want string
	}{
		{
			name: "download",
			run: func(r Renderer) {
				io.WriteString(r, "Pulling from x\n")
				r.Start("aaaaaaaaaaaa", "Downloading", 2000)
				io.Copy(io.Discard, Reader(strings.NewReader(strings.Repeat("x", 2000)), r, "aaaaaaaaaaaa"))
				r.Done("aaaaaaaaaaaa", "Pull complete")
			},
			want: "Pulling from x\naaaaaaaaaaaa: Downloading 2.0kB\naaaaaaaaaaaa: Pull complete (2.0kB in 1s, 2.0kB/s)\n",
		},
		{
			name: "already there",
			run:  func(r Renderer) { r.Done("bbbbbbbbbbbb", "Already exists") },
			want: "bbbbbbbbbbbb: Already exists\n",
		},
		{
			name: "unknown size, retried",
			run: func(r Renderer) {
				r.Start("c", "Pushing", 0)
				r.Add("c", 5)
				r.Start("c", "Pushing", 0)
				r.Add("c", 3000)
				r.Done("c", "Pushed")
			},
			want: "c: Pushing\nc: Pushing\nc: Pushed (3.0kB in 1s, 3.0kB/s)\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := NewPlain(&buf)
			p.t.now = fakeClock()
			tc.run(p)
			p.Close()
			if buf.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), tc.want)
			}
		})
	}
}

func TestNewPicksRenderer(t *testing.T) {
	var buf bytes.Buffer
	if _, ok := New(&buf, false).(*Plain); !ok {
		t.Error("a buffer should get plain lines")
	}
	q := New(&buf, true)
	io.WriteString(q, "hello\n")
	q.Start("a", "Downloading", 1)
	q.Done("a", "Pull complete")
	if buf.Len() != 0 {
		t.Errorf("quiet wrote %q", buf.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := New(f, false).(*Plain); !ok {
		t.Error("a regular file should get plain lines")
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	b, ok := New(tty, false).(*Bars)
	if !ok {
		t.Fatal("a terminal should get bars")
	}
	b.Close()
}

var ansi = regexp.MustCompile(`\x1b\[[0-9]*[A-Za-z]`)

// TestBarsOnPty draws on a real pseudo-terminal and reads what a user's
// terminal would get: bars redrawn in place (cursor up + erase line),
// byte counts and speed, status lines above the bars and the final
// status of every layer.
func TestBarsOnPty(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	out := make(chan string)
	go func() {
		var all bytes.Buffer
		io.Copy(&all, bufio.NewReader(ptmx)) // ends with EIO once tty is closed
		out <- all.String()
	}()

	b := New(tty, false).(*Bars)
	if b.width != 100 {
		t.Errorf("width %d, want the terminal's 100", b.width)
	}
	io.WriteString(b, "Pulling from library/test\n")
	b.Start("aaaaaaaaaaaa", "Downloading", 4_000_000)
	b.Start("bbbbbbbbbbbb", "Downloading", 1000)
	for range 4 {
		b.Add("aaaaaaaaaaaa", 1_000_000)
		time.Sleep(RefreshInterval + 20*time.Millisecond)
	}
	b.Done("bbbbbbbbbbbb", "Already exists")
	io.WriteString(b, "Digest: sha256:1234\n")
	b.Done("aaaaaaaaaaaa", "Pull complete")
	b.Close()
	tty.Close()
	got := <-out

	for _, want := range []string{
		"\x1b[2A",     // redrawn in place
		"\r\x1b[2K",   // each line erased first
		"4.0MB/4.0MB", // bytes
		"MB/s",        // speed
		"[==============================]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
	// What stays on screen at the end, in order.
	plain := ansi.ReplaceAllString(got, "")
	last := plain[strings.LastIndex(plain, "Digest:"):]
	for _, want := range []string{"Digest: sha256:1234", "aaaaaaaaaaaa: Pull complete", "bbbbbbbbbbbb: Already exists"} {
		if !strings.Contains(last, want) {
			t.Errorf("final screen lacks %q:\n%q", want, last)
		}
	}
	if strings.Index(plain, "Pulling from") > strings.Index(plain, "aaaaaaaaaaaa:") {
		t.Errorf("status line printed below the bars:\n%q", plain)
	}
}
