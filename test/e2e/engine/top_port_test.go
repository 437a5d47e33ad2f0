package engine_test

import (
	"strings"
	"testing"
	"time"
)

func TestTop(t *testing.T) {
	e := newEnv(t)
	id := e.runReady("--name", "tops", "busybox", "sh", "-c", "sleep 601 & echo ready; exec sleep 602")
	waitFor(t, "sleep 602", 5*time.Second, func() bool { return strings.Contains(e.must("top", "tops"), "sleep 602") })
	rows := func(out string) []string { return strings.Split(strings.TrimSpace(out), "\n") }
	out := e.must("top", "tops")
	r := rows(out)
	if len(r) != 3 || strings.Join(strings.Fields(r[0]), " ") != "UID PID PPID C STIME TTY TIME CMD" ||
		!strings.Contains(out, "sleep 601") || !strings.Contains(out, "sleep 602") {
		t.Errorf("top:\n%s", out)
	}
	out = e.must("top", id, "-o", "pid,comm")
	r = rows(out)
	if len(r) != 3 || strings.Join(strings.Fields(r[0]), " ") != "PID COMMAND" || strings.Fields(r[1])[1] != "sleep" {
		t.Errorf("top -o pid,comm:\n%s", out)
	}
	out = e.must("top", "tops", "aux")
	if r = rows(out); len(r) != 3 || !strings.HasPrefix(r[0], "USER") || !strings.Contains(r[0], "COMMAND") {
		t.Errorf("top aux:\n%s", out)
	}
	stopped := e.must("create", "busybox", "true")
	want125(t, e, "not running", "top", stopped)
	want125(t, e, "no such container", "top", "gone")
	want125(t, e, "PID", "top", "tops", "-o", "comm")
	want125(t, e, "ps", "top", "tops", "--no-such-ps-option")
	want125(t, e, "1 arg", "top")
}

func TestPort(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "--name", "ports", "busybox", "sleep", "600")
	if out, errOut, code := e.berth("port", "ports"); code != 0 || out != "" || errOut != "" {
		t.Errorf("port: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := e.berth("port", "ports", "80/tcp"); code != 1 || !strings.Contains(errOut, "no public port '80/tcp' published for ports") {
		t.Errorf("port 80/tcp: %d %q", code, errOut)
	}
	if _, errOut, code := e.berth("port", "ports", "53/udp"); code != 1 || !strings.Contains(errOut, "'53/udp'") {
		t.Errorf("port 53/udp: %d %q", code, errOut)
	}
	want125(t, e, "invalid port", "port", "ports", "0")
	want125(t, e, "invalid port", "port", "ports", "http")
	want125(t, e, "protocol", "port", "ports", "80/icmp")
	want125(t, e, "no such container", "port", "gone")
	want125(t, e, "arg", "port", "ports", "80", "81")
}
