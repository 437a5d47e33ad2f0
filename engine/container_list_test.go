package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/spec"
)

// stoppedContainer is a record the size `berth create` writes.
func stoppedContainer(i int) engine.Container {
	id := fmt.Sprintf("%064x", 0xabc0000+i)
	oom := 0
	return engine.Container{
		ID: id, Name: fmt.Sprintf("c%d", i), Image: "sha256:" + id, ImageName: "busybox", State: engine.StateStopped,
		Created: time.Now(), Finished: time.Now(), Path: "sh", Args: []string{"-c", "echo hello"},
		Config: engine.ContainerConfig{Image: "busybox", Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + id[:12], "HOME=/root"},
			Cmd: []string{"sh"}, Labels: map[string]string{"tier": "front"}, Hostname: id[:12]},
		Options: spec.Options{ContainerID: id, RootfsPath: "/var/lib/berth/containers/" + id + "/rootfs", OOMScoreAdj: &oom,
			Cmd: []string{"sh", "-c", "echo hello"}, Env: []string{"A=1"}, Mounts: []spec.Mount{{Type: spec.MountBind, Source: "/srv", Destination: "/srv"}}},
		Runtime: "berth-runtime", RuntimePath: "/usr/bin/berth-runtime", Snapshot: "ctr-" + id,
		Log:    engine.LogConfig{Driver: "json-file", Path: "/var/lib/berth/containers/" + id + "/" + id + "-json.log", MaxSize: 20 << 20, MaxFile: 5},
		Mounts: []engine.MountPoint{{Type: "bind", Source: "/srv", Destination: "/srv", RW: true, Propagation: "rprivate"}},
	}
}

// BenchmarkListContainers is `ps -a` with 1,000 containers in the store
// (issue 10's target: the whole command within 50 ms).
func BenchmarkListContainers(b *testing.B) {
	r := roots{b.TempDir(), b.TempDir()}
	e, err := engine.Open(engine.Options{Root: r.root, RunRoot: r.run})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for i := range 1000 {
		if err := e.PutContainer(stoppedContainer(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		cs, err := e.ListContainers()
		if err != nil || len(cs) != 1000 {
			b.Fatal(len(cs), err)
		}
	}
}
