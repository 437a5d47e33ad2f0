package engine

import (
	"slices"
	"strings"
	"testing"
)

func TestParseShare(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", []string{"net", "ipc", "uts"}, ""},
		{"none", nil, ""},
		{"uts,net", []string{"net", "uts"}, ""},
		{"+pid", []string{"net", "ipc", "uts", "pid"}, ""},
		{"+pid,+cgroup", []string{"cgroup", "net", "ipc", "uts", "pid"}, ""},
		{"ipc,ipc", []string{"ipc"}, ""},
		{"net,+pid", nil, "leading +"},
		{"mnt", nil, "unknown namespace"},
	} {
		got, err := ParseShare(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseShare(%q): %v, want an error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseShare(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestPodStatus(t *testing.T) {
	run := Container{State: StateRunning}
	paused := Container{State: StateRunning, Paused: true}
	stopped := Container{State: StateStopped}
	created := Container{State: StateCreated}
	for _, tc := range []struct {
		cs   []Container
		want string
	}{
		{nil, PodCreated},
		{[]Container{created, created}, PodCreated},
		{[]Container{run, run}, PodRunning},
		{[]Container{run, stopped}, PodDegraded},
		{[]Container{run, created}, PodDegraded},
		{[]Container{paused, paused}, PodPaused},
		{[]Container{paused, stopped}, PodDegraded},
		{[]Container{stopped, stopped}, PodExited},
		{[]Container{stopped, created}, PodStopped},
	} {
		if got := PodStatus(tc.cs); got != tc.want {
			t.Errorf("PodStatus(%v) = %s, want %s", tc.cs, got, tc.want)
		}
	}
}
