package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/snapshot/flock"
)

// Pod is the record of one pod in the pods bucket (key: ID): a group of
// containers that share namespaces (Share) held by its infra container,
// a pause process of ours, and one cgroup (CgroupPath) that is the
// parent of theirs. Its containers are not listed here: each member's
// record names its pod (Container.Pod), so that a container's removal
// has one record to change, and a listing reads them from there.
type Pod struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`
	// Share are the namespaces its containers join, of "net", "ipc",
	// "uts", "pid" (and "cgroup", which every member has: its cgroup
	// is the pod's), in that order.
	Share []string `json:"share,omitempty"`
	// Hostname is the infra's (the members' with a shared UTS).
	Hostname string `json:"hostname,omitempty"`
	// Infra says the pod has an infra container; InfraID is it.
	Infra   bool   `json:"infra"`
	InfraID string `json:"infraID,omitempty"`
	// Network are the pod's network flags, the infra's.
	Network NetworkRequest `json:"network,omitzero"`
	// CgroupParent is --cgroup-parent as given; CgroupPath the pod's own
	// cgroup below it (absolute, in every hierarchy).
	CgroupParent string `json:"cgroupParent,omitempty"`
	CgroupPath   string `json:"cgroupPath"`
	// Memory (bytes) and NanoCPUs are the pod's limits (--memory, --cpus),
	// on its cgroup.
	Memory   int64 `json:"memory,omitempty"`
	NanoCPUs int64 `json:"nanoCPUs,omitempty"`
}

var (
	bucketPods = []byte("pods")
	// bucketPodNames maps pod names to ids; made by the first pod write.
	bucketPodNames = []byte("pod-names")
)

// ErrNoSuchPod is wrapped by lookups of pods that are not there.
var ErrNoSuchPod = errors.New("no such pod")

// ErrPodNameInUse is wrapped when a pod name is taken.
var ErrPodNameInUse = errors.New("pod name in use")

// shares says whether the pod's containers share namespace kind.
func (p *Pod) shares(kind string) bool { return slices.Contains(p.Share, kind) }

// LookupPod finds a pod by full id, name or unique id prefix.
func (e *Engine) LookupPod(ref string) (Pod, error) {
	var p Pod
	err := e.meta.View(func(tx *bolt.Tx) error {
		id, err := resolvePod(tx, ref)
		if err != nil {
			return err
		}
		return json.Unmarshal(tx.Bucket(bucketPods).Get([]byte(id)), &p)
	})
	return p, err
}

func resolvePod(tx *bolt.Tx, ref string) (string, error) {
	b := tx.Bucket(bucketPods)
	if ref == "" {
		return "", fmt.Errorf("%w: (empty name)", ErrNoSuchPod)
	}
	if b == nil {
		return "", fmt.Errorf("%w: %s", ErrNoSuchPod, ref)
	}
	if b.Get([]byte(ref)) != nil {
		return ref, nil
	}
	if names := tx.Bucket(bucketPodNames); names != nil {
		if id := names.Get([]byte(ref)); id != nil {
			return string(id), nil
		}
	}
	if isHexPrefix(ref) {
		var found string
		cur := b.Cursor()
		for k, _ := cur.Seek([]byte(ref)); k != nil && strings.HasPrefix(string(k), ref); k, _ = cur.Next() {
			if found != "" {
				return "", fmt.Errorf("more than one pod has the id prefix %s", ref)
			}
			found = string(k)
		}
		if found != "" {
			return found, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNoSuchPod, ref)
}

// ListPods returns every pod, newest first.
func (e *Engine) ListPods() ([]Pod, error) {
	var out []Pod
	err := e.meta.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPods)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var p Pod
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("pod record %s: %w", k, err)
			}
			out = append(out, p)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Pod) int { return b.Created.Compare(a.Created) })
	return out, err
}

// PodContainers are the pod's containers, infra first, then newest first.
func (e *Engine) PodContainers(podID string) ([]Container, error) {
	all, err := e.ListContainers()
	if err != nil {
		return nil, err
	}
	var out []Container
	for _, c := range all {
		if c.Pod == podID {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Container) int {
		switch {
		case a.PodInfra == b.PodInfra:
			return 0
		case a.PodInfra:
			return -1
		}
		return 1
	})
	return out, nil
}

// insertPod writes a new pod record with its name in one transaction,
// the name checked again there (of two creates racing for it, one wins).
func (e *Engine) insertPod(p *Pod) error {
	return e.meta.Update(func(tx *bolt.Tx) error {
		names, err := tx.CreateBucketIfNotExists(bucketPodNames)
		if err != nil {
			return err
		}
		if id := names.Get([]byte(p.Name)); id != nil {
			return fmt.Errorf("the pod name %q is already in use by pod %s; remove that pod to reuse the name: %w", p.Name, shortID(string(id)), ErrPodNameInUse)
		}
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if err := names.Put([]byte(p.Name), []byte(p.ID)); err != nil {
			return err
		}
		return tx.Bucket(bucketPods).Put([]byte(p.ID), b)
	})
}

// putPod rewrites an existing pod record.
func (e *Engine) putPod(p Pod) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return e.meta.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPods).Get([]byte(p.ID)) == nil {
			return fmt.Errorf("%w: %s", ErrNoSuchPod, p.Name)
		}
		return tx.Bucket(bucketPods).Put([]byte(p.ID), b)
	})
}

// deletePod removes the record and its name.
func (e *Engine) deletePod(p Pod) error {
	return e.meta.Update(func(tx *bolt.Tx) error {
		if names := tx.Bucket(bucketPodNames); names != nil {
			if string(names.Get([]byte(p.Name))) == p.ID {
				if err := names.Delete([]byte(p.Name)); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketPods).Delete([]byte(p.ID))
	})
}

// lockPod serialises the verbs of one pod (create's infra, start, stop,
// rm) among berth processes; container locks are taken inside it, never
// the other way round.
func (e *Engine) lockPod(id string) (*flock.Lock, error) {
	l, err := flock.Acquire(filepath.Join(e.runRoot, "c", "pod-"+shortID(id)+".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("lock pod %s: %w", shortID(id), err)
	}
	return l, nil
}

// lockedPod looks ref up, locks the pod and reads it again under the lock.
func (e *Engine) lockedPod(ref string) (Pod, func(), error) {
	p, err := e.LookupPod(ref)
	if err != nil {
		return p, nil, err
	}
	l, err := e.lockPod(p.ID)
	if err != nil {
		return p, nil, err
	}
	if p, err = e.LookupPod(p.ID); err != nil {
		l.Release()
		return p, nil, err
	}
	return p, func() { l.Release() }, nil
}

// emitPod emits a pod event, as Podman's (type pod, the name attribute).
func (e *Engine) emitPod(p *Pod, action string) {
	e.Emit(Event{Type: "pod", Action: action, Actor: Actor{ID: p.ID, Attributes: map[string]string{"name": p.Name}}})
}

// podName is the pod's name for messages (its short id if it is gone).
func (e *Engine) podName(id string) string {
	if p, err := e.LookupPod(id); err == nil {
		return p.Name
	}
	return shortID(id)
}

// preparePodStart readies the start of a container of a pod: the pod's
// cgroup with its limits (made again when a reboot took it), and for a
// member the infra container, whose namespaces it joins.
func (e *Engine) preparePodStart(ctx context.Context, c *Container) error {
	p, err := e.LookupPod(c.Pod)
	if err != nil {
		return fmt.Errorf("pod of the container: %w", err)
	}
	if err := e.createPodCgroup(&p); err != nil {
		return err
	}
	if c.PodInfra || !p.Infra {
		return nil
	}
	if _, err := e.StartContainer(ctx, p.InfraID, StartOptions{}); err != nil {
		return fmt.Errorf("pod %s: start the infra container: %w", p.Name, err)
	}
	return nil
}

// refreshPodHosts rewrites the hosts file that the pod's containers
// share (the infra's) after a member came or went. Best effort: the
// infra's next start writes it again.
func (e *Engine) refreshPodHosts(podID string) {
	p, err := e.LookupPod(podID)
	if err != nil || !p.Infra || !p.shares("net") {
		return
	}
	infra, err := e.GetContainer(p.InfraID)
	if err != nil || infra.Net == nil {
		return
	}
	if _, err := os.Stat(e.netFile(infra.ID, "hosts")); err != nil {
		return
	}
	e.writeHosts(&infra)
}

// podHosts are the hosts lines of a pod's infra for its members: every
// container of the pod by name, on the pod's address (its first
// network's, else the loopback), as Podman lists them.
func (e *Engine) podHosts(c *Container, b *bytes.Buffer) {
	if !c.PodInfra {
		return
	}
	cs, err := e.ListContainers()
	if err != nil {
		return
	}
	var names []string
	for _, m := range cs {
		if m.Pod == c.Pod && !m.PodInfra {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	ip, ip6 := "127.0.0.1", ""
	if c.Net != nil && len(c.Net.Endpoints) > 0 && c.Net.Endpoints[0].IP != "" {
		ip, ip6 = c.Net.Endpoints[0].IP, c.Net.Endpoints[0].IPv6
	} else if c.Config.Hostname != "" {
		names = append([]string{c.Config.Hostname}, names...)
	}
	if len(names) == 0 {
		return
	}
	fmt.Fprintf(b, "%s\t%s\n", ip, strings.Join(names, " "))
	if ip6 != "" {
		fmt.Fprintf(b, "%s\t%s\n", ip6, strings.Join(names, " "))
	}
}

// unsharedNetNS says that no container holds the infra's network
// namespace any more (its members are stopped or gone): its teardown may
// take the namespace first and leave the veths to the kernel, as a lone
// container's does (teardownNetworkState), not wait on each one.
func (e *Engine) unsharedNetNS(infraID string) {
	os.Remove(e.netnsPath(infraID) + sharedSuffix)
}
