package image_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
)

// rootWithoutOverlay is a directory on a file system that cannot hold
// overlay upper dirs: inside an overlay mount (overlayfs refuses an upper
// dir on overlayfs). The mount goes at cleanup.
func rootWithoutOverlay(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	p := func(n string) string { return filepath.Join(base, n) }
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(p(d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=" + p("lower") + ",upperdir=" + p("upper") + ",workdir=" + p("work")
	if err := unix.Mount("overlay", p("merged"), "overlay", 0, opts); err != nil {
		t.Skipf("no overlayfs here to make a root without overlay: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(p("merged"), 0); err != nil {
			t.Errorf("unmount %s: %v", p("merged"), err)
			unix.Unmount(p("merged"), unix.MNT_DETACH)
		}
	})
	return filepath.Join(p("merged"), "root")
}

// berthEnv runs berth on root with extra environment; it returns stdout
// and stderr apart.
func berthEnv(t *testing.T, root string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func TestSnapshotDriverOnRootWithoutOverlay(t *testing.T) {
	isolate(t)
	t.Setenv("BERTH_SNAPSHOTTER", "")
	root := rootWithoutOverlay(t)
	tarball := busyboxTar(t, false)

	// The first command probes, takes copy and says so, once.
	out, stderr, err := berthEnv(t, root, nil, "import", tarball, "drv:v1")
	if err != nil {
		t.Fatalf("import: %v: %s", err, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "WARNING: overlayfs does not work on "+root+" (") ||
		!strings.Contains(stderr, "using the copy snapshot driver") {
		t.Errorf("first command's stderr = %q, want the one-line copy driver warning", stderr)
	}
	if !strings.HasPrefix(out, "sha256:") {
		t.Errorf("import printed %q", out)
	}
	for _, args := range [][]string{{"images", "-q"}, {"image", "inspect", "drv:v1"}} {
		if _, stderr, err := berthEnv(t, root, nil, args...); err != nil || stderr != "" {
			t.Errorf("%s: %v, stderr %q (want no second warning)", args, err, stderr)
		}
	}
	out, _, err = berthEnv(t, root, nil, "info")
	meta := filepath.Join(root, "meta.db")
	if err != nil || !strings.Contains(out, "\nSnapshot driver: copy (probe: overlayfs does not work here (") ||
		!strings.Contains(out, "recorded in "+meta) {
		t.Errorf("info: %v:\n%s", err, out)
	}

	// Snapshots of the image work with the recorded driver.
	e, err := engine.Open(engine.Options{Root: root, RunRoot: os.Getenv("BERTH_RUNROOT")})
	if err != nil {
		t.Fatal(err)
	}
	if d := e.SnapshotDriver(); d.Name != "copy" || d.By != engine.DriverByProbe || !d.Earlier {
		t.Errorf("engine's driver = %+v", d)
	}
	rec, err := e.Images().Resolve("drv:v1")
	if err != nil {
		t.Fatal(err)
	}
	var diffIDs []v1.Hash
	for _, l := range rec.Layers {
		diffIDs = append(diffIDs, l.DiffID)
	}
	top, err := e.Images().Snapshots().Chain(diffIDs)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := e.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	m, err := sn.Prepare("ctr", top)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || m[0].Type != "bind" {
		t.Errorf("copy snapshot mounts %+v", m)
	} else if _, err := os.Stat(filepath.Join(m[0].Source, "bin/busybox")); err != nil {
		t.Errorf("copy snapshot: %v", err)
	}
	e.Close()

	// A config naming another driver is refused while the snapshot is
	// there, by name of its setting; nothing changes.
	file := filepath.Join(t.TempDir(), "berth.toml")
	if err := os.WriteFile(file, []byte("[storage]\ndriver = \"overlay\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"BERTH_CONFIG=" + file}, `storage.driver = "overlay" (file ` + file + `)`},
		{[]string{"BERTH_SNAPSHOTTER=overlay2"}, `storage.driver = "overlay2" (env BERTH_SNAPSHOTTER)`},
	} {
		_, stderr, err := berthEnv(t, root, tc.env, "images")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr, tc.want) ||
			!strings.Contains(stderr, "1 snapshot(s) made with the copy driver") {
			t.Errorf("%v: %v, stderr %q", tc.env, err, stderr)
		}
	}
	out, _, err = berthEnv(t, root, []string{"BERTH_SNAPSHOTTER=vfs"}, "info", "--format", "{{.SnapshotDriver.Name}}")
	if err != nil || out != "copy\n" {
		t.Errorf("info with the recorded driver named: %q, %v", out, err)
	}

	// Without snapshots the config's choice is taken and kept.
	e, err = engine.Open(engine.Options{Root: root, RunRoot: os.Getenv("BERTH_RUNROOT")})
	if err != nil {
		t.Fatal(err)
	}
	if sn, err = e.Snapshots(); err == nil {
		err = sn.Remove("ctr")
	}
	e.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := berthEnv(t, root, []string{"BERTH_CONFIG=" + file}, "images"); err != nil || stderr != "" {
		t.Fatalf("images with driver = overlay: %v: %s", err, stderr)
	}
	out, _, err = berthEnv(t, root, nil, "info")
	if err != nil || !strings.Contains(out, "\nSnapshot driver: overlay (storage.driver (file "+file+"); recorded in "+meta) {
		t.Errorf("info after the switch: %v:\n%s", err, out)
	}
}

// Commands that open a fresh root without overlay at once agree on the
// copy driver, and only one of them says so.
func TestSnapshotDriverFirstOpensAtOnce(t *testing.T) {
	t.Setenv("BERTH_SNAPSHOTTER", "")
	root := rootWithoutOverlay(t)
	const n = 4
	type result struct {
		stderr string
		err    error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			_, stderr, err := berthEnv(t, root, nil, "images", "-q")
			results <- result{stderr, err}
		}()
	}
	warnings := 0
	for range n {
		r := <-results
		if r.err != nil {
			t.Errorf("images: %v: %s", r.err, r.stderr)
		}
		warnings += strings.Count(r.stderr, "WARNING: overlayfs does not work")
	}
	if warnings != 1 {
		t.Errorf("%d warnings from %d first commands, want 1", warnings, n)
	}
	out, _, err := berthEnv(t, root, nil, "info", "--format", "{{.SnapshotDriver.Name}}")
	if err != nil || out != "copy\n" {
		t.Errorf("info: %q, %v", out, err)
	}
}
