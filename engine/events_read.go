package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// EventOptions say which events Events delivers and for how long.
type EventOptions struct {
	// Since and Until bound the events' times (both included); zero: no
	// bound. Without Since a follow delivers only new events, as
	// Docker's does; an Until in the past ends a follow when the log has
	// been read.
	Since, Until time.Time
	// Filters are Docker's event filters (ParseEventFilters).
	Filters map[string][]string
	// Follow keeps reading new events until ctx ends or Until passes.
	Follow bool
	// Poll is how often a follow looks for new lines; 0: 100 ms.
	Poll time.Duration
}

// Events calls fn with each event of the log that o selects, oldest
// first: the old generation, then the live file, then, when following,
// each new line as it comes, across rotations. fn's error ends it; the
// end of ctx ends it without one.
// It needs no more of e than its root, so it may run after e.Close: a
// follow that lasts for days does not hold the root open.
func (e *Engine) Events(ctx context.Context, o EventOptions, fn func(Event) error) error {
	f, err := NewEventFilter(o.Filters)
	if err != nil {
		return err
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && o.Since.After(o.Until) {
		return fmt.Errorf("events: since (%s) is after until (%s)", o.Since.Format(time.RFC3339Nano), o.Until.Format(time.RFC3339Nano))
	}
	r := &eventReader{path: e.eventsPath(), filter: f, fn: fn, poll: o.Poll}
	if !o.Since.IsZero() {
		r.since = o.Since.UnixNano()
	}
	if !o.Until.IsZero() {
		r.until = o.Until.UnixNano()
	}
	if r.poll <= 0 {
		r.poll = 100 * time.Millisecond
	}
	defer r.closeCur()
	return r.run(ctx, o.Follow, o.Since.IsZero() && o.Until.IsZero() && o.Follow)
}

type eventReader struct {
	path         string
	since, until int64 // UnixNano; until 0: none
	filter       *EventFilter
	fn           func(Event) error
	poll         time.Duration

	cur   *os.File    // the live file as last opened
	curSt os.FileInfo // its identity
	buf   []byte      // what was read of cur after its last newline
	chunk []byte
}

func (r *eventReader) run(ctx context.Context, follow, liveOnly bool) error {
	oldPath := r.path + ".1"
	var done os.FileInfo // the last file read to its end
	if st, err := os.Stat(oldPath); err == nil && !liveOnly {
		done = st
		// All of the old generation is older than its last change (give
		// or take the kernel's coarse clock, hence the second).
		if st.ModTime().Add(time.Second).UnixNano() >= r.since {
			if err := r.readWhole(oldPath, st); err != nil {
				return err
			}
		}
	}
	if err := r.open(done, !liveOnly); err != nil {
		return err
	}
	if liveOnly && r.cur != nil {
		if _, err := r.cur.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("events: %w", err)
		}
	}
	for {
		if err := r.drain(r.cur); err != nil {
			return err
		}
		if st, err := os.Stat(r.path); err == nil && (r.curSt == nil || !os.SameFile(st, r.curSt)) {
			// Rotated (or made): the old file takes no more writes, so
			// what is left of it is read first, then the new one.
			if r.cur != nil {
				if err := r.drain(r.cur); err != nil {
					return err
				}
				done = r.curSt
			}
			r.closeCur()
			if err := r.open(done, true); err != nil {
				return err
			}
			continue
		}
		if !follow {
			return nil
		}
		wait := r.poll
		if r.until != 0 {
			left := time.Until(time.Unix(0, r.until))
			if left < 0 {
				// Past Until: what was written up to it has been read
				// (this last look came after it).
				return nil
			}
			wait = min(wait, left+time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// open opens the live file. done is the file read last: with catchUp,
// when the old generation is neither it nor the new live file, a
// rotation came and went between two looks, and that generation is read
// whole first.
func (r *eventReader) open(done os.FileInfo, catchUp bool) error {
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing logged yet, or mid-rotation: looked for again
	}
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("events: %w", err)
	}
	r.cur, r.curSt = f, st
	if !catchUp {
		return nil
	}
	oldPath := r.path + ".1"
	if old, err := os.Stat(oldPath); err == nil && !os.SameFile(old, st) && (done == nil || !os.SameFile(old, done)) {
		return r.readWhole(oldPath, old)
	}
	return nil
}

func (r *eventReader) closeCur() {
	if r.cur != nil {
		r.cur.Close()
	}
	r.cur, r.curSt, r.buf = nil, nil, r.buf[:0]
}

// readWhole delivers the events of a file that takes no more writes.
func (r *eventReader) readWhole(path string, want os.FileInfo) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // rotated away meanwhile: gone
	}
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !os.SameFile(st, want) {
		return nil // replaced meanwhile: that generation is gone
	}
	saved := r.buf
	r.buf = nil
	err = r.drain(f)
	r.buf = saved
	return err
}

// drain delivers the whole lines of f from its offset to its end; a last
// line without its newline yet stays in r.buf.
func (r *eventReader) drain(f *os.File) error {
	if f == nil {
		return nil
	}
	if r.chunk == nil {
		r.chunk = make([]byte, 64<<10)
	}
	for {
		n, err := f.Read(r.chunk)
		if n > 0 {
			r.buf = append(r.buf, r.chunk[:n]...)
			rest := r.buf
			for {
				i := bytes.IndexByte(rest, '\n')
				if i < 0 {
					break
				}
				if err := r.deliver(rest[:i]); err != nil {
					return err
				}
				rest = rest[i+1:]
			}
			r.buf = append(r.buf[:0], rest...)
		}
		if err == io.EOF || n == 0 && err == nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
	}
}

func (r *eventReader) deliver(line []byte) error {
	var ev Event
	if len(line) == 0 || json.Unmarshal(line, &ev) != nil {
		return nil // a damaged line is not worth failing the rest for
	}
	if ev.TimeNano == 0 {
		ev.TimeNano = ev.Time * int64(time.Second)
	}
	if ev.TimeNano < r.since || r.until != 0 && ev.TimeNano > r.until {
		return nil
	}
	if !r.filter.Match(&ev) {
		return nil
	}
	return r.fn(ev)
}
