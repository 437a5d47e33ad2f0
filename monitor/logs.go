package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Entry is one log record.
type Entry struct {
	Time    time.Time
	Stream  string // "stdout" or "stderr"
	Data    []byte // with its newline unless Partial
	Partial bool   // a piece of a line (cut at 16 KiB, or the stream ended mid-line)
}

// maxRecord bounds one record line: the monitor writes at most ~100 KiB (16 KiB escaped).
const maxRecord = 1 << 20

// ParseJSONLine parses one json-file record (without its newline).
func ParseJSONLine(b []byte) (Entry, error) {
	var r struct {
		Log    *string   `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Entry{}, fmt.Errorf("json-file record: %w", err)
	}
	if r.Log == nil {
		return Entry{}, errors.New("json-file record: no log field")
	}
	if r.Stream != "stdout" && r.Stream != "stderr" {
		return Entry{}, fmt.Errorf("json-file record: stream %q", r.Stream)
	}
	d := []byte(*r.Log)
	return Entry{Time: r.Time, Stream: r.Stream, Data: d, Partial: len(d) == 0 || d[len(d)-1] != '\n'}, nil
}

// ParseK8sLine parses one CRI log record (without its newline): "TIME STREAM TAG MESSAGE",
// where TAG is F or P, possibly followed by more ':'-separated tags.
func ParseK8sLine(b []byte) (Entry, error) {
	var f [3][]byte
	rest := b
	for i := range f {
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			return Entry{}, errors.New("k8s-file record: fewer than four fields")
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return Entry{}, fmt.Errorf("k8s-file record: %w", err)
	}
	s := string(f[1])
	if s != "stdout" && s != "stderr" {
		return Entry{}, fmt.Errorf("k8s-file record: stream %q", s)
	}
	tag, _, _ := bytes.Cut(f[2], []byte(":"))
	e := Entry{Time: t, Stream: s}
	switch string(tag) {
	case "F":
		e.Data = append(append(make([]byte, 0, len(rest)+1), rest...), '\n')
	case "P":
		e.Data, e.Partial = append([]byte(nil), rest...), true
	default:
		return Entry{}, fmt.Errorf("k8s-file record: tag %q", f[2])
	}
	return e, nil
}

// LogOptions say what ReadLogs returns.
type LogOptions struct {
	Driver string // LogJSONFile or LogK8sFile
	Path   string // name.log; rotated files are name.log.1 (newest) .. name.log.N
	Tail   int    // the last Tail entries only; <= 0: all
	Since  time.Time
	Until  time.Time // zero: no bound
	Follow bool      // after the existing entries, wait for new ones, across rotations
	// Stopped is asked while following each time the log has no new data: true (the container
	// exited: its exit file is there) makes ReadLogs read what is left and return. Nil: follow
	// until ctx is done.
	Stopped func() bool
	Poll    time.Duration // how often a follower looks for new data; default 50 ms
}

// ReadLogs calls fn for each entry, oldest first. It returns fn's error, ctx's when following
// is cancelled, or nil.
func ReadLogs(ctx context.Context, o LogOptions, fn func(Entry) error) error {
	var parse func([]byte) (Entry, error)
	switch o.Driver {
	case LogJSONFile:
		parse = ParseJSONLine
	case LogK8sFile:
		parse = ParseK8sLine
	default:
		return fmt.Errorf("logs: driver %q keeps no log to read", o.Driver)
	}
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	r := &logReader{o: o, parse: parse, fn: fn}
	if o.Tail > 0 {
		r.ring = make([]Entry, 0, o.Tail)
	}
	// The oldest rotated file first. The current file is opened before the rotated ones are
	// read so that a rotation during the read shows as its inode moving to name.log.1.
	cur, err := os.Open(o.Path)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer func() { cur.Close() }()
	curIno := inode(cur)
	for i := maxRotated(o.Path); i >= 1; i-- {
		f, err := os.Open(o.Path + "." + strconv.Itoa(i))
		if err != nil {
			continue // rotated away meanwhile
		}
		if inode(f) == curIno {
			f.Close()
			break // name.log itself rotated since we opened it: it is read below
		}
		err = r.readAll(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := r.readAll(cur); err != nil {
		return err
	}
	if err := r.flushRing(); err != nil {
		return err
	}
	if !o.Follow {
		return nil
	}
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	for {
		stopped := o.Stopped != nil && o.Stopped()
		// Rotated? Then finish the old file and go on with the files that came after it.
		if st, err := os.Stat(o.Path); err == nil && st.Sys().(*syscall.Stat_t).Ino != curIno {
			if err := r.readAll(cur); err != nil {
				return err
			}
			// Files newer than ours that already rotated too (more than one rotation since the
			// last look): name.log.K-1 .. name.log.1 if ours is name.log.K.
			k := 0
			for i := 1; i <= maxRotated(o.Path); i++ {
				if fi, err := os.Stat(o.Path + "." + strconv.Itoa(i)); err == nil && fi.Sys().(*syscall.Stat_t).Ino == curIno {
					k = i
					break
				}
			}
			for i := k - 1; i >= 1; i-- {
				if f, err := os.Open(o.Path + "." + strconv.Itoa(i)); err == nil {
					err = r.readAll(f)
					f.Close()
					if err != nil {
						return err
					}
				}
			}
			nf, err := os.Open(o.Path)
			if err != nil {
				return fmt.Errorf("logs: %w", err)
			}
			cur.Close()
			cur, curIno, r.pending = nf, inode(nf), r.pending[:0]
			continue
		}
		// Truncated in place (max-file 1)? Start over at its beginning.
		if st, err := cur.Stat(); err == nil {
			if off, err := cur.Seek(0, io.SeekCurrent); err == nil && st.Size() < off {
				if _, err := cur.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("logs: %w", err)
				}
				r.pending = r.pending[:0]
			}
		}
		n, err := r.read(cur)
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if stopped {
			return nil // read after Stopped said true: nothing more will come
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

type logReader struct {
	o       LogOptions
	parse   func([]byte) (Entry, error)
	fn      func(Entry) error
	ring    []Entry // with Tail: the last entries, in a ring starting at head
	head    int
	buf     [64 << 10]byte
	pending []byte // an incomplete last line
}

func (r *logReader) readAll(f *os.File) error {
	for {
		n, err := r.read(f)
		if err != nil || n == 0 {
			r.pending = r.pending[:0]
			return err
		}
	}
}

// read reads once from f and hands over the complete lines; it returns the bytes read.
func (r *logReader) read(f *os.File) (int, error) {
	n, err := f.Read(r.buf[:])
	if n == 0 {
		if err == io.EOF {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("logs: %w", err)
		}
		return 0, err
	}
	data := r.buf[:n]
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(r.pending)+len(data) > maxRecord {
				return n, fmt.Errorf("logs: %s: a record longer than %d bytes", f.Name(), maxRecord)
			}
			r.pending = append(r.pending, data...)
			break
		}
		line := data[:i]
		if len(r.pending) > 0 {
			line = append(r.pending, line...)
		}
		data = data[i+1:]
		if err := r.line(line); err != nil {
			return n, err
		}
		r.pending = r.pending[:0]
	}
	return n, nil
}

func (r *logReader) line(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	e, err := r.parse(b)
	if err != nil {
		// A damaged record (a disk that filled mid-write) is skipped, as Docker skips it.
		return nil
	}
	if !r.o.Since.IsZero() && e.Time.Before(r.o.Since) {
		return nil
	}
	if !r.o.Until.IsZero() && e.Time.After(r.o.Until) {
		return nil
	}
	if r.ring != nil {
		e.Data = bytes.Clone(e.Data)
		if len(r.ring) < cap(r.ring) {
			r.ring = append(r.ring, e)
		} else {
			r.ring[r.head] = e
			r.head = (r.head + 1) % len(r.ring)
		}
		return nil
	}
	return r.fn(e)
}

func (r *logReader) flushRing() error {
	ring := r.ring
	r.ring = nil
	for i := range ring {
		if err := r.fn(ring[(r.head+i)%len(ring)]); err != nil {
			return err
		}
	}
	return nil
}

func inode(f *os.File) uint64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// maxRotated is the highest N with name.N present (rotation keeps them contiguous).
func maxRotated(path string) int {
	n := 0
	for {
		if _, err := os.Stat(path + "." + strconv.Itoa(n+1)); err != nil {
			return n
		}
		n++
	}
}

// Copier returns an fn for ReadLogs that writes each entry's data to its stream, prefixed with
// its time (RFC3339Nano, as docker logs -t prints it) when timestamps is set.
func Copier(stdout, stderr io.Writer, timestamps bool) func(Entry) error {
	return func(e Entry) error {
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if timestamps {
			if _, err := io.WriteString(w, e.Time.UTC().Format(time.RFC3339Nano)+" "); err != nil {
				return err
			}
		}
		_, err := w.Write(e.Data)
		return err
	}
}
