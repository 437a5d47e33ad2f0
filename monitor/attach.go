package monitor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
)

// Frame types of the attach protocol (see the package doc).
const (
	frameStdin      = 'i'
	frameCloseStdin = 'c'
	frameResize     = 'r'
	frameStdout     = 'o'
	frameStderr     = 'e'
	frameExit       = 'x'
	frameWelcome    = 'a'
	frameMax        = 32 << 10
)

// ErrDetached is Attach's answer when the detach keys were typed.
var ErrDetached = errors.New("detached from the container")

// WindowSize is a terminal's size.
type WindowSize struct{ Rows, Cols uint16 }

// AttachOptions say which streams an attach carries.
type AttachOptions struct {
	Stdin          io.Reader // nil: no input
	Stdout, Stderr io.Writer // nil: that stream is discarded
	// CloseStdin closes the container's stdin when Stdin ends (docker attach's behaviour for a
	// container started with stdin once); otherwise the end of Stdin only stops the input.
	CloseStdin bool
	DetachKeys []byte // a sequence that detaches (see ParseDetachKeys); nil: none
	// Resize sends window sizes to the container's terminal (the first right away, if the
	// caller queued one); closed or nil: none.
	Resize <-chan WindowSize
	// Connected is called once the connection stands, before any stream
	// is copied: a caller that starts the container only then misses no
	// output.
	Connected func()
}

// Attach connects to a monitor's attach socket and copies streams until the container exits
// (it returns the exit status), the detach keys are typed (ErrDetached), ctx is done or the
// connection breaks.
func Attach(ctx context.Context, socket string, o AttachOptions) (*Exit, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if o.Connected != nil {
		// The monitor has taken the client once its welcome frame is here.
		var h [5]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
		if h[0] != frameWelcome || binary.BigEndian.Uint32(h[1:]) != 0 {
			return nil, fmt.Errorf("attach: unexpected first frame %q", h[0])
		}
		o.Connected()
	}

	var wmu sync.Mutex
	send := func(t byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		for {
			n := min(len(p), frameMax)
			h := [5]byte{t}
			binary.BigEndian.PutUint32(h[1:], uint32(n))
			if _, err := conn.Write(append(h[:], p[:n]...)); err != nil {
				return err
			}
			p = p[n:]
			if len(p) == 0 {
				return nil
			}
		}
	}
	detached := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	if o.Resize != nil {
		// A size queued before the call goes first, ahead of any input that the program in the
		// container might answer at the wrong size.
		select {
		case ws, ok := <-o.Resize:
			if ok {
				sendSize(send, ws)
			}
		default:
		}
		go func() {
			for {
				select {
				case ws, ok := <-o.Resize:
					if !ok {
						return
					}
					if sendSize(send, ws) != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
	}
	if o.Stdin != nil {
		go func() {
			m := detachMatcher{keys: o.DetachKeys}
			buf := make([]byte, frameMax)
			for {
				n, err := o.Stdin.Read(buf)
				if n > 0 {
					out, hit := m.feed(buf[:n])
					if len(out) > 0 && send(frameStdin, out) != nil {
						return
					}
					if hit {
						close(detached)
						conn.Close()
						return
					}
				}
				if err != nil {
					if o.CloseStdin {
						if held := m.flush(); len(held) > 0 {
							send(frameStdin, held)
						}
						send(frameCloseStdin, nil)
					}
					return
				}
			}
		}()
	}
	exit, err := readFrames(conn, o.Stdout, o.Stderr)
	select {
	case <-detached:
		return nil, ErrDetached
	default:
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return exit, err
}

func sendSize(send func(byte, []byte) error, ws WindowSize) error {
	var b [4]byte
	binary.BigEndian.PutUint16(b[:], ws.Rows)
	binary.BigEndian.PutUint16(b[2:], ws.Cols)
	return send(frameResize, b[:])
}

// readFrames copies output frames until the exit frame or EOF.
func readFrames(r io.Reader, stdout, stderr io.Writer) (*Exit, error) {
	buf := make([]byte, frameMax)
	for {
		var h [5]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			if err == io.EOF {
				return nil, nil // the monitor hung up without an exit frame: it died
			}
			return nil, fmt.Errorf("attach: %w", err)
		}
		n := binary.BigEndian.Uint32(h[1:])
		if n > frameMax {
			return nil, fmt.Errorf("attach: frame of %d bytes", n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
		var w io.Writer
		switch h[0] {
		case frameStdout:
			w = stdout
		case frameStderr:
			w = stderr
		case frameExit:
			e, err := parseExit(p)
			if err != nil {
				return nil, fmt.Errorf("attach: %w", err)
			}
			return e, nil
		}
		if w != nil {
			if _, err := w.Write(p); err != nil {
				return nil, fmt.Errorf("attach: %w", err)
			}
		}
	}
}

// detachMatcher finds the detach sequence in input, holding back a prefix of it until it is
// known whether the whole sequence follows (then nothing of it reaches the container).
type detachMatcher struct {
	keys []byte
	held int // bytes of keys matched so far
}

func (m *detachMatcher) feed(p []byte) (out []byte, hit bool) {
	if len(m.keys) == 0 {
		return p, false
	}
	out = make([]byte, 0, len(p)+m.held)
	for _, b := range p {
		if b == m.keys[m.held] {
			m.held++
			if m.held == len(m.keys) {
				return out, true
			}
			continue
		}
		// No match: what was held is input after all. Retry b as the start of the sequence.
		out = append(out, m.keys[:m.held]...)
		m.held = 0
		if b == m.keys[0] {
			m.held = 1
			if len(m.keys) == 1 {
				return out, true
			}
			continue
		}
		out = append(out, b)
	}
	return out, false
}

func (m *detachMatcher) flush() []byte {
	h := m.keys[:m.held]
	m.held = 0
	return h
}

// ParseDetachKeys parses Docker's detach key syntax: comma-separated keys, each a single
// character or ctrl-X (X a letter, or one of @ [ \ ] ^ _). Docker's default is "ctrl-p,ctrl-q".
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case c == '@':
				keys = append(keys, 0)
			case c >= '[' && c <= '_':
				keys = append(keys, c-'['+27)
			default:
				return nil, fmt.Errorf("detach keys: unknown key %q", k)
			}
		default:
			return nil, fmt.Errorf("detach keys: unknown key %q", k)
		}
	}
	return keys, nil
}
