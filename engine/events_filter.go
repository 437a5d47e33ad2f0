package engine

import (
	"fmt"
	"slices"
	"strings"
)

// eventFilterKeys are the filters Docker's events take.
var eventFilterKeys = []string{"config", "container", "daemon", "event", "image", "label", "network",
	"node", "plugin", "scope", "secret", "service", "type", "volume"}

// ParseEventFilters reads `events --filter KEY=VALUE` arguments into the
// map EventOptions.Filters takes (keys lowercased, as Docker's CLI does).
func ParseEventFilters(args []string) (map[string][]string, error) {
	m := map[string][]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("invalid filter %q: want KEY=VALUE", a)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		m[k] = append(m[k], strings.TrimSpace(v))
	}
	if _, err := NewEventFilter(m); err != nil {
		return nil, err
	}
	return m, nil
}

// EventFilter is Docker's event filter: the values of one key OR (label
// values AND: each label given must be there), different keys AND.
type EventFilter struct {
	keys map[string][]string
}

// NewEventFilter checks filters (the Docker API's filters argument, or
// ParseEventFilters's) and compiles them.
func NewEventFilter(filters map[string][]string) (*EventFilter, error) {
	f := &EventFilter{keys: map[string][]string{}}
	for k, vs := range filters {
		if !slices.Contains(eventFilterKeys, k) {
			return nil, fmt.Errorf("invalid filter %q: berth's events know %s", k, strings.Join(eventFilterKeys, ", "))
		}
		if len(vs) > 0 {
			f.keys[k] = vs
		}
	}
	return f, nil
}

// Match says whether ev passes f.
func (f *EventFilter) Match(ev *Event) bool {
	if f == nil || len(f.keys) == 0 {
		return true
	}
	a := ev.Actor.Attributes
	// health_status and the exec actions carry more after a colon
	// ("exec_start: sh -c date"): those names match by prefix.
	event := f.exact
	if f.anyOf("event", "health_status", "exec_create", "exec_start") {
		event = f.fuzzy
	}
	imageAttr := a["image"]
	if ev.Type == "image" {
		imageAttr = a["name"]
	}
	scope := true
	if len(f.keys["scope"]) > 0 {
		scope = f.exact("scope", ev.Scope)
	}
	return event("event", ev.Action) &&
		f.exact("type", ev.Type) &&
		scope &&
		f.named("container", ev) && f.named("volume", ev) && f.named("network", ev) &&
		f.named("daemon", ev) && f.named("plugin", ev) && f.named("node", ev) &&
		f.named("service", ev) && f.named("secret", ev) && f.named("config", ev) &&
		(f.exact("image", ev.Actor.ID) || f.exact("image", imageAttr) ||
			f.exact("image", stripTag(ev.Actor.ID)) || f.exact("image", stripTag(imageAttr))) &&
		f.labels(a)
}

// exact: no values for key, or one of them is s.
func (f *EventFilter) exact(key, s string) bool {
	vs := f.keys[key]
	return len(vs) == 0 || slices.Contains(vs, s)
}

// fuzzy: exact, or one of the values is a prefix of s.
func (f *EventFilter) fuzzy(key, s string) bool {
	if f.exact(key, s) {
		return true
	}
	for _, v := range f.keys[key] {
		if strings.HasPrefix(s, v) {
			return true
		}
	}
	return false
}

// named matches the actor's ID or name by prefix, as Docker matches a
// container, volume or network filter (for an actor of any type).
func (f *EventFilter) named(key string, ev *Event) bool {
	return f.fuzzy(key, ev.Actor.ID) || f.fuzzy(key, ev.Actor.Attributes["name"])
}

func (f *EventFilter) anyOf(key string, values ...string) bool {
	for _, v := range f.keys[key] {
		if slices.Contains(values, v) {
			return true
		}
	}
	return false
}

// labels: every label filter, KEY or KEY=VALUE, is among the attributes.
func (f *EventFilter) labels(attrs map[string]string) bool {
	for _, l := range f.keys["label"] {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := attrs[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// stripTag drops the tag of an image name ("busybox:1" → "busybox").
func stripTag(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i]
	}
	return name
}
