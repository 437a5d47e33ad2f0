package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Pods (issue 15): containers of a pod share the infra container's
// network, IPC and UTS namespaces, sit below the pod's cgroup, and go
// with the pod.

// podCgroupDirs lists the pod's cgroup directories left in any hierarchy.
func podCgroupDirs(id string) []string {
	var left []string
	for _, pat := range []string{"/sys/fs/cgroup/*/berth-pod-" + id, "/sys/fs/cgroup/berth-pod-" + id, "/sys/fs/cgroup/*/*/berth-pod-" + id} {
		m, _ := filepath.Glob(pat)
		left = append(left, m...)
	}
	return left
}

// rmdirTree removes an empty cgroup and its empty children, deepest first.
func rmdirTree(d string) {
	ents, _ := os.ReadDir(d)
	for _, ent := range ents {
		if ent.IsDir() {
			rmdirTree(filepath.Join(d, ent.Name()))
		}
	}
	os.Remove(d)
}

type podInspect struct {
	ID               string   `json:"Id"`
	Name             string   `json:"Name"`
	State            string   `json:"State"`
	Hostname         string   `json:"Hostname"`
	InfraContainerID string   `json:"InfraContainerID"`
	CgroupPath       string   `json:"CgroupPath"`
	SharedNamespaces []string `json:"SharedNamespaces"`
	NumContainers    int      `json:"NumContainers"`
	Labels           map[string]string
	Containers       []struct{ Id, Name, State string }
}

func inspectPod(t *testing.T, e *env, ref string) podInspect {
	t.Helper()
	var ps []podInspect
	if err := json.Unmarshal([]byte(e.must("pod", "inspect", ref)), &ps); err != nil || len(ps) != 1 {
		t.Fatalf("pod inspect %s: %v", ref, err)
	}
	return ps[0]
}

func TestPodSharedNamespaces(t *testing.T) {
	e, ns := newNetEnv(t)
	podID := e.must("pod", "create", "--name", "p1", "-p", "8180:80", "--label", "app=web", "--hostname", "podhost")
	p := inspectPod(t, e, "p1")
	if p.ID != podID || p.Hostname != "podhost" || p.Labels["app"] != "web" || p.InfraContainerID == "" ||
		strings.Join(p.SharedNamespaces, ",") != "net,ipc,uts" {
		t.Fatalf("pod inspect: %+v", p)
	}
	if p.State != "Created" {
		t.Errorf("a new pod's state: %s", p.State)
	}
	e.must("run", "-d", "--pod", "p1", "--name", "web", "busybox", "sh", "-c", httpdCmd)
	e.must("run", "-d", "--pod", "p1", "--name", "side", "busybox", "sleep", "100")
	// Localhost is the pod's: the second container reaches the first.
	if out := e.must("exec", "side", "sh", "-c", retry("wget -qO- http://127.0.0.1/")); out != "hello-from-podhost" {
		t.Errorf("wget 127.0.0.1 from the other container: %q", out)
	}
	for _, c := range []string{"web", "side"} {
		if h := e.must("exec", c, "hostname"); h != "podhost" {
			t.Errorf("%s's hostname: %q", c, h)
		}
	}
	// One network, IPC and UTS namespace: the same inode in both.
	for _, kind := range []string{"net", "ipc", "uts"} {
		a := e.must("exec", "web", "readlink", "/proc/self/ns/"+kind)
		b := e.must("exec", "side", "readlink", "/proc/self/ns/"+kind)
		if a != b {
			t.Errorf("%s namespace: web %s, side %s", kind, a, b)
		}
	}
	// Not the PID namespace, which is not shared by default.
	if a, b := e.must("exec", "web", "readlink", "/proc/self/ns/pid"), e.must("exec", "side", "readlink", "/proc/self/ns/pid"); a == b {
		t.Errorf("pid namespace shared without --share pid: %s", a)
	}
	// IPC: a shared-memory segment one makes, the other sees.
	e.must("exec", "web", "sh", "-c", "echo shm-data > /dev/shm/seg")
	if out := e.must("exec", "side", "cat", "/dev/shm/seg"); out != "shm-data" {
		t.Errorf("/dev/shm/seg from the other container: %q", out)
	}
	// /etc/hosts names every container of the pod.
	hosts := e.must("exec", "side", "cat", "/etc/hosts")
	for _, n := range []string{"web", "side", "podhost"} {
		if !strings.Contains(hosts, " "+n) && !strings.Contains(hosts, "\t"+n) {
			t.Errorf("/etc/hosts lacks %s:\n%s", n, hosts)
		}
	}
	// The pod's port, from the test's namespace.
	if got := wgetIn(t, ns, "http://127.0.0.1:8180/"); got != "hello-from-podhost" {
		t.Errorf("the pod's published port: %q", got)
	}
	// ps --pod names the pod.
	ps := e.must("ps", "--pod", "--format", "{{.Names}} {{.Pod}} {{.PodName}}")
	for _, n := range []string{"web", "side"} {
		if !strings.Contains(ps, n+" "+podID[:12]+" p1") {
			t.Errorf("ps --pod lacks %s in p1:\n%s", n, ps)
		}
	}
	if hdr := strings.Split(e.must("ps", "--pod"), "\n")[0]; !strings.Contains(hdr, "POD ID") || !strings.Contains(hdr, "PODNAME") {
		t.Errorf("ps --pod header: %q", hdr)
	}
	ls := e.must("pod", "ls")
	if !strings.Contains(ls, podID[:12]) || !strings.Contains(ls, "p1") || !strings.Contains(ls, "Running") || !strings.Contains(ls, "# OF CONTAINERS") {
		t.Errorf("pod ls:\n%s", ls)
	}
	if n := inspectPod(t, e, "p1").NumContainers; n != 3 {
		t.Errorf("pod inspect NumContainers %d, want 3 (infra included)", n)
	}
	// The pod's cgroup is the parent of its containers'.
	pid := e.must("inspect", "-f", "{{.State.Pid}}", "web")
	cg, _ := os.ReadFile("/proc/" + pid + "/cgroup")
	if !strings.Contains(string(cg), p.CgroupPath+"/") {
		t.Errorf("web's cgroups are not below %s:\n%s", p.CgroupPath, cg)
	}
	// The infra goes only with its pod.
	// (rm's failures exit 1, as Docker's do.)
	if _, errOut, code := e.berth("rm", "-f", p.InfraContainerID); code != 1 || !strings.Contains(errOut, "infra container of pod p1") {
		t.Errorf("rm -f of the infra: exit %d: %s", code, errOut)
	}
	// Running containers need -f.
	want125(t, e, "-f", "pod", "rm", "p1")
	if out := e.must("pod", "stop", "-t", "1", "p1"); out != podID {
		t.Errorf("pod stop printed %q", out)
	}
	if st := inspectPod(t, e, "p1").State; st != "Exited" {
		t.Errorf("after pod stop: %s", st)
	}
	e.must("pod", "start", "p1")
	if out := e.must("exec", "side", "sh", "-c", retry("wget -qO- http://127.0.0.1/")); out != "hello-from-podhost" {
		t.Errorf("after pod start, wget 127.0.0.1: %q", out)
	}
	e.must("pod", "rm", "-f", "p1")
	if out := e.must("ps", "-aq"); out != "" {
		t.Errorf("after pod rm -f, containers stay:\n%s", out)
	}
	if out := e.must("pod", "ls", "-q"); out != "" {
		t.Errorf("after pod rm -f, pods stay: %s", out)
	}
	if left := podCgroupDirs(podID); len(left) > 0 {
		t.Errorf("after pod rm, cgroups stay: %v", left)
	}
	if out, err := nsRun(ns, "timeout", "3", "busybox", "wget", "-qO-", "http://127.0.0.1:8180/"); err == nil {
		t.Errorf("after pod rm, 8180 still answers: %s", out)
	}
}

// run --pod new:NAME makes the pod, with the container's ports; a pod
// with --share pid shares the PID namespace too.
func TestPodNewAndSharePID(t *testing.T) {
	e, ns := newNetEnv(t)
	e.must("run", "-d", "--pod", "new:p2", "-p", "8181:80", "--name", "web2", "busybox", "sh", "-c", httpdCmd)
	p := inspectPod(t, e, "p2")
	if p.Hostname != "p2" || p.NumContainers != 2 {
		t.Errorf("pod inspect of new:p2: %+v", p)
	}
	if got := wgetIn(t, ns, "http://127.0.0.1:8181/"); got != "hello-from-p2" {
		t.Errorf("the port of the new pod: %q", got)
	}
	e.must("pod", "create", "--share", "+pid", "--network", "none", "p3")
	e.must("run", "-d", "--pod", "p3", "--name", "a3", "busybox", "sleep", "100")
	out := e.must("run", "--rm", "--pod", "p3", "busybox", "sh", "-c", "ps -o comm | grep -c -e pause -e sleep")
	if out != "2" {
		t.Errorf("with --share +pid, ps sees %s of pause and sleep, want 2", out)
	}
	if inspectPod(t, e, "p3").NumContainers != 2 {
		t.Errorf("the --rm container stays in p3")
	}
	e.must("pod", "rm", "-f", "p2", "p3")
	for _, id := range []string{p.ID} {
		if left := podCgroupDirs(id); len(left) > 0 {
			t.Errorf("cgroups stay: %v", left)
		}
	}
}

// A pod's memory limit is on its cgroup, above its containers'.
func TestPodLimits(t *testing.T) {
	e, _ := newNetEnv(t)
	e.must("pod", "create", "--memory", "64m", "--cpus", "0.5", "--network", "none", "lim")
	e.must("run", "-d", "--pod", "lim", "--name", "l1", "busybox", "sleep", "100")
	p := inspectPod(t, e, "lim")
	mem, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", p.CgroupPath, "memory.limit_in_bytes"))
	if err != nil {
		mem, err = os.ReadFile(filepath.Join("/sys/fs/cgroup", p.CgroupPath, "memory.max"))
	}
	if err != nil || strings.TrimSpace(string(mem)) != fmt.Sprint(64<<20) {
		t.Errorf("pod memory limit: %v %q", err, mem)
	}
	e.must("pod", "rm", "-f", "lim")
	if left := podCgroupDirs(p.ID); len(left) > 0 {
		t.Errorf("cgroups stay: %v", left)
	}
}

// A pod whose infra's monitor was killed is still removed whole.
func TestPodKilledMonitor(t *testing.T) {
	e, _ := newNetEnv(t)
	id := e.must("pod", "create", "-p", "8182:80", "km")
	e.must("run", "-d", "--pod", "km", "--name", "k1", "busybox", "sleep", "100")
	infra := inspectPod(t, e, "km").InfraContainerID
	for _, c := range []string{infra, "k1"} {
		var pid int
		fmt.Sscan(e.must("inspect", "--format", "{{.State.Pid}}", c), &pid)
		syscallKill(t, monitorOf(t, e.must("inspect", "--format", "{{.Id}}", c)))
		syscallKill(t, pid)
	}
	time.Sleep(200 * time.Millisecond)
	e.must("pod", "rm", "-f", "km")
	if out := e.must("ps", "-aq"); out != "" {
		t.Errorf("containers stay: %s", out)
	}
	if left := podCgroupDirs(id); len(left) > 0 {
		t.Errorf("cgroups stay: %v", left)
	}
}

func TestPodBadInput(t *testing.T) {
	e, _ := newNetEnv(t)
	e.must("pod", "create", "--network", "none", "taken")
	want125(t, e, "already in use", "pod", "create", "--network", "none", "taken")
	want125(t, e, "no such pod", "run", "--rm", "--pod", "nopod", "busybox", "true")
	want125(t, e, "give --network", "run", "--rm", "--pod", "taken", "--network", "bridge", "busybox", "true")
	want125(t, e, "give --network", "create", "--pod", "taken", "-p", "8183:80", "busybox", "true")
	want125(t, e, "unknown namespace", "pod", "create", "--share", "bogus", "x1")
	want125(t, e, "infra container", "pod", "create", "--infra=false", "-p", "8184:80", "x2")
	// new:NAME of a taken name, and a container that cannot be made in
	// a new pod: no pod is left.
	want125(t, e, "already in use", "run", "--rm", "--pod", "new:taken", "busybox", "true")
	want125(t, e, "no such image", "run", "--rm", "--pull", "never", "--pod", "new:x3", "nosuchimage", "true")
	if out := e.must("pod", "ls", "--format", "{{.Name}}"); out != "taken" {
		t.Errorf("after the bad input, pods: %q", out)
	}
	if out := e.must("ps", "-a", "--format", "{{.Names}}"); strings.Count(out, "\n") != 0 || !strings.HasSuffix(out, "-infra") {
		t.Errorf("after the bad input, containers: %q", out)
	}
	// container prune leaves the infra of a pod, which goes with its pod.
	e.must("container", "prune", "-f")
	if out := e.must("ps", "-aq"); out == "" {
		t.Errorf("container prune removed the pod's infra container")
	}
	e.must("pod", "rm", "taken")
}

// TestPodSimulatedReboot: every process of the pod dies, the run root is
// emptied and the cgroups go, as a reboot does; the pod starts again
// whole (its cgroup with its limit, its port) and is removed whole.
func TestPodSimulatedReboot(t *testing.T) {
	e, ns := newNetEnv(t)
	id := e.must("pod", "create", "-p", "8185:80", "--memory", "64m", "rb")
	e.must("run", "-d", "--pod", "rb", "--name", "rbweb", "busybox", "sh", "-c", httpdCmd)
	p := inspectPod(t, e, "rb")
	for _, c := range []string{p.InfraContainerID, "rbweb"} {
		var pid int
		fmt.Sscan(e.must("inspect", "--format", "{{.State.Pid}}", c), &pid)
		syscallKill(t, monitorOf(t, e.must("inspect", "--format", "{{.Id}}", c)))
		syscallKill(t, pid)
	}
	time.Sleep(200 * time.Millisecond)
	nsfiles, _ := filepath.Glob(filepath.Join(e.runRoot, "netns", "*"))
	for _, f := range nsfiles {
		exec.Command("umount", "-l", f).Run()
	}
	ents, _ := os.ReadDir(e.runRoot)
	for _, ent := range ents {
		os.RemoveAll(filepath.Join(e.runRoot, ent.Name()))
	}
	// The kernel empties a killed init's cgroup a moment after its death.
	waitFor(t, "the pod's cgroups to go", 5*time.Second, func() bool {
		for _, d := range podCgroupDirs(id) {
			rmdirTree(d)
		}
		return len(podCgroupDirs(id)) == 0
	})
	if left := podCgroupDirs(id); len(left) > 0 {
		t.Fatalf("the simulated reboot left cgroups: %v", left)
	}
	if st := inspectPod(t, e, "rb").State; st != "Exited" {
		t.Errorf("after the reboot the pod is %s", st)
	}
	e.must("pod", "start", "rb")
	if got := wgetIn(t, ns, "http://127.0.0.1:8185/"); got != "hello-from-rb" {
		t.Errorf("after the reboot, the pod's port: %q", got)
	}
	mem, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", p.CgroupPath, "memory.limit_in_bytes"))
	if err != nil {
		mem, err = os.ReadFile(filepath.Join("/sys/fs/cgroup", p.CgroupPath, "memory.max"))
	}
	if err != nil || strings.TrimSpace(string(mem)) != fmt.Sprint(64<<20) {
		t.Errorf("after the reboot, the pod's memory limit: %v %q", err, mem)
	}
	e.must("pod", "rm", "-f", "rb")
	if left := podCgroupDirs(id); len(left) > 0 {
		t.Errorf("cgroups stay: %v", left)
	}
}
