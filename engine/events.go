package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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

// Status, ID and From are the fields Docker's older event messages had
// (the action, the actor's ID, a container's image): templates written
// for them (`{{.Status}}`) keep working, and the JSON stays the current
// API's.
func (ev Event) Status() string { return ev.Action }
func (ev Event) ID() string     { return ev.Actor.ID }
func (ev Event) From() string   { return ev.Actor.Attributes["image"] }

// The event log is ROOT/events.log, one JSON object a line, and its one
// older generation ROOT/events.log.1: when the live file passes
// eventsMaxSize it is renamed over the old one, so the log never holds
// much more than twice that.
//
// Writers (every berth process, and any other that appends, such as a
// monitor) follow one protocol, which keeps lines whole and loses none
// across a rotation:
//   - open events.log with O_APPEND|O_CREAT, take a shared flock on that
//     open file, check that the path still names the file locked (else a
//     rotation came between: start again), write the line in one write(2),
//     close;
//   - to rotate: open events.log, take an exclusive flock on it, check
//     that the path still names it and that it is past the size, rename
//     it to events.log.1.
//
// So a rotation waits for the writes in progress, and no write lands in a
// file after it was renamed away: a reader that finds a new live file
// has all of the old one once it has read it to its end.
const eventsMaxSize = 1 << 20

// eventsPath is the live event log (JSON lines).
func (e *Engine) eventsPath() string { return filepath.Join(e.root, "events.log") }

func (e *Engine) eventsLimit() int64 {
	if e.eventsMax > 0 {
		return e.eventsMax
	}
	return eventsMaxSize
}

// Emit appends ev to the event log. It never fails its caller: an event
// that cannot be written is lost, the operation it tells of is not. It
// costs an open and a write (no fsync: events are a record for people
// and tools, not state the engine recovers from).
func (e *Engine) Emit(ev Event) {
	if ev.TimeNano == 0 {
		now := time.Now()
		ev.Time, ev.TimeNano = now.Unix(), now.UnixNano()
	}
	if ev.Scope == "" {
		ev.Scope = "local"
	}
	if ev.Actor.Attributes == nil {
		ev.Actor.Attributes = map[string]string{}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	appendEvent(e.eventsPath(), append(b, '\n'), e.eventsLimit())
}

// appendEvent writes line to the log at path by the protocol above and
// rotates the log when it has grown past limit.
func appendEvent(path string, line []byte, limit int64) {
	// A rotation between the open and the lock sends us round again;
	// three rotations in a row are more than a 1 MiB log ever sees.
	for range 3 {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return
		}
		if err := flockRetry(fd, unix.LOCK_SH); err != nil {
			unix.Close(fd)
			return
		}
		size, live := stillLive(fd, path)
		if !live {
			unix.Close(fd)
			continue
		}
		n, _ := unix.Write(fd, line)
		unix.Close(fd) // drops the lock
		if size+int64(n) > limit {
			rotateEvents(path, limit)
		}
		return
	}
}

// stillLive says whether path still names the open file fd, and its size.
func stillLive(fd int, path string) (int64, bool) {
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Stat(path, &b) != nil {
		return 0, false
	}
	return a.Size, a.Ino == b.Ino && a.Dev == b.Dev
}

// rotateEvents renames the live log to events.log.1 if it is still past
// limit once no write is in progress (another process may have rotated
// it first).
func rotateEvents(path string, limit int64) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if flockRetry(fd, unix.LOCK_EX) != nil {
		return
	}
	if size, live := stillLive(fd, path); live && size > limit {
		_ = os.Rename(path, path+".1")
	}
}

func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// EmitContainer emits a container event (see emitContainer), for the
// commands whose event the engine cannot see itself (an attach).
func (e *Engine) EmitContainer(c Container, action string, extra map[string]string) {
	e.emitContainer(&c, action, extra)
}

// emitContainer emits a container event (containerEvent).
func (e *Engine) emitContainer(c *Container, action string, extra map[string]string) {
	e.Emit(e.containerEvent(c, action, extra))
}

// containerEvent is a container event with Docker's attributes: name,
// image and the container's labels, plus extra.
func (e *Engine) containerEvent(c *Container, action string, extra map[string]string) Event {
	attrs := make(map[string]string, len(c.Config.Labels)+len(extra)+2)
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	attrs["name"] = c.Name
	attrs["image"] = c.ImageName
	if attrs["image"] == "" {
		attrs["image"] = c.Config.Image
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return Event{Type: "container", Action: action, Actor: Actor{ID: c.ID, Attributes: attrs}}
}

// emitImage emits an image event: id is the image's ID or, for a pull or
// push, the name it went by; name is Docker's name attribute. The
// image's labels (img; nil: none known) are attributes too, as in
// Docker.
func (e *Engine) emitImage(action, id, name string, img *Image) {
	attrs := map[string]string{}
	if img != nil {
		if cf, err := e.config(*img); err == nil {
			for k, v := range cf.Config.Labels {
				attrs[k] = v
			}
		}
	}
	attrs["name"] = name
	e.Emit(Event{Type: "image", Action: action, Actor: Actor{ID: id, Attributes: attrs}})
}

// emitVolume emits a volume event (the local driver is the only one).
func (e *Engine) emitVolume(action, name string) {
	e.Emit(Event{Type: "volume", Action: action, Actor: Actor{ID: name, Attributes: map[string]string{"driver": "local"}}})
}

// execAction is Docker's action of an exec event: "exec_start: sh -c
// date" names the command.
func execAction(action string, args []string) string {
	if len(args) == 0 {
		return action
	}
	return action + ": " + strings.Join(args, " ")
}

// emitDied emits the die events of runs that a metadata transaction is
// about to record as ended. It runs inside that transaction, holding the
// metadata file's write lock: whoever sees the container stopped (a stop
// about to emit its stop event) finds the die in the log already. A
// commit that then fails has written a die for a change that was not
// made; the next settle writes it again.
func (e *Engine) emitDied(cs []Container) {
	for i := range cs {
		c := &cs[i]
		extra := map[string]string{"exitCode": strconv.Itoa(c.ExitCode)}
		if !c.Started.IsZero() && c.Finished.After(c.Started) {
			// Docker's die carries the run's length in whole seconds.
			extra["execDuration"] = strconv.Itoa(int(c.Finished.Sub(c.Started).Seconds()))
		}
		e.emitContainer(c, "die", extra)
	}
}
