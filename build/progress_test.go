package build

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTTYFrame: the frame's lines, as BuildKit's tty display shows them.
func TestTTYFrame(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	p := &progress{w: &bytes.Buffer{}, tty: &ttyDisplay{start: t0}}
	mk := func(name string, start, end float64, st int) *vertex {
		v := &vertex{p: p, name: name, start: at(start), end: at(end), state: st}
		p.tty.vertices = append(p.tty.vertices, v)
		return v
	}
	v := mk("[internal] load build definition from Dockerfile", 0, 0.01, doneState)
	v.statuses = []vstatus{{"transferring dockerfile: 52B", 10 * time.Millisecond}}
	mk("[1/3] FROM docker.io/library/busybox:latest", 0, 0.2, cachedState)
	v = mk("[2/3] RUN for i in 1 2 3 4 5 6 7 8; do echo line $i; done", 0.2, 0, running)
	for i := range 8 {
		v.recent = append(v.recent, "line "+string(rune('1'+i)))
		if len(v.recent) > ttyLogLines {
			v.recent = v.recent[1:]
		}
	}
	v.recent[5] = "old\r\x1b[31mred\tx"
	mk("[3/3] COPY a b", 0, 0, canceledState)
	mk("[x 2/2] RUN exit 3 and a very long command line that cannot fit in the display's width at all", 0.1, 1.25, errorState)

	for _, c := range []struct {
		final bool
		now   float64
		want  []string
	}{
		{false, 1.5, []string{
			"[+] Building 1.5s (4/5)",
			" => [internal] load build definition from Dockerfile          0.0s",
			" => => transferring dockerfile: 52B                           0.0s",
			" => CACHED [1/3] FROM docker.io/library/busybox:latest        0.2s",
			" => [2/3] RUN for i in 1 2 3 4 5 6 7 8; do echo line $i; done 1.3s",
			" => => # line 3",
			" => => # line 4",
			" => => # line 5",
			" => => # line 6",
			" => => # line 7",
			" => => # ?[31mred x",
			" => CANCELED [3/3] COPY a b                                   0.0s",
			" => ERROR [x 2/2] RUN exit 3 and a very long command line tha 1.1s",
		}},
	} {
		got := p.tty.frame(at(c.now), 66, c.final)
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("frame:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
	p.tty.vertices[2].state, p.tty.vertices[2].end = doneState, at(2)
	got := p.tty.frame(at(2.5), 65, true)
	if got[0] != "[+] Building 2.5s (5/5) FINISHED" || strings.Contains(strings.Join(got, "\n"), "# line") {
		t.Errorf("final frame:\n%s", strings.Join(got, "\n"))
	}
	p.tty.color = true
	got = p.tty.frame(at(2.5), 65, true)
	if !strings.HasPrefix(got[1], ansiBlue) || !strings.HasSuffix(got[2], ansiReset) || !strings.HasPrefix(got[5], ansiYellow) || !strings.HasPrefix(got[6], ansiRed) {
		t.Errorf("colors: %q", got)
	}
}

// TestTTYRedraw: frames are drawn over each other, and the last one,
// after close, has every step ended and FINISHED; notes come after it.
func TestTTYRedraw(t *testing.T) {
	var buf syncBuffer
	p := newProgress(&buf, true)
	p.tty.color = false
	v := p.vertex("[1/2] FROM busybox")
	v.done()
	v = p.vertex("[2/2] RUN echo hi")
	v.Write([]byte("hi\npartial"))
	time.Sleep(3 * ttyRefresh)
	v.flush()
	v.fail(errors.New("exit code: 1"))
	p.printf("a warning\n")
	p.close()
	p.close()
	out := buf.String()
	frames := strings.Split(out, "\x1b[?25l")
	if len(frames) < 3 {
		t.Fatalf("%d frames:\n%q", len(frames)-1, out)
	}
	if !regexp.MustCompile(`\x1b\[\d+A`).MatchString(out) {
		t.Errorf("no cursor-up: %q", out)
	}
	mid := strings.Join(frames[:len(frames)-1], "")
	if !strings.Contains(mid, " => => # hi\x1b[K") {
		t.Errorf("no running output in the frames: %q", mid)
	}
	last := frames[len(frames)-1]
	for _, want := range []string{"[+] Building ", " (2/2) FINISHED", " => [1/2] FROM busybox", " => ERROR [2/2] RUN echo hi", "\x1b[J\x1b[?25ha warning\n"} {
		if !strings.Contains(last, want) {
			t.Errorf("last frame has no %q: %q", want, last)
		}
	}
	if strings.Contains(last, "# hi") || strings.Contains(last, "# partial") {
		t.Errorf("the last frame shows an ended step's output: %q", last)
	}
	if got := strings.Join(v.tail, "|"); !strings.Contains(got, " hi|") || !strings.HasSuffix(got, " partial") {
		t.Errorf("tail for the error: %q", got)
	}
}

// TestPlain: the plain mode's lines.
func TestPlain(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false)
	v := p.vertex("[1/2] FROM busybox")
	v.log("resolve done")
	v.cached()
	v = p.vertex("[2/2] RUN x")
	v.Write([]byte("out\n"))
	v.canceled()
	v.fail(errors.New("late"))
	p.printf("note\n")
	p.close()
	got := regexp.MustCompile(`\d+\.\d+`).ReplaceAllString(buf.String(), "T")
	want := "\n#1 [1/2] FROM busybox\n#1 resolve done\n#1 CACHED\n\n#2 [2/2] RUN x\n#2 T out\n#2 CANCELED\nnote\n"
	if got != want {
		t.Errorf("plain:\n%q\nwant:\n%q", got, want)
	}
}

// syncBuffer is a bytes.Buffer that the display's goroutine and the
// test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTTYHeight: a frame taller than the terminal shows the header and
// the newest lines (the cursor cannot go back up past the screen's
// top); the last frame shows all.
func TestTTYHeight(t *testing.T) {
	var buf bytes.Buffer
	d := &ttyDisplay{w: &buf, start: time.Now(), size: func() (int, int) { return 40, 6 }}
	p := &progress{w: &buf, tty: d}
	for i := range 10 {
		p.vertex(fmt.Sprintf("step %d", i))
	}
	d.draw(false)
	got := ansiRE.ReplaceAllString(buf.String(), "")
	want := "[+] Building 0.0s (0/10)\n => step 6 0.0s\n => step 7 0.0s\n => step 8 0.0s\n => step 9 0.0s\n"
	if got := regexp.MustCompile(` +`).ReplaceAllString(got, " "); got != want {
		t.Errorf("frame:\n%q\nwant:\n%q", got, want)
	}
	buf.Reset()
	d.draw(true)
	if !strings.HasPrefix(buf.String(), "\x1b[5A") || strings.Count(buf.String(), "\n") != 11 {
		t.Errorf("last frame: %q", buf.String())
	}
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)
