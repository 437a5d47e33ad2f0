package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/monitor"
)

// HealthConfig is a container's (or an image's) health check, in
// Docker's shape (Config.Healthcheck; durations in nanoseconds). Zero
// fields inherit: the image's, then Docker's defaults.
type HealthConfig struct {
	// Test is [] (inherit), ["NONE"], ["CMD", arg...] or
	// ["CMD-SHELL", command].
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Docker's defaults for what a health check leaves unset.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
	// MinHealthDuration is the least non-zero duration Docker takes.
	MinHealthDuration = time.Millisecond
)

// Health statuses, as inspect and the health_status event spell them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is inspect's State.Health.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one check's outcome (the monitor keeps the last five).
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// ValidateHealth applies Docker's daemon-side rules (the CLI refuses
// negative values before that, with the flag's name).
func ValidateHealth(h *HealthConfig) error {
	if h == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if d.v != 0 && d.v < MinHealthDuration {
			return fmt.Errorf("%s in Healthcheck cannot be less than %s", d.name, MinHealthDuration)
		}
	}
	if h.Retries < 0 {
		return fmt.Errorf("%s in Healthcheck cannot be negative", "Retries")
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
		case "CMD":
			if len(h.Test) < 2 || h.Test[1] == "" {
				return errors.New("invalid Healthcheck: CMD needs a command")
			}
		case "CMD-SHELL":
			if len(h.Test) != 2 || h.Test[1] == "" {
				return errors.New("invalid Healthcheck: CMD-SHELL needs one command string")
			}
		default:
			return fmt.Errorf("invalid Healthcheck: unknown test type %q (want NONE, CMD or CMD-SHELL)", h.Test[0])
		}
	}
	return nil
}

// mergeHealth is Docker's merge of the user's health check with the
// image's: each field the user left zero comes from the image.
func mergeHealth(user, image *HealthConfig) *HealthConfig {
	if user == nil {
		if image == nil {
			return nil
		}
		c := *image
		return &c
	}
	h := *user
	if image != nil {
		if len(h.Test) == 0 {
			h.Test = image.Test
		}
		if h.Interval == 0 {
			h.Interval = image.Interval
		}
		if h.Timeout == 0 {
			h.Timeout = image.Timeout
		}
		if h.StartPeriod == 0 {
			h.StartPeriod = image.StartPeriod
		}
		if h.StartInterval == 0 {
			h.StartInterval = image.StartInterval
		}
		if h.Retries == 0 {
			h.Retries = image.Retries
		}
	}
	return &h
}

// imageHealth reads the image config's Healthcheck from its blob:
// go-containerregistry's type has no StartInterval.
func (e *Engine) imageHealth(img Image) (*HealthConfig, error) {
	raw, err := e.images.ReadBlob(img.ID)
	if err != nil {
		return nil, err
	}
	var cf struct {
		Config struct {
			Healthcheck *HealthConfig `json:"Healthcheck"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	return cf.Config.Healthcheck, nil
}

// healthActive says whether c has a check to run.
func healthActive(h *HealthConfig) bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// probeArgs is the command a check runs: CMD's arguments, or
// CMD-SHELL's string through the image's shell (/bin/sh -c).
func probeArgs(h *HealthConfig, shell []string) []string {
	if h.Test[0] == "CMD" {
		return h.Test[1:]
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, shell...), h.Test[1])
}

func (e *Engine) healthFile(id string) string { return filepath.Join(e.ctrRunDir(id), "health.json") }

func (e *Engine) healthActorFile(id string) string {
	return filepath.Join(e.ctrRunDir(id), "health-actor.json")
}

// writeHealthActor writes the Actor of c's health_status events as
// emitContainer makes it (labels, name, image): the monitor pastes it
// into the lines it appends to the event log, reading it at each event,
// so a rename (which calls this again) shows in the next one.
func (e *Engine) writeHealthActor(c *Container) error {
	attrs := make(map[string]string, len(c.Config.Labels)+2)
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	attrs["name"], attrs["image"] = c.Name, c.ImageName
	if attrs["image"] == "" {
		attrs["image"] = c.Config.Image
	}
	b, err := json.Marshal(Actor{ID: c.ID, Attributes: attrs})
	if err != nil {
		return err
	}
	path := e.healthActorFile(c.ID)
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

// renamedHealth refreshes the health events' Actor of a running c
// after a rename (best effort: the name shows in the next event).
func (e *Engine) renamedHealth(c *Container) {
	if c.State == StateRunning && healthActive(c.Config.Healthcheck) {
		_ = e.writeHealthActor(c)
	}
}

// healthOptions prepares what c's monitor needs to run its checks: the
// check's process (the container's process as template, as exec does)
// and the event it emits. Nil when c has no active check.
func (e *Engine) healthOptions(c *Container) (*monitor.HealthOptions, error) {
	h := c.Config.Healthcheck
	if !healthActive(h) {
		return nil, nil
	}
	base, err := readSpec(e.bundleDir(c.ID))
	if err != nil {
		return nil, fmt.Errorf("health check: container spec: %w", err)
	}
	p, err := spec.ExecProcess(base.Process, e.rootfsDir(c.ID), spec.ExecOptions{Args: probeArgs(h, c.Config.Shell)})
	if err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	procFile := filepath.Join(e.ctrRunDir(c.ID), "health-process.json")
	if err := os.WriteFile(procFile, pb, 0o600); err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	if err := e.writeHealthActor(c); err != nil {
		return nil, err
	}
	or := func(d, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return d
	}
	retries := h.Retries
	if retries <= 0 {
		retries = DefaultHealthRetries
	}
	return &monitor.HealthOptions{
		ProcessFile: procFile, StateFile: e.healthFile(c.ID),
		EventsLog: e.eventsPath(), EventActorFile: e.healthActorFile(c.ID),
		Interval: or(h.Interval, DefaultHealthInterval), Timeout: or(h.Timeout, DefaultHealthTimeout),
		StartPeriod: h.StartPeriod, StartInterval: or(h.StartInterval, DefaultHealthStartInterval),
		Retries: retries,
	}, nil
}

// ContainerHealth is c's State.Health: nil without a check. A container
// that is not running reads unhealthy, as Docker reports it once the
// checks stopped.
func (e *Engine) ContainerHealth(c *Container) *Health {
	if !healthActive(c.Config.Healthcheck) {
		return nil
	}
	h := &Health{Status: HealthStarting, Log: []HealthResult{}}
	if b, err := os.ReadFile(e.healthFile(c.ID)); err == nil {
		var r Health
		if json.Unmarshal(b, &r) == nil && r.Status != "" {
			h = &r
			if h.Log == nil {
				h.Log = []HealthResult{}
			}
		}
	}
	if c.State != StateRunning {
		if c.Started.IsZero() {
			return nil // never started: Docker shows no Health yet
		}
		h.Status = HealthUnhealthy
	}
	return h
}
