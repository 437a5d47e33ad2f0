package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestContainerPrune(t *testing.T) {
	e := newEnv(t)
	e.must("run", "-d", "--name", "running", "busybox", "sleep", "600")
	one := e.must("run", "-d", "--name", "one", "--label", "a=1", "busybox", "sh", "-c", "echo x > /file")
	two := e.must("run", "-d", "--name", "two", "--label", "a=2", "busybox", "true")
	e.must("create", "--name", "created", "busybox", "true")
	e.must("wait", "one", "two")
	names := func() string { return strings.Join(strings.Fields(e.must("ps", "-a", "--format", "{{.Names}}")), " ") }

	// Bad filters: 125, nothing removed.
	want125(t, e, "invalid filter", "container", "prune", "-f", "--filter", "bogus=1")
	want125(t, e, "invalid filter", "container", "prune", "-f", "--filter", "until=yesterday")
	want125(t, e, "invalid filter", "container", "prune", "-f", "--filter", "label")
	want125(t, e, "unknown flag", "container", "prune", "--bogus")
	if got := names(); got != "created two one running" {
		t.Fatalf("after bad input: %q", got)
	}

	// No at the prompt keeps everything.
	out, _, code := e.berthIn([]byte("n\n"), "container", "prune")
	if code != 0 || out != "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " || names() != "created two one running" {
		t.Errorf("answered no: %d %q, left %q", code, out, names())
	}
	// label=, then label!=, then until= a time before they were made.
	out = e.must("container", "prune", "-f", "--filter", "label=a=1")
	if !strings.HasPrefix(out, "Deleted Containers:\n"+one+"\n\nTotal reclaimed space: ") || strings.HasSuffix(out, " 0B") {
		t.Errorf("label=a=1:\n%s", out)
	}
	if got := names(); got != "created two running" {
		t.Errorf("after label=a=1: %q", got)
	}
	e.must("container", "prune", "-f", "--filter", "label!=a")
	if got := names(); got != "two running" {
		t.Errorf("after label!=a: %q", got)
	}
	if out := e.must("container", "prune", "-f", "--filter", "until=1h"); out != "Total reclaimed space: 0B" {
		t.Errorf("until=1h:\n%s", out)
	}
	future := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	out, _, code = e.berthIn([]byte("y\n"), "container", "prune", "--filter", "until="+future)
	if code != 0 || !strings.Contains(out, "[y/N] Deleted Containers:\n"+two+"\n") {
		t.Errorf("answered yes: %d\n%s", code, out)
	}
	if got := names(); got != "running" {
		t.Errorf("left: %q", got)
	}
	if e.must("inspect", "-f", "{{.State.Status}}", "running") != "running" {
		t.Error("the running container was touched")
	}
}

func TestSystemPrune(t *testing.T) {
	e := newEnv(t)
	e.must("volume", "create", "keep")
	anon := e.must("run", "-d", "-v", "/data", "busybox", "true")
	e.must("wait", anon)
	vol := e.must("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", anon)
	up := e.must("run", "-d", "busybox", "sleep", "600")

	want := "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n" +
		"  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n" +
		"  - all build cache\n\nAre you sure you want to continue? [y/N] "
	if out, _, code := e.berthIn([]byte("\n"), "system", "prune", "-a", "--volumes"); code != 0 || out != want {
		t.Errorf("prompt: %d %q", code, out)
	}
	want125(t, e, "invalid filter", "system", "prune", "-f", "--filter", "dangling=true")
	if got := e.must("ps", "-aq"); len(strings.Fields(got)) != 2 {
		t.Fatalf("after no and bad input: %q", got)
	}

	// Stopped containers, then their anonymous volumes; the image is in
	// use by the running container and stays, the named volume too.
	out := e.must("system", "prune", "-f", "-a", "--volumes")
	if !strings.HasPrefix(out, "Deleted Containers:\n"+anon+"\n\nDeleted Volumes:\n"+vol+"\n\nTotal reclaimed space: ") {
		t.Errorf("system prune:\n%s", out)
	}
	if got := e.must("volume", "ls", "-q"); got != "keep" {
		t.Errorf("volumes left: %q", got)
	}
	if got := e.must("images", "-q"); got == "" {
		t.Error("the image in use was pruned")
	}
	// Without the running container the image goes with -a.
	e.must("rm", "-f", up)
	out = e.must("system", "prune", "-f", "-a")
	if !strings.HasPrefix(out, "Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:") || strings.HasSuffix(out, "space: 0B") {
		t.Errorf("system prune -a:\n%s", out)
	}
	if got := e.must("images", "-q"); got != "" {
		t.Errorf("images left: %q", got)
	}
	if out := e.must("system", "prune", "-f"); out != "Total reclaimed space: 0B" {
		t.Errorf("nothing to prune:\n%s", out)
	}
}
