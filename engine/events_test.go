package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
)

func openEvents(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.Options{Root: t.TempDir(), RunRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func seqEvent(writer, i int) engine.Event {
	return engine.Event{Type: "volume", Action: "create", Actor: engine.Actor{ID: fmt.Sprintf("v%d-%d", writer, i),
		Attributes: map[string]string{"driver": "local", "w": strconv.Itoa(writer), "i": strconv.Itoa(i)}}}
}

// readAll is the whole log, without following.
func readAll(t *testing.T, e *engine.Engine, o engine.EventOptions) []engine.Event {
	t.Helper()
	var got []engine.Event
	if err := e.Events(context.Background(), o, func(ev engine.Event) error {
		got = append(got, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// The log stays within two generations of the rotation size, keeps the
// newest events in order, and every line in it is whole.
func TestEventsRotationBounded(t *testing.T) {
	e := openEvents(t)
	const max = 4 << 10
	engine.SetEventsMax(e, max)
	for i := range 2000 {
		e.Emit(seqEvent(0, i))
	}
	ents, _ := filepath.Glob(filepath.Join(e.Root(), "events.log*"))
	if len(ents) != 2 {
		t.Fatalf("log files: %v, want events.log and events.log.1", ents)
	}
	for _, p := range ents {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		// One line may take a file past the size before it rotates.
		if st.Size() > max+256 {
			t.Errorf("%s: %d bytes, rotation at %d", p, st.Size(), max)
		}
	}
	got := readAll(t, e, engine.EventOptions{})
	if len(got) < 20 {
		t.Fatalf("%d events kept", len(got))
	}
	last, _ := strconv.Atoi(got[len(got)-1].Actor.Attributes["i"])
	if last != 1999 {
		t.Errorf("newest event %d, want 1999", last)
	}
	for k := 1; k < len(got); k++ {
		a, _ := strconv.Atoi(got[k-1].Actor.Attributes["i"])
		b, _ := strconv.Atoi(got[k].Actor.Attributes["i"])
		if b != a+1 {
			t.Fatalf("event %d after %d: a gap or a reorder", b, a)
		}
	}
}

// A follower sees every event exactly once while writers in parallel
// rotate the log many times under it.
func TestEventsFollowAcrossRotation(t *testing.T) {
	e := openEvents(t)
	// Each generation is some 200 events, written in ~10 ms: a follower
	// looking every 2 ms keeps up (one that falls a whole generation
	// behind, two rotations between its looks, loses the one between:
	// only one old file is kept).
	engine.SetEventsMax(e, 64<<10)
	const writers, each = 4, 600
	pad := strings.Repeat("p", 200)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]int{}
	ready := make(chan struct{})
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		close(ready)
		done <- e.Events(ctx, engine.EventOptions{Since: start, Follow: true, Poll: 2 * time.Millisecond}, func(ev engine.Event) error {
			seen[ev.Actor.ID]++
			if len(seen) == writers*each {
				cancel()
			}
			return nil
		})
	}()
	<-ready
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := seqEvent(w, i)
				ev.Actor.Attributes["pad"] = pad
				e.Emit(ev)
				if i%5 == 0 {
					time.Sleep(time.Millisecond) // a busy engine, not a flood
				}
			}
		}()
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(seen) != writers*each {
		t.Errorf("follower saw %d of %d events", len(seen), writers*each)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
	if _, err := os.Stat(filepath.Join(e.Root(), "events.log.1")); err != nil {
		t.Errorf("no rotation happened: %v", err)
	}
}

// Writers in parallel, with long lines, keep every line whole.
func TestEventsConcurrentLinesWhole(t *testing.T) {
	e := openEvents(t)
	engine.SetEventsMax(e, 64<<20) // one file to count
	const writers, each = 8, 100
	long := strings.Repeat("x", 8<<10) // past PIPE_BUF and a page
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := seqEvent(w, i)
				ev.Actor.Attributes["pad"] = long
				e.Emit(ev)
			}
		}()
	}
	wg.Wait()
	b, err := os.ReadFile(filepath.Join(e.Root(), "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	for _, l := range lines {
		var ev engine.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Actor.Attributes["pad"] != long {
			t.Fatalf("damaged line (%v): %.80s", err, l)
		}
	}
}

func TestEventsSinceUntil(t *testing.T) {
	e := openEvents(t)
	base := time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC)
	for i := range 10 {
		ev := seqEvent(0, i)
		at := base.Add(time.Duration(i) * time.Second)
		ev.Time, ev.TimeNano = at.Unix(), at.UnixNano()
		e.Emit(ev)
	}
	ids := func(evs []engine.Event) string {
		var s []string
		for _, ev := range evs {
			s = append(s, ev.Actor.Attributes["i"])
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         string
	}{
		{"all", time.Time{}, time.Time{}, "0,1,2,3,4,5,6,7,8,9"},
		{"since, included", base.Add(7 * time.Second), time.Time{}, "7,8,9"},
		{"until, included", time.Time{}, base.Add(2 * time.Second), "0,1,2"},
		{"between", base.Add(3*time.Second + 1), base.Add(5 * time.Second), "4,5"},
		{"none", base.Add(time.Hour), time.Time{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Follow with an Until in the past ends once the log is read.
			got := readAll(t, e, engine.EventOptions{Since: tc.since, Until: tc.until, Follow: !tc.until.IsZero()})
			if ids(got) != tc.want {
				t.Errorf("got %q, want %q", ids(got), tc.want)
			}
		})
	}
	err := e.Events(context.Background(), engine.EventOptions{Since: base.Add(time.Second), Until: base}, func(engine.Event) error { return nil })
	if err == nil {
		t.Error("since after until: no error")
	}
	// A follow ends at an Until in the future.
	t0 := time.Now()
	readAll(t, e, engine.EventOptions{Until: t0.Add(300 * time.Millisecond), Follow: true, Poll: 10 * time.Millisecond})
	if d := time.Since(t0); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("follow until 300ms from now took %s", d)
	}
}

func TestEventFilters(t *testing.T) {
	ctr := func(id, action string, attrs map[string]string) engine.Event {
		return engine.Event{Type: "container", Action: action, Scope: "local", Actor: engine.Actor{ID: id, Attributes: attrs}}
	}
	start := ctr("abc123", "start", map[string]string{"name": "web", "image": "busybox:1.36", "tier": "front"})
	execStart := ctr("abc123", "exec_start: sh -c date", map[string]string{"name": "web", "image": "busybox", "execID": "e1"})
	vol := engine.Event{Type: "volume", Action: "create", Scope: "local", Actor: engine.Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	img := engine.Event{Type: "image", Action: "tag", Scope: "local", Actor: engine.Actor{ID: "sha256:aa", Attributes: map[string]string{"name": "busybox:v2"}}}
	all := []engine.Event{start, execStart, vol, img}
	for _, tc := range []struct {
		filters []string
		want    []bool // start, execStart, vol, img
	}{
		{nil, []bool{true, true, true, true}},
		{[]string{"type=container"}, []bool{true, true, false, false}},
		{[]string{"type=volume", "type=image"}, []bool{false, false, true, true}},
		{[]string{"container=web"}, []bool{true, true, false, false}},
		{[]string{"container=abc"}, []bool{true, true, false, false}}, // an ID prefix
		{[]string{"container=other"}, []bool{false, false, false, false}},
		{[]string{"event=start"}, []bool{true, false, false, false}},
		{[]string{"event=exec_start"}, []bool{false, true, false, false}},
		{[]string{"event=exec_start: sh -c date"}, []bool{false, true, false, false}},
		{[]string{"event=create", "event=tag"}, []bool{false, false, true, true}},
		{[]string{"image=busybox"}, []bool{true, true, false, true}}, // tags stripped
		{[]string{"image=busybox:1.36"}, []bool{true, false, false, false}},
		{[]string{"image=sha256:aa"}, []bool{false, false, false, true}},
		{[]string{"label=tier"}, []bool{true, false, false, false}},
		{[]string{"label=tier=front"}, []bool{true, false, false, false}},
		{[]string{"label=tier=back"}, []bool{false, false, false, false}},
		{[]string{"label=tier", "label=name=web"}, []bool{true, false, false, false}}, // labels AND
		{[]string{"volume=data"}, []bool{false, false, true, false}},
		{[]string{"type=container", "event=start"}, []bool{true, false, false, false}},
		{[]string{"scope=local"}, []bool{true, true, true, true}},
		{[]string{"scope=swarm"}, []bool{false, false, false, false}},
		{[]string{"Type=volume"}, []bool{false, false, true, false}}, // keys lowercased
	} {
		m, err := engine.ParseEventFilters(tc.filters)
		if err != nil {
			t.Fatalf("%v: %v", tc.filters, err)
		}
		f, err := engine.NewEventFilter(m)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range all {
			if got := f.Match(&ev); got != tc.want[i] {
				t.Errorf("%v on %s %s: %v, want %v", tc.filters, ev.Type, ev.Action, got, tc.want[i])
			}
		}
	}
	for _, bad := range [][]string{{"colour=red"}, {"container"}} {
		if _, err := engine.ParseEventFilters(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// A run that ended while nothing watched is settled by a listing: its
// die is written once, and the stored record keeps what a listing does
// not read.
func TestDieOnceFromListing(t *testing.T) {
	e := openEvents(t)
	c := stoppedContainer(1)
	c.State, c.PID, c.PIDStart = engine.StateRunning, os.Getpid(), 1 // not this process's start: gone
	if err := e.PutContainer(c); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.ListContainers(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.LookupContainer(c.ID); err != nil {
			t.Fatal(err)
		}
	}
	var dies []engine.Event
	for _, ev := range readAll(t, e, engine.EventOptions{}) {
		if ev.Action == "die" {
			dies = append(dies, ev)
		}
	}
	if len(dies) != 1 || dies[0].Actor.Attributes["exitCode"] != "-1" || dies[0].Actor.Attributes["name"] != c.Name ||
		dies[0].Actor.Attributes["tier"] != "front" {
		t.Errorf("die events: %+v", dies)
	}
	got, err := e.GetContainer(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != engine.StateStopped || len(got.Options.Cmd) == 0 || got.Log.MaxFile != 5 || len(got.Config.Env) == 0 {
		t.Errorf("settled record lost fields: state %s, cmd %v, log %+v, env %v", got.State, got.Options.Cmd, got.Log, got.Config.Env)
	}
}

// BenchmarkEmit is the cost every command pays per event.
func BenchmarkEmit(b *testing.B) {
	e, err := engine.Open(engine.Options{Root: b.TempDir(), RunRoot: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ev := seqEvent(0, 0)
	for b.Loop() {
		e.Emit(ev)
	}
}
