package main

import (
	"errors"
	"time"

	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
)

// healthFlags are run's and create's --health-* flags, as Docker's CLI
// has them.
type healthFlags struct {
	cmd                                           string
	interval, timeout, startPeriod, startInterval time.Duration
	retries                                       int
}

func (h *healthFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&h.cmd, "health-cmd", "", "command to run to check health")
	fs.DurationVar(&h.interval, "health-interval", 0, "time between running the check (ms|s|m|h) (default 0s)")
	fs.DurationVar(&h.timeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&h.startPeriod, "health-start-period", 0, "start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.DurationVar(&h.startInterval, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h) (default 0s)")
	fs.IntVar(&h.retries, "health-retries", 0, "consecutive failures needed to report unhealthy")
}

// config is Docker's CLI reading of the flags: nil when none is given
// (the image's check applies), Test ["NONE"] with --no-healthcheck.
func (h *healthFlags) config(none bool) (*engine.HealthConfig, error) {
	set := h.cmd != "" || h.interval != 0 || h.timeout != 0 || h.startPeriod != 0 || h.startInterval != 0 || h.retries != 0
	if none {
		if set {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &engine.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--health-interval", h.interval}, {"--health-timeout", h.timeout}, {"--health-start-period", h.startPeriod}, {"--health-start-interval", h.startInterval}} {
		if d.v < 0 {
			return nil, errors.New(d.flag + " cannot be negative")
		}
	}
	if h.retries < 0 {
		return nil, errors.New("--health-retries cannot be negative")
	}
	c := &engine.HealthConfig{Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod,
		StartInterval: h.startInterval, Retries: h.retries}
	if h.cmd != "" {
		c.Test = []string{"CMD-SHELL", h.cmd}
	}
	return c, nil
}

// healthSuffix is what Docker's STATUS column adds for a running
// container with a health check.
func healthSuffix(status string) string {
	if status == engine.HealthStarting {
		return " (health: starting)"
	}
	return " (" + status + ")"
}
