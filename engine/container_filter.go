package engine

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// ContainerFilter is `ps --filter` (and the Docker API's filters): the
// same key ORs its values, different keys AND, as in Docker.
type ContainerFilter struct {
	keys map[string][]string
	// before and since are the creation times of the named containers.
	before, since *time.Time
}

// ParseContainerFilters reads KEY=VALUE filters: id, name, label, exited,
// status, ancestor, before, since, volume.
func (e *Engine) ParseContainerFilters(args []string) (*ContainerFilter, error) {
	f := &ContainerFilter{keys: map[string][]string{}}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(k)
		if !ok || v == "" {
			return nil, fmt.Errorf("invalid filter %q: want KEY=VALUE", a)
		}
		switch k {
		case "id", "name", "label", "ancestor", "volume":
		case "exited":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("invalid filter %q: exited takes an exit code", a)
			}
		case "status":
			switch v {
			case "created", "restarting", "running", "removing", "paused", "exited", "dead":
			default:
				return nil, fmt.Errorf("invalid filter %q: status is one of created, restarting, running, removing, paused, exited, dead", a)
			}
		case "before", "since":
			c, err := e.LookupContainer(v)
			if err != nil {
				return nil, fmt.Errorf("invalid filter %q: %w", a, err)
			}
			t := c.Created
			if k == "before" {
				f.before = &t
			} else {
				f.since = &t
			}
			continue
		default:
			return nil, fmt.Errorf("invalid filter %q: unknown key %q (berth knows id, name, label, exited, status, ancestor, before, since, volume)", a, k)
		}
		f.keys[k] = append(f.keys[k], v)
	}
	return f, nil
}

// Empty says whether f lets everything through.
func (f *ContainerFilter) Empty() bool {
	return f == nil || len(f.keys) == 0 && f.before == nil && f.since == nil
}

// HasStatus says whether f filters on status or exited (ps then looks at
// stopped containers without -a, as Docker does).
func (f *ContainerFilter) HasStatus() bool {
	return f != nil && (len(f.keys["status"]) > 0 || len(f.keys["exited"]) > 0)
}

// Match says whether c passes f.
func (f *ContainerFilter) Match(c *Container) bool {
	if f == nil {
		return true
	}
	if f.before != nil && !c.Created.Before(*f.before) || f.since != nil && !c.Created.After(*f.since) {
		return false
	}
	for k, vs := range f.keys {
		ok := false
		for _, v := range vs {
			if f.match(k, v, c) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (f *ContainerFilter) match(k, v string, c *Container) bool {
	switch k {
	case "id":
		return strings.HasPrefix(c.ID, v)
	case "name":
		// Docker matches names as a regular expression; a substring match
		// covers what people type.
		return strings.Contains(c.Name, strings.TrimPrefix(v, "/"))
	case "label":
		lk, lv, has := strings.Cut(v, "=")
		got, ok := c.Config.Labels[lk]
		return ok && (!has || got == lv)
	case "exited":
		n, _ := strconv.Atoi(v)
		return c.State == StateStopped && c.ExitCode == n
	case "status":
		return c.Status() == v
	case "ancestor":
		if c.Image == v || strings.HasPrefix(strings.TrimPrefix(c.Image, "sha256:"), strings.TrimPrefix(v, "sha256:")) && len(v) >= 4 {
			return true
		}
		want, err1 := NormalizeName(v)
		have, err2 := NormalizeName(c.ImageName)
		if err1 == nil && err2 == nil {
			return want == have
		}
		return c.ImageName == v
	case "volume":
		for _, m := range c.Mounts {
			if m.Name == v || m.Destination == path.Clean(v) || m.Source == v {
				return true
			}
		}
	}
	return false
}
