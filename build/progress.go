package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress prints BuildKit's plain progress: numbered vertices, each
// with its output lines, timed, and DONE, CACHED or ERROR.
type progress struct {
	mu sync.Mutex
	w  io.Writer // nil: quiet
	n  int
}

type vertex struct {
	p     *progress
	id    int
	name  string
	start time.Time
	tail  []string // the last lines of output, for an error
	buf   []byte
}

func (p *progress) printf(format string, a ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, a...)
}

func (p *progress) vertex(name string) *vertex {
	p.mu.Lock()
	p.n++
	v := &vertex{p: p, id: p.n, name: name, start: time.Now()}
	p.mu.Unlock()
	p.printf("\n#%d %s\n", v.id, name)
	return v
}

func (v *vertex) log(format string, a ...any) {
	v.p.printf("#%d %s\n", v.id, fmt.Sprintf(format, a...))
}

func (v *vertex) cached() { v.p.printf("#%d CACHED\n", v.id) }

func (v *vertex) done() {
	v.p.printf("#%d DONE %.1fs\n", v.id, time.Since(v.start).Seconds())
}

func (v *vertex) fail(err error) {
	v.p.printf("#%d ERROR: %v\n", v.id, err)
}

// Write takes the step's output: each line printed as BuildKit does
// (the vertex, the seconds since it began, the line).
func (v *vertex) Write(b []byte) (int, error) {
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

func (v *vertex) line(s string) {
	s = strings.TrimSuffix(s, "\r")
	line := fmt.Sprintf("%.3f %s", time.Since(v.start).Seconds(), s)
	v.tail = append(v.tail, line)
	if len(v.tail) > 10 {
		v.tail = v.tail[1:]
	}
	v.p.printf("#%d %s\n", v.id, line)
}

func (v *vertex) flush() {
	if len(v.buf) > 0 {
		v.line(string(v.buf))
		v.buf = nil
	}
}
