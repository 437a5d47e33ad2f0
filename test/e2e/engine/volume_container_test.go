package engine_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestContainerVolumes(t *testing.T) {
	e := newEnv(t)
	// A named volume is made on first use, filled from the image's
	// content at its path, and kept across containers and after rm.
	e.must("run", "--name", "writer", "-v", "conf:/etc", "busybox", "sh", "-c", "echo kept > /etc/mine")
	if got := e.must("run", "--rm", "-v", "conf:/x", "busybox", "sh", "-c", "cat /x/mine; test -f /x/passwd && echo filled"); got != "kept\nfilled" {
		t.Errorf("second container sees %q", got)
	}
	e.must("rm", "-v", "writer")
	if got := e.must("volume", "ls", "-q"); got != "conf" {
		t.Errorf("after rm -v of a named volume's user: volumes %q", got)
	}
	if _, errOut, code := e.berth("volume", "rm", "conf"); code != 0 {
		t.Errorf("volume rm: %s", errOut)
	}
	// An image VOLUME gets an anonymous volume with the image's content,
	// which rm -v removes.
	tarball, err := exec.Command("tar", "-C", rootfsDir, "-c", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := e.berthIn(tarball, "import", "-c", "VOLUME /etc", "-c", `CMD ["sh"]`, "-", "withvol"); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	id := e.must("create", "withvol", "cat", "/etc/hostname")
	j := e.inspect(id)
	if len(j.Mounts) != 1 || j.Mounts[0].Type != "volume" || j.Mounts[0].Destination != "/etc" || len(j.Mounts[0].Name) != 64 {
		t.Fatalf("image VOLUME mounts: %+v", j.Mounts)
	}
	if _, err := os.Stat(filepath.Join(j.Mounts[0].Source, "passwd")); err != nil {
		t.Errorf("anonymous volume not filled from the image: %v", err)
	}
	e.must("rm", "-v", id)
	if got := e.must("volume", "ls", "-q"); got != "" {
		t.Errorf("rm -v left volumes: %q", got)
	}
	// --volumes-from takes the other container's mounts, read-only when asked.
	src := e.must("create", "--name", "src", "-v", "shared:/shared", "busybox", "true")
	if got := e.must("run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c", "echo from > /shared/f; cat /shared/f"); got != "from" {
		t.Errorf("--volumes-from: %q", got)
	}
	if _, errOut, code := e.berth("run", "--rm", "--volumes-from", "src:ro", "busybox", "touch", "/shared/g"); code == 0 || !strings.Contains(errOut, "Read-only") {
		t.Errorf("--volumes-from :ro: %d %q", code, errOut)
	}
	if _, errOut, code := e.berth("volume", "rm", "shared"); code == 0 || !strings.Contains(errOut, "in use") {
		t.Errorf("volume rm of a volume in use: %d %q", code, errOut)
	}
	e.must("rm", src)
	if got := e.must("volume", "prune", "-f", "-a"); !strings.Contains(got, "shared") {
		t.Errorf("prune -a: %q", got)
	}
	// Binds: -v makes a missing source, --mount does not; ro holds.
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("host\n"), 0o644)
	if got := e.must("run", "--rm", "-v", host+":/h:ro", "busybox", "cat", "/h/f"); got != "host" {
		t.Errorf("bind: %q", got)
	}
	if _, errOut, code := e.berth("run", "--rm", "-v", host+":/h:ro", "busybox", "touch", "/h/x"); code == 0 || !strings.Contains(errOut, "Read-only") {
		t.Errorf("ro bind written: %d %q", code, errOut)
	}
	made := filepath.Join(host, "made")
	e.must("run", "--rm", "-v", made+":/m", "busybox", "touch", "/m/x")
	if _, err := os.Stat(filepath.Join(made, "x")); err != nil {
		t.Errorf("-v with a missing source: %v", err)
	}
	if _, errOut, code := e.berth("run", "--rm", "--mount", "type=bind,source="+filepath.Join(host, "nope")+",target=/m", "busybox", "true"); code != 125 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("--mount with a missing source: %d %q", code, errOut)
	}
	if got := e.must("run", "--rm", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m", "busybox", "sh", "-c", "df -k /t | tail -1 | awk '{print $2}'"); got != "1024" {
		t.Errorf("--mount tmpfs size: %q", got)
	}
}
