package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestErrorValues(t *testing.T) {
	err := Errorf(ErrNotRunning, "container with id %s is not running", "c1")
	if !errors.Is(err, ErrNotRunning) || errors.Is(err, ErrNotExist) {
		t.Errorf("Errorf kind: Is(ErrNotRunning)=%v Is(ErrNotExist)=%v", errors.Is(err, ErrNotRunning), errors.Is(err, ErrNotExist))
	}
	if err.Error() != "container with id c1 is not running" {
		t.Errorf("message %q: the caller's words must be kept as they are (tools match runc's text)", err)
	}
	root := t.TempDir()
	if _, err := Load(root, "missing"); !errors.Is(err, ErrNotExist) || err.Error() != "container missing does not exist" {
		t.Errorf("Load of a missing container: %v", err)
	}
	// A state dir without its state (a create killed early) is a container that does not exist.
	if err := os.Mkdir(filepath.Join(root, "half"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "half"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load of a state dir without state: %v", err)
	}
	if _, err := Load(root, "../x"); err == nil || errors.Is(err, ErrNotExist) {
		t.Errorf("Load of a bad id: %v, want an invalid-id error", err)
	}
}
