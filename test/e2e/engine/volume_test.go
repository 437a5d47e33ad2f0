// Package engine_test drives the engine and the berth CLI end to end, as
// root, each test on engine roots of its own.
package engine_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/test/fixture"
)

type volRoots struct{ root, run, config string }

func volNewRoots(t *testing.T) volRoots {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "berth.toml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return volRoots{filepath.Join(dir, "root"), filepath.Join(dir, "run"), cfg}
}

// berth runs the CLI binary on r's roots.
func (r volRoots) berth(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(volBinary, append([]string{"--root", r.root, "--runroot", r.run}, args...)...)
	cmd.Env = append(os.Environ(), "BERTH_CONFIG="+r.config)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("berth %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (r volRoots) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := r.berth(t, "", args...)
	if code != 0 {
		t.Fatalf("berth %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func (r volRoots) open(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.Options{Root: r.root, RunRoot: r.run})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestVolumeCLI(t *testing.T) {
	r := volNewRoots(t)
	if out := r.ok(t, "volume", "create", "--label", "app=web", "data"); out != "data\n" {
		t.Fatalf("create: %q", out)
	}
	anon := strings.TrimSpace(r.ok(t, "volume", "create"))
	if len(anon) != 64 {
		t.Fatalf("anonymous name %q", anon)
	}
	r.ok(t, "volume", "create", "spare")

	// inspect: Docker's JSON, and the found ones before the error.
	out, errOut, code := r.berth(t, "", "volume", "inspect", "data", "missing")
	if code != 1 || !strings.Contains(errOut, "no such volume: missing") {
		t.Errorf("inspect of a missing volume: exit %d, %q", code, errOut)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("inspect output %q: %v", out, err)
	}
	mp := filepath.Join(r.root, "volumes", "data", "_data")
	if len(got) != 1 || got[0]["Name"] != "data" || got[0]["Driver"] != "local" || got[0]["Scope"] != "local" ||
		got[0]["Mountpoint"] != mp || got[0]["Labels"].(map[string]any)["app"] != "web" {
		t.Errorf("inspect: %v", got)
	}
	if ts, err := time.Parse(time.RFC3339, got[0]["CreatedAt"].(string)); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("CreatedAt %v: %v", got[0]["CreatedAt"], err)
	}
	if len(got[0]) != 7 {
		t.Errorf("inspect shows fields Docker does not: %v", got[0])
	}
	if err := os.WriteFile(filepath.Join(mp, "f"), make([]byte, 2500), 0o644); err != nil {
		t.Fatal(err)
	}

	// A container that names the volume keeps it from rm and prune.
	e := r.open(t)
	err := e.PutContainer(engine.Container{ID: "c0ffee", State: engine.StateCreated, Created: time.Now(),
		Mounts: []engine.MountPoint{{Type: "volume", Name: "data", Source: mp, Destination: "/data", RW: true}}})
	e.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out := r.ok(t, "volume", "ls", "-q", "--filter", "dangling=false"); out != "data\n" {
		t.Errorf("ls dangling=false: %q", out)
	}
	names := []string{anon, "data", "spare"}
	slices.Sort(names)
	if out := r.ok(t, "volume", "ls"); out != "DRIVER    VOLUME NAME\nlocal     "+strings.Join(names, "\nlocal     ")+"\n" {
		t.Errorf("ls:\n%s", out)
	}
	_, errOut, code = r.berth(t, "", "volume", "rm", "-f", "data")
	if code != 1 || !strings.Contains(errOut, "remove data: volume is in use - [c0ffee]") {
		t.Errorf("rm of a used volume: exit %d, %q", code, errOut)
	}
	out, _, code = r.berth(t, "y\n", "volume", "prune", "-a")
	names = slices.DeleteFunc(names, func(n string) bool { return n == "data" })
	want := "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] " +
		"Deleted Volumes:\n" + strings.Join(names, "\n") + "\n\nTotal reclaimed space: 0B\n"
	if code != 0 || out != want {
		t.Errorf("prune -a: exit %d\n%q\nwant\n%q", code, out, want)
	}
	if _, err := os.Stat(filepath.Join(mp, "f")); err != nil {
		t.Errorf("data of the used volume: %v", err)
	}

	e = r.open(t)
	err = e.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("containers")).Delete([]byte("c0ffee")) })
	e.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out := r.ok(t, "volume", "rm", "data"); out != "data\n" {
		t.Errorf("rm: %q", out)
	}
	if ents, err := os.ReadDir(filepath.Join(r.root, "volumes")); err != nil || len(ents) != 0 {
		t.Errorf("volumes/ after rm: %v, %v", ents, err)
	}
	if out := r.ok(t, "volume", "prune", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("prune of nothing: %q", out)
	}
}

// A new volume mounted on the busybox image's /bin gets its applets, hard
// links and all, as Docker's copy-up gives them.
func TestFillVolumeBusybox(t *testing.T) {
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := fixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	r := volNewRoots(t)
	e := r.open(t)
	defer e.Close()
	v, _, err := e.CreateVolume(engine.VolumeCreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.FillVolume(v, rootfs, "/bin"); err != nil {
		t.Fatal(err)
	}
	var bb, sh unix.Stat_t
	if err := unix.Stat(filepath.Join(v.Mountpoint, "busybox"), &bb); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(v.Mountpoint, "sh"), &sh); err != nil {
		t.Fatal(err)
	}
	if bb.Ino != sh.Ino || bb.Mode&0o777 != 0o755 {
		t.Errorf("busybox %o ino %d, sh ino %d", bb.Mode, bb.Ino, sh.Ino)
	}
	// The copy runs: the applets are whole.
	if out, err := exec.Command(filepath.Join(v.Mountpoint, "sh"), "-c", "echo ok").CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Errorf("copied sh: %q, %v", out, err)
	}
	// Prune counts the one inode once.
	_, n, err := e.PruneVolumes(false, engine.VolumeFilter{})
	if err != nil || n != bb.Size {
		t.Errorf("reclaimed %d, %v; busybox is %d bytes", n, err, bb.Size)
	}
}
