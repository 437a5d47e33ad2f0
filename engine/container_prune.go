package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PruneFilter is `container prune --filter` (and system prune's): until
// (a time or a duration back from now) and label / label! (KEY or
// KEY=VALUE), as Docker takes them.
type PruneFilter struct {
	Until             *time.Time
	Labels, NotLabels []string
}

// ParsePruneFilters reads until=, label= and label!= filters.
func ParsePruneFilters(args []string, now time.Time) (PruneFilter, error) {
	var f PruneFilter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || v == "" {
			return f, fmt.Errorf("invalid filter %q: want KEY=VALUE", a)
		}
		switch strings.ToLower(k) {
		case "until":
			t, err := ParseTimestamp(v, now)
			if err != nil {
				return f, fmt.Errorf("invalid filter %q: %w", a, err)
			}
			f.Until = &t
		case "label":
			f.Labels = append(f.Labels, v)
		case "label!":
			f.NotLabels = append(f.NotLabels, v)
		default:
			return f, fmt.Errorf("invalid filter %q: prune takes the keys until, label and label! only", a)
		}
	}
	return f, nil
}

// ParseTimestamp reads a time as Docker's --since, --until and until=
// take it: a Go duration back from now (10m, 1h30m), Unix seconds with
// an optional fraction, or an RFC 3339 date, date-time or local time.
func ParseTimestamp(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); len(sec) > 0 && strings.Trim(sec, "0123456789") == "" {
		s, err := strconv.ParseInt(sec, 10, 64)
		if err == nil {
			var ns int64
			if ok {
				if len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
					return time.Time{}, fmt.Errorf("timestamp %q: bad fraction", v)
				}
				ns, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
			}
			return time.Unix(s, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: want a duration, Unix seconds or an RFC 3339 time", v)
}

func labelMatch(labels map[string]string, v string) bool {
	k, want, has := strings.Cut(v, "=")
	got, ok := labels[k]
	return ok && (!has || got == want)
}

// Match says whether c passes f.
func (f PruneFilter) Match(c *Container) bool {
	if f.Until != nil && !c.Created.Before(*f.Until) {
		return false
	}
	for _, l := range f.Labels {
		if !labelMatch(c.Config.Labels, l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if labelMatch(c.Config.Labels, l) {
			return false
		}
	}
	return true
}

// PruneContainers removes every container that is not running (created
// or exited) and passes f, with its anonymous volumes kept as Docker
// keeps them. It returns the ids removed and the space their writable
// layers held.
func (e *Engine) PruneContainers(ctx context.Context, f PruneFilter) (deleted []string, reclaimed int64, err error) {
	cs, err := e.ListContainers()
	if err != nil {
		return nil, 0, err
	}
	var errs []error
	for i := range cs {
		c := &cs[i]
		if c.State == StateRunning || c.PodInfra || !f.Match(c) {
			continue // an infra container goes with its pod only
		}
		size, _, _ := e.ContainerSize(*c)
		full, err := e.LookupContainer(c.ID)
		if err != nil {
			if !errors.Is(err, ErrNoSuchContainer) {
				errs = append(errs, err)
			}
			continue
		}
		if _, err := e.RemoveContainer(ctx, full.ID, RemoveOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, c.ID)
		reclaimed += size
	}
	return deleted, reclaimed, errors.Join(errs...)
}
