// Package progress shows how the layers of a pull or push move: one line
// per layer redrawn in place on a terminal, plain lines otherwise.
//
// The mover (image/distribution) only sees the Reporter interface; the
// renderers here also take the mover's status lines (they are io.Writers)
// so that text and bars never overwrite each other.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Reporter is told what happens to each item (a layer, named by its short
// digest). All methods may be called from several goroutines at once.
type Reporter interface {
	// Start says item id begins action ("Downloading", "Pushing") with
	// total bytes to move (0 when unknown). Starting an item again (a
	// retry) resets its count.
	Start(id, action string, total int64)
	// Add counts n more bytes of item id.
	Add(id string, n int64)
	// Done ends item id with a final status ("Pull complete",
	// "Already exists", "Pushed").
	Done(id, status string)
}

// Renderer is a Reporter that also prints the mover's status lines and
// must be closed to flush its last state.
type Renderer interface {
	Reporter
	io.Writer
	Close() error
}

// New picks the renderer for w: bars when w is a terminal, plain lines
// otherwise, and nothing at all when quiet.
func New(w io.Writer, quiet bool) Renderer {
	switch {
	case quiet:
		return discard{}
	case IsTerminal(w):
		return NewBars(w)
	default:
		return NewPlain(w)
	}
}

// IsTerminal tells whether w is a file open on a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Reader counts what is read from r as item id's bytes.
func Reader(r io.Reader, rep Reporter, id string) io.Reader {
	if rep == nil {
		return r
	}
	return &countingReader{r: r, rep: rep, id: id}
}

type countingReader struct {
	r   io.Reader
	rep Reporter
	id  string
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.rep.Add(c.id, int64(n))
	}
	return n, err
}

type discard struct{}

func (discard) Start(string, string, int64) {}
func (discard) Add(string, int64)           {}
func (discard) Done(string, string)         {}
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// Size formats a byte count the way Docker's progress does (1000-based).
func Size(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit {
			return fmt.Sprintf("%.1f%s", f, u)
		}
	}
	return fmt.Sprintf("%.1fPB", f/unit)
}

// counter is one item's byte count; atomics keep Add cheap on the hot
// path (it runs for every read of a layer stream).
type counter struct{ n atomic.Int64 }
