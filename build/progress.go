package build

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// progress shows a build's steps as BuildKit does, in one of two modes:
// plain (numbered vertices, each line printed as it comes, for logs) or
// tty (a frame of all the steps with their timings, the running steps'
// last lines of output, redrawn in place and left, at the end, as the
// build's summary).
type progress struct {
	mu sync.Mutex
	w  io.Writer // nil: quiet
	n  int
	// tty is the redrawn display; nil in plain mode.
	tty *ttyDisplay
}

// vertex states.
const (
	running = iota
	doneState
	cachedState
	errorState
	canceledState
)

type vertex struct {
	p          *progress
	id         int
	name       string
	start, end time.Time
	state      int
	tail       []string // the last lines of output, for an error
	buf        []byte
	// For the tty display: the statuses ("transferring context: 2B")
	// and the last lines of output, shown while the step runs.
	statuses []vstatus
	recent   []string
}

type vstatus struct {
	text     string
	duration time.Duration
}

func newProgress(w io.Writer, tty bool) *progress {
	p := &progress{w: w}
	if w != nil && tty {
		p.tty = newTTYDisplay(w)
		go p.tty.run(p)
	}
	return p
}

// printf prints a note (a warning): in tty mode it is kept for after
// the last frame, as BuildKit prints warnings below its summary.
func (p *progress) printf(format string, a ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty != nil {
		p.tty.notes = append(p.tty.notes, fmt.Sprintf(format, a...))
		return
	}
	fmt.Fprintf(p.w, format, a...)
}

// plain prints a plain-mode line; the tty display draws from the
// vertices' state instead. Called with mu held.
func (p *progress) plain(format string, a ...any) {
	if p.w != nil && p.tty == nil {
		fmt.Fprintf(p.w, format, a...)
	}
}

// close ends the display: the tty's last frame, then its notes.
func (p *progress) close() {
	if p.tty != nil {
		p.tty.once.Do(func() { p.tty.stop(p) })
	}
}

func (p *progress) vertex(name string) *vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	v := &vertex{p: p, id: p.n, name: name, start: time.Now()}
	if p.tty != nil {
		p.tty.vertices = append(p.tty.vertices, v)
	}
	p.plain("\n#%d %s\n", v.id, name)
	return v
}

// log is a status line of the vertex ("transferring dockerfile: 52B
// done").
func (v *vertex) log(format string, a ...any) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	s := fmt.Sprintf(format, a...)
	p.plain("#%d %s\n", v.id, s)
	if p.tty != nil {
		since := v.start
		for _, st := range v.statuses {
			since = since.Add(st.duration)
		}
		v.statuses = append(v.statuses, vstatus{strings.TrimSuffix(s, " done"), time.Since(since)})
	}
}

// finish ends the vertex in state st; a vertex ends once.
func (v *vertex) finish(st int, plainLine string) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if v.state != running {
		return
	}
	v.state, v.end = st, time.Now()
	p.plain("#%d %s\n", v.id, plainLine)
}

func (v *vertex) cached() { v.finish(cachedState, "CACHED") }

func (v *vertex) done() {
	v.finish(doneState, fmt.Sprintf("DONE %.1fs", time.Since(v.start).Seconds()))
}

func (v *vertex) fail(err error) { v.finish(errorState, fmt.Sprintf("ERROR: %v", err)) }

// canceled marks a vertex that a failure elsewhere stopped, as BuildKit
// marks it.
func (v *vertex) canceled() { v.finish(canceledState, "CANCELED") }

// Write takes the step's output: each line printed as BuildKit does
// (the vertex, the seconds since it began, the line).
func (v *vertex) Write(b []byte) (int, error) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.buf = append(v.buf, b...)
	for {
		i := bytes.IndexByte(v.buf, '\n')
		if i < 0 {
			break
		}
		v.line(string(v.buf[:i]))
		v.buf = v.buf[i+1:]
	}
	return len(b), nil
}

// line takes one line of output. Called with mu held.
func (v *vertex) line(s string) {
	s = strings.TrimSuffix(s, "\r")
	line := fmt.Sprintf("%.3f %s", time.Since(v.start).Seconds(), s)
	v.tail = append(v.tail, line)
	if len(v.tail) > 10 {
		v.tail = v.tail[1:]
	}
	v.p.plain("#%d %s\n", v.id, line)
	if v.p.tty != nil {
		v.recent = append(v.recent, s)
		if len(v.recent) > ttyLogLines {
			v.recent = v.recent[1:]
		}
	}
}

func (v *vertex) flush() {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	if len(v.buf) > 0 {
		v.line(string(v.buf))
		v.buf = nil
	}
}

// ttyLogLines is how many of a running step's last lines the tty
// display shows (BuildKit's default).
const ttyLogLines = 6

// ttyRefresh is how often the tty display redraws.
const ttyRefresh = 100 * time.Millisecond

// ttyDisplay redraws the whole frame each tick: the cursor goes back up
// over the last frame, every line is rewritten and cleared to its end.
type ttyDisplay struct {
	w        io.Writer
	start    time.Time
	vertices []*vertex
	notes    []string
	lines    int // lines of the last frame
	color    bool
	size     func() (cols, rows int)
	once     sync.Once
	quit     chan struct{}
	exited   chan struct{}
}

func newTTYDisplay(w io.Writer) *ttyDisplay {
	return &ttyDisplay{w: w, start: time.Now(), color: os.Getenv("NO_COLOR") == "",
		size: func() (int, int) { return termSize(w) },
		quit: make(chan struct{}), exited: make(chan struct{})}
}

// run redraws until stop.
func (d *ttyDisplay) run(p *progress) {
	defer close(d.exited)
	t := time.NewTicker(ttyRefresh)
	defer t.Stop()
	for {
		p.mu.Lock()
		d.draw(false)
		p.mu.Unlock()
		select {
		case <-d.quit:
			return
		case <-t.C:
		}
	}
}

// stop ends the redraws with the last frame (FINISHED when every step
// ended), then the notes.
func (d *ttyDisplay) stop(p *progress) {
	close(d.quit)
	<-d.exited
	p.mu.Lock()
	defer p.mu.Unlock()
	d.draw(true)
	for _, n := range d.notes {
		io.WriteString(d.w, n)
	}
	d.notes = nil
}

// termSize is w's size in columns and rows when it is a terminal (rows
// 0: unknown, no limit), else 80 columns.
func termSize(w io.Writer) (cols, rows int) {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col), int(ws.Row)
		}
	}
	return 80, 0
}

const (
	ansiBlue   = "\x1b[34m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

// draw writes a frame over the last one. Called with mu held.
func (d *ttyDisplay) draw(final bool) {
	width, height := d.size()
	lines := d.frame(time.Now(), width-1, final)
	if !final && height > 1 && len(lines) > height-1 {
		// Only what fits: moving up past the screen's top cannot
		// redraw it. The header stays; the oldest lines go.
		lines = append(lines[:1], lines[len(lines)-(height-2):]...)
	}
	var b strings.Builder
	if d.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.lines)
	}
	b.WriteString("\x1b[?25l")
	for _, l := range lines {
		b.WriteString("\r")
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
	}
	// Clear what a taller frame left below.
	b.WriteString("\x1b[J\x1b[?25h")
	io.WriteString(d.w, b.String())
	d.lines = len(lines)
}

// frame is the display's lines, each at most width runes (colors
// aside).
func (d *ttyDisplay) frame(now time.Time, width int, final bool) []string {
	if width < 20 {
		width = 20
	}
	completed := 0
	for _, v := range d.vertices {
		if v.state != running {
			completed++
		}
	}
	head := fmt.Sprintf("[+] Building %.1fs (%d/%d)", now.Sub(d.start).Seconds(), completed, len(d.vertices))
	if final && completed == len(d.vertices) {
		head += " FINISHED"
	}
	out := []string{fit(head, width)}
	for _, v := range d.vertices {
		end := now
		if v.state != running {
			end = v.end
		}
		label := v.name
		color := ""
		switch v.state {
		case doneState:
			color = ansiBlue
		case cachedState:
			label, color = "CACHED "+label, ansiBlue
		case errorState:
			label, color = "ERROR "+label, ansiRed
		case canceledState:
			label, color = "CANCELED "+label, ansiYellow
		}
		line := timed(" => "+label, end.Sub(v.start), width)
		for _, st := range v.statuses {
			line += "\n" + timed(" => => "+st.text, st.duration, width)
		}
		if d.color && color != "" {
			line = color + strings.ReplaceAll(line, "\n", ansiReset+"\n"+color) + ansiReset
		}
		out = append(out, strings.Split(line, "\n")...)
		if v.state == running {
			for _, l := range v.recent {
				out = append(out, fit(" => => # "+printable(l), width))
			}
		}
	}
	return out
}

// timed is text with the duration at the right edge, text cut to fit.
func timed(text string, dt time.Duration, width int) string {
	s := dt.Seconds()
	if s < 0.05 {
		s = 0
	}
	t := fmt.Sprintf(" %.1fs", s)
	text = fit(text, width-len(t))
	return text + strings.Repeat(" ", width-len(t)-utf8.RuneCountInString(text)) + t
}

// fit cuts s to at most n runes.
func fit(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n, 0)])
}

// printable is a line of a step's output as the display can show it:
// what a carriage return overwrote dropped, control characters (an
// escape sequence would move the cursor the redraw counts on) made
// visible.
func printable(s string) string {
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
