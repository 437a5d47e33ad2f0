package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

type item struct {
	id, action, status string
	total              int64
	n                  counter
	start, end         time.Time
	// rate is a smoothed bytes/s for the bars, sampled at each redraw.
	rate     float64
	lastN    int64
	lastTime time.Time
}

// speed is the average rate over the item's life (plain output).
func (it *item) speed(now time.Time) float64 {
	if !it.end.IsZero() {
		now = it.end
	}
	d := now.Sub(it.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(it.n.n.Load()) / d
}

// table is the items in order of first appearance.
type table struct {
	mu    sync.Mutex
	items []*item
	byID  map[string]*item
	now   func() time.Time
}

func (t *table) get(id string) *item {
	if it, ok := t.byID[id]; ok {
		return it
	}
	if t.byID == nil {
		t.byID = map[string]*item{}
	}
	it := &item{id: id}
	t.byID[id] = it
	t.items = append(t.items, it)
	return it
}

// add counts n more bytes for id; the count is atomic, so the lock covers the lookup only.
func (t *table) add(id string, n int64) {
	t.mu.Lock()
	it := t.get(id)
	t.mu.Unlock()
	it.n.n.Add(n)
}

func (t *table) start(id, action string, total int64) *item {
	now := t.now()
	it := t.get(id)
	it.action, it.status, it.total = action, "", total
	it.n.n.Store(0)
	it.start, it.end, it.lastTime, it.lastN, it.rate = now, time.Time{}, now, 0, 0
	return it
}

func (t *table) done(id, status string) *item {
	it := t.get(id)
	if it.start.IsZero() {
		it.start = t.now()
	}
	it.status, it.end = status, t.now()
	return it
}

// Plain prints one line when an item starts and one when it ends, with
// its size and average speed: fit for logs and pipes.
type Plain struct {
	w io.Writer
	t table
}

// NewPlain writes plain progress lines to w.
func NewPlain(w io.Writer) *Plain { return &Plain{w: w, t: table{now: time.Now}} }

func (p *Plain) Start(id, action string, total int64) {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	p.t.start(id, action, total)
	if total > 0 {
		fmt.Fprintf(p.w, "%s: %s %s\n", id, action, Size(total))
	} else {
		fmt.Fprintf(p.w, "%s: %s\n", id, action)
	}
}

func (p *Plain) Add(id string, n int64) { p.t.add(id, n) }

func (p *Plain) Done(id, status string) {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	it := p.t.done(id, status)
	if n := it.n.n.Load(); n > 0 {
		fmt.Fprintf(p.w, "%s: %s (%s in %s, %s/s)\n", id, status, Size(n),
			it.end.Sub(it.start).Round(time.Millisecond), Size(int64(it.speed(it.end))))
		return
	}
	fmt.Fprintf(p.w, "%s: %s\n", id, status)
}

func (p *Plain) Write(b []byte) (int, error) {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	return p.w.Write(b)
}

func (p *Plain) Close() error { return nil }

// Bars keeps one line per item at the bottom of a terminal and redraws
// them in place a few times a second; status lines written to it are
// printed above the bars.
type Bars struct {
	w     io.Writer
	t     table
	width int
	drawn int // lines of bars on screen
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// RefreshInterval is how often Bars redraws.
const RefreshInterval = 100 * time.Millisecond

// NewBars draws progress bars on the terminal w until Close.
func NewBars(w io.Writer) *Bars {
	b := &Bars{w: w, t: table{now: time.Now}, width: termWidth(w), stop: make(chan struct{})}
	b.wg.Add(1)
	go b.loop()
	return b
}

func termWidth(w io.Writer) int {
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 80
}

func (b *Bars) loop() {
	defer b.wg.Done()
	tk := time.NewTicker(RefreshInterval)
	defer tk.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tk.C:
			b.t.mu.Lock()
			b.redraw()
			b.t.mu.Unlock()
		}
	}
}

func (b *Bars) Start(id, action string, total int64) {
	b.t.mu.Lock()
	defer b.t.mu.Unlock()
	b.t.start(id, action, total)
	b.redraw()
}

func (b *Bars) Add(id string, n int64) { b.t.add(id, n) }

func (b *Bars) Done(id, status string) {
	b.t.mu.Lock()
	defer b.t.mu.Unlock()
	b.t.done(id, status)
	b.redraw()
}

// Write prints text above the bars.
func (b *Bars) Write(p []byte) (int, error) {
	b.t.mu.Lock()
	defer b.t.mu.Unlock()
	b.clear()
	n, err := b.w.Write(p)
	b.redraw()
	return n, err
}

// Close stops redrawing and leaves the final state on screen.
func (b *Bars) Close() error {
	b.once.Do(func() {
		close(b.stop)
		b.wg.Wait()
		b.t.mu.Lock()
		b.redraw()
		b.drawn = 0
		b.t.mu.Unlock()
	})
	return nil
}

// clear moves the cursor to the first bar line and erases to the end of
// the screen.
func (b *Bars) clear() {
	if b.drawn > 0 {
		fmt.Fprintf(b.w, "\x1b[%dA\r\x1b[J", b.drawn)
		b.drawn = 0
	}
}

func (b *Bars) redraw() {
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn)
	}
	now := b.t.now()
	for _, it := range b.t.items {
		sb.WriteString("\r\x1b[2K")
		sb.WriteString(truncate(b.line(it, now), b.width-1))
		sb.WriteByte('\n')
	}
	b.drawn = len(b.t.items)
	io.WriteString(b.w, sb.String())
}

const barWidth = 30

func (b *Bars) line(it *item, now time.Time) string {
	if it.status != "" {
		return fmt.Sprintf("%s: %s", it.id, it.status)
	}
	n := it.n.n.Load()
	if d := now.Sub(it.lastTime).Seconds(); d >= RefreshInterval.Seconds()/2 {
		inst := float64(n-it.lastN) / d
		if it.rate == 0 {
			it.rate = inst
		} else {
			it.rate = 0.7*it.rate + 0.3*inst
		}
		it.lastN, it.lastTime = n, now
	}
	if it.total <= 0 {
		return fmt.Sprintf("%s: %-11s %s  %s/s", it.id, it.action, Size(n), Size(int64(it.rate)))
	}
	frac := float64(n) / float64(it.total)
	if frac > 1 {
		frac = 1
	}
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	return fmt.Sprintf("%s: %-11s [%s] %s/%s  %s/s", it.id, it.action, bar, Size(n), Size(it.total), Size(int64(it.rate)))
}

func truncate(s string, n int) string {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}
