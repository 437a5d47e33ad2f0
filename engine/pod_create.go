package engine

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/cgroups"
)

// PodCreateOptions are `berth pod create`'s flags.
type PodCreateOptions struct {
	Name   string // empty: a random name
	Labels map[string]string
	// Share is --share as given ("net,ipc", "+pid", "none"); empty: the
	// default, net,ipc,uts.
	Share string
	// NoInfra is --infra=false: no namespaces are shared then.
	NoInfra  bool
	Hostname string
	// Network are the pod's --network, -p, --dns*, --add-host: the
	// infra's, which owns the shared network namespace.
	Network      NetworkRequest
	CgroupParent string
	Memory       int64 // --memory, bytes
	NanoCPUs     int64 // --cpus
}

// defaultShare is Podman's default, less cgroup (see ParseShare).
var defaultShare = []string{"net", "ipc", "uts"}

// shareKinds are the namespaces a pod may share, in the order recorded.
var shareKinds = []string{"cgroup", "net", "ipc", "uts", "pid"}

// ParseShare reads --share: a comma list of cgroup, ipc, net, pid, uts,
// or "none"; a list of "+KIND" adds to the default, as Podman reads it.
// cgroup is accepted and recorded: every member's cgroup is below the
// pod's whatever it says (the cgroup namespace stays each container's).
func ParseShare(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return slices.Clone(defaultShare), nil
	}
	if s == "none" {
		return nil, nil
	}
	var out []string
	add := strings.HasPrefix(s, "+")
	if add {
		out = slices.Clone(defaultShare)
	}
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if plus := strings.HasPrefix(k, "+"); plus != add {
			return nil, fmt.Errorf("invalid --share %q: either every namespace has a leading + or none has", s)
		}
		k = strings.TrimPrefix(k, "+")
		if !slices.Contains(shareKinds, k) {
			return nil, fmt.Errorf("invalid --share %q: unknown namespace %q (want cgroup, ipc, net, pid, uts or none)", s, k)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	// Recorded in one order, whatever the flag's.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(shareKinds, a) - slices.Index(shareKinds, b) })
	return out, nil
}

// CreatePod makes a pod: its record, its cgroup (with the pod's limits)
// and its infra container, created (pod start or a member's start runs
// it). On any failure what was made is removed again.
func (e *Engine) CreatePod(ctx context.Context, o PodCreateOptions) (p Pod, err error) {
	share, err := ParseShare(o.Share)
	if err != nil {
		return p, err
	}
	if o.NoInfra {
		if o.Share != "" && len(share) > 0 && !slices.Equal(share, []string{"cgroup"}) {
			return p, errors.New("conflicting options: --share needs an infra container (--infra=false shares no namespace)")
		}
		share = nil
		n := o.Network
		if len(n.Networks)+len(n.Publish)+len(n.DNS)+len(n.DNSSearch)+len(n.DNSOptions)+len(n.ExtraHosts) > 0 || o.Hostname != "" {
			return p, errors.New("conflicting options: --network, -p, --dns*, --add-host and --hostname need an infra container (--infra=false)")
		}
	}
	if !slices.Contains(share, "net") {
		n := o.Network
		if len(n.Networks)+len(n.Publish)+len(n.DNS)+len(n.DNSSearch)+len(n.DNSOptions)+len(n.ExtraHosts) > 0 && !o.NoInfra {
			return p, errors.New("conflicting options: --network, -p, --dns* and --add-host are the pod's only when it shares its network namespace (--share net)")
		}
	}
	if o.Hostname != "" && !slices.Contains(share, "uts") {
		return p, errors.New("conflicting options: --hostname is the pod's only when it shares its UTS namespace (--share uts)")
	}
	if o.Memory < 0 || o.NanoCPUs < 0 {
		return p, errors.New("invalid --memory or --cpus: must not be negative")
	}
	if strings.HasSuffix(o.CgroupParent, ".slice") {
		return p, fmt.Errorf("invalid --cgroup-parent %q: only the cgroupfs driver is supported", o.CgroupParent)
	}
	if strings.Contains(o.CgroupParent, "..") {
		return p, fmt.Errorf("invalid --cgroup-parent %q", o.CgroupParent)
	}
	id, err := NewContainerID()
	if err != nil {
		return p, err
	}
	name := o.Name
	if name == "" {
		name = RandomContainerName(0)
		if _, err := e.LookupPod(name); err == nil {
			name = RandomContainerName(1)
		}
	} else if name, err = CheckContainerName(name); err != nil {
		return p, fmt.Errorf("invalid pod name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ are allowed", o.Name)
	}
	if _, err := e.LookupPod(name); err == nil {
		return p, fmt.Errorf("the pod name %q is already in use; remove that pod to reuse the name: %w", name, ErrPodNameInUse)
	}
	parent := o.CgroupParent
	if parent == "" {
		parent = "/"
	}
	p = Pod{
		ID: id, Name: name, Labels: o.Labels, Created: time.Now().UTC(), Share: share, Infra: !o.NoInfra,
		Network: o.Network, CgroupParent: o.CgroupParent, Memory: o.Memory, NanoCPUs: o.NanoCPUs,
		CgroupPath: path.Join("/", parent, "berth-pod-"+id),
	}
	if p.Infra && p.shares("uts") {
		p.Hostname = o.Hostname
		if p.Hostname == "" {
			p.Hostname = name // Podman's default
		}
	}
	if err := e.insertPod(&p); err != nil {
		return p, err
	}
	lock, err := e.lockPod(id)
	if err != nil {
		e.deletePod(p)
		return p, err
	}
	defer lock.Release()
	defer func() {
		if err != nil {
			e.removePodParts(context.WithoutCancel(ctx), p)
		}
	}()
	if err := e.createPodCgroup(&p); err != nil {
		return p, err
	}
	if p.Infra {
		infra, err := e.createInfra(ctx, p)
		if err != nil {
			return p, fmt.Errorf("pod %s: infra container: %w", name, err)
		}
		p.InfraID = infra.ID
		if err := e.putPod(p); err != nil {
			return p, err
		}
	}
	e.emitPod(&p, "create")
	return p, nil
}

// createInfra makes the pod's infra container: the pause image, the
// pod's cgroup, its hostname and network, and a shareable IPC namespace.
func (e *Engine) createInfra(ctx context.Context, p Pod) (Container, error) {
	img, err := e.pauseImage(ctx)
	if err != nil {
		return Container{}, err
	}
	o := CreateOptions{
		Name: shortID(p.ID) + "-infra", Image: img, Pull: PullNever,
		Labels: map[string]string{}, Pod: p.ID, podInfra: true,
	}
	o.Spec.Hostname = p.Hostname
	o.Spec.CgroupParent = p.CgroupPath
	if p.shares("ipc") {
		o.Modes.IPC = "shareable"
	}
	if p.shares("net") {
		o.Network = p.Network
	} else {
		o.Network.Networks = []string{"none"}
	}
	return e.CreateContainer(ctx, o)
}

// podCgroupResources are the pod's limits on its cgroup.
func podCgroupResources(p *Pod) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if p.Memory > 0 {
		m := p.Memory
		r.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if p.NanoCPUs > 0 {
		period := uint64(100000)
		quota := p.NanoCPUs * int64(period) / 1e9
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	return r
}

// createPodCgroup makes the pod's cgroup with its limits: the members'
// cgroups are made below it, so that the limits hold for all of them.
func (e *Engine) createPodCgroup(p *Pod) error {
	m, err := cgroups.Open(p.CgroupPath, p.ID)
	if err != nil {
		return fmt.Errorf("pod cgroup: %w", err)
	}
	if err := m.Create(podCgroupResources(p)); err != nil {
		return fmt.Errorf("pod cgroup: %w", err)
	}
	return nil
}

// destroyPodCgroup removes the pod's cgroup in every hierarchy (and what
// a member left below it).
func destroyPodCgroup(p *Pod) error {
	m, err := cgroups.Open(p.CgroupPath, p.ID)
	if err != nil {
		return fmt.Errorf("pod cgroup: %w", err)
	}
	if err := m.Destroy(); err != nil {
		return fmt.Errorf("remove pod cgroup: %w", err)
	}
	return nil
}

// joinPod makes a container's create options those of a member of pod
// ref: its cgroup below the pod's and the shared namespaces the infra's
// (which therefore runs from here on). A member asking for a namespace,
// network or ports of its own where the pod shares one is refused.
func (e *Engine) joinPod(ctx context.Context, o *CreateOptions) error {
	p, err := e.LookupPod(o.Pod)
	if err != nil {
		return fmt.Errorf("--pod: %w", err)
	}
	o.Pod = p.ID
	if o.Spec.CgroupParent != "" {
		return fmt.Errorf("conflicting options: --cgroup-parent and --pod (the cgroup of a container of pod %s is below the pod's)", p.Name)
	}
	o.Spec.CgroupParent = p.CgroupPath
	if !p.Infra {
		return nil
	}
	n := o.Network
	if p.shares("net") {
		if len(n.Networks) > 0 || len(n.Publish) > 0 || n.PublishAll || n.IP != "" || n.IP6 != "" || n.MAC != "" ||
			len(n.Aliases)+len(n.DNS)+len(n.DNSSearch)+len(n.DNSOptions)+len(n.ExtraHosts) > 0 {
			return fmt.Errorf("conflicting options: a container of pod %s shares its network: give --network, -p, --dns* and --add-host to the pod", p.Name)
		}
	}
	for _, f := range []struct {
		kind, flag string
		mode       *string
	}{
		{"ipc", "--ipc", &o.Modes.IPC}, {"uts", "--uts", &o.Modes.UTS}, {"pid", "--pid", &o.Modes.PID},
	} {
		if !p.shares(f.kind) {
			continue
		}
		if *f.mode != "" {
			return fmt.Errorf("conflicting options: a container of pod %s shares its %s namespace: %s cannot be given", p.Name, f.kind, f.flag)
		}
		*f.mode = "container:" + p.InfraID
	}
	if p.shares("uts") && o.Spec.Hostname != "" {
		return fmt.Errorf("conflicting options: a container of pod %s shares its hostname: give --hostname to the pod", p.Name)
	}
	if p.shares("net") {
		o.Network.Networks = []string{"container:" + p.InfraID}
	}
	if _, err := e.StartContainer(ctx, p.InfraID, StartOptions{}); err != nil {
		return fmt.Errorf("pod %s: start the infra container: %w", p.Name, err)
	}
	return nil
}
