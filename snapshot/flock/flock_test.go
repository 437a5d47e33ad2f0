package flock

import (
	"path/filepath"
	"testing"
)

func TestLockConflicts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	tests := []struct {
		name           string
		first, second  bool // exclusive?
		secondAcquired bool
	}{
		{"shared+shared", false, false, true},
		{"shared+exclusive", false, true, false},
		{"exclusive+shared", true, false, false},
		{"exclusive+exclusive", true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l1, err := Acquire(p, tc.first)
			if err != nil {
				t.Fatal(err)
			}
			defer l1.Release()
			l2, ok, err := TryAcquire(p, tc.second)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.secondAcquired {
				t.Fatalf("second acquired = %v, want %v", ok, tc.secondAcquired)
			}
			l2.Release()
		})
	}
}

func TestUpgradeKeepsSharedOnFailure(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, _ := Acquire(p, false)
	b, _ := Acquire(p, false)
	defer a.Release()
	if ok, err := b.TryUpgrade(); ok || err != nil {
		t.Fatalf("upgrade with another holder: ok=%v err=%v", ok, err)
	}
	// b must still hold a shared lock: an exclusive try must fail.
	a.Release()
	if _, ok, _ := TryAcquire(p, true); ok {
		t.Fatal("shared lock lost after failed upgrade")
	}
	if ok, err := b.TryUpgrade(); !ok || err != nil {
		t.Fatalf("upgrade alone: ok=%v err=%v", ok, err)
	}
	if _, ok, _ := TryAcquire(p, false); ok {
		t.Fatal("upgraded lock is not exclusive")
	}
	if err := b.Downgrade(); err != nil {
		t.Fatal(err)
	}
	if c, ok, _ := TryAcquire(p, false); !ok {
		t.Fatal("downgraded lock still exclusive")
	} else {
		c.Release()
	}
	b.Release()
}
