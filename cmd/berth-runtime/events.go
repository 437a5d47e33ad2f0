package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/berth-dev/berth/runtime/container"
)

// event is runc's events JSON object: {"type":"stats"|"oom","id":ID,"data":...}.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// oomPoll is how often events checks the memory controller for an OOM kill between stats: a
// cheap read of one file, so that the "oom" event follows the kill closely.
const oomPoll = 100 * time.Millisecond

// cmdEvents is runc's `events`: with --stats it prints the cgroup counters once; otherwise it
// prints them every --interval, and an "oom" event when the memory controller kills a process,
// until the container stops.
func cmdEvents(g *globals, args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	var stats bool
	var interval time.Duration
	fs.BoolVar(&stats, "stats", false, "print the container's statistics once and exit")
	fs.DurationVar(&interval, "interval", 5*time.Second, "time between statistics")
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if interval <= 0 {
		return fmt.Errorf("events: --interval must be positive, got %s", interval)
	}
	c, err := container.Load(g.root, rest[0])
	if err != nil {
		return err
	}
	if c.Status() == container.StatusStopped {
		return container.Errorf(container.ErrNotRunning, "container with id %s is not running", c.ID())
	}
	enc := json.NewEncoder(os.Stdout)
	emitStats := func() error {
		s, err := c.Stats()
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		return enc.Encode(event{Type: "stats", ID: c.ID(), Data: s})
	}
	if stats {
		return emitStats()
	}
	// OOM kills from before events started are history, not events; each later one is an
	// "oom" event, as runc sends one per notification.
	oomSeen, _ := c.OOMKills()
	checkOOM := func() error {
		n, err := c.OOMKills()
		if err != nil {
			return nil
		}
		for ; oomSeen < n; oomSeen++ {
			if err := enc.Encode(event{Type: "oom", ID: c.ID()}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := emitStats(); err != nil {
		return err
	}
	next := time.Now().Add(interval)
	for {
		time.Sleep(min(oomPoll, time.Until(next)))
		if err := checkOOM(); err != nil {
			return err
		}
		if c.Status() == container.StatusStopped {
			return nil
		}
		if !time.Now().Before(next) {
			if err := emitStats(); err != nil {
				// The container may have stopped and its cgroup gone between the checks.
				if c.Status() == container.StatusStopped {
					return nil
				}
				g.logger.warnf("%v", err)
			}
			next = next.Add(interval)
			if time.Until(next) < 0 {
				next = time.Now().Add(interval)
			}
		}
	}
}
