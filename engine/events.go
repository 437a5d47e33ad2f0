package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Event is one entry of the engine's event log, in the Docker Engine API's
// shape (GET /events), so that `berth events` and the Docker API serve the
// same records.
type Event struct {
	Type     string `json:"Type"`   // container, image, volume, network, daemon
	Action   string `json:"Action"` // create, start, die, health_status: healthy, …
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"` // "local"
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is what an event is about.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// eventsPath is the live event log (JSON lines).
func (e *Engine) eventsPath() string { return filepath.Join(e.root, "events.log") }

// Emit appends ev to the event log. It never fails its caller: an event
// that cannot be written is lost, the operation it tells of is not.
func (e *Engine) Emit(ev Event) {
	if ev.TimeNano == 0 {
		now := time.Now()
		ev.Time, ev.TimeNano = now.Unix(), now.UnixNano()
	}
	if ev.Scope == "" {
		ev.Scope = "local"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	f, err := os.OpenFile(e.eventsPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	// One write per line: O_APPEND keeps lines of concurrent writers whole.
	_, _ = f.Write(append(b, '\n'))
	_ = f.Close()
}

// emitContainer emits a container event with Docker's attributes: name,
// image and the container's labels, plus extra.
//
//lint:ignore U1000 the container verbs call it as their events land (issue 11)
func (e *Engine) emitContainer(c *Container, action string, extra map[string]string) {
	attrs := make(map[string]string, len(c.Config.Labels)+len(extra)+2)
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	attrs["name"] = c.Name
	attrs["image"] = c.ImageName
	for k, v := range extra {
		attrs[k] = v
	}
	e.Emit(Event{Type: "container", Action: action, Actor: Actor{ID: c.ID, Attributes: attrs}})
}
