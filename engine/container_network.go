package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/engine/spec"
	"github.com/berth-dev/berth/network"
	"github.com/berth-dev/berth/snapshot/flock"
)

// NetworkRequest are a create's network flags as given.
type NetworkRequest struct {
	// Networks are the --network values in order; empty: the engine's
	// default (NetworkConfigOptions.DefaultMode).
	Networks   []string
	IP, MAC    string   // --ip, --mac-address (first network)
	IP6        string   // --ip6 (first network)
	Aliases    []string // --network-alias (first network)
	Publish    []string // -p as given
	PublishAll bool     // -P
	Expose     []string // --expose
	DNS        []string
	DNSSearch  []string
	DNSOptions []string
	ExtraHosts []string // --add-host NAME:IP (IP may be host-gateway)
}

// ContainerNetwork are a container's networks: what was asked at create
// and what the current run got.
type ContainerNetwork struct {
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Publish are -p's bindings as asked (host port 0: any free one);
	// Bound the ports of the current run, all concrete.
	Publish    []PortSpec            `json:"publish,omitempty"`
	PublishAll bool                  `json:"publishAll,omitempty"`
	Exposed    []string              `json:"exposed,omitempty"` // "80/tcp", sorted
	Bound      []network.PortMapping `json:"bound,omitempty"`
	DNS        []string              `json:"dns,omitempty"`
	DNSSearch  []string              `json:"dnsSearch,omitempty"`
	DNSOptions []string              `json:"dnsOptions,omitempty"`
	ExtraHosts []string              `json:"extraHosts,omitempty"`
	// FilesFrom is the container whose hosts, resolv.conf and hostname
	// files this one shares (--network container:ID); empty: its own.
	FilesFrom string `json:"filesFrom,omitempty"`
}

// Endpoint is the container on one CNI network.
type Endpoint struct {
	Network   string   `json:"network"`
	NetworkID string   `json:"networkID"`
	IfName    string   `json:"ifName"`
	Aliases   []string `json:"aliases,omitempty"`
	IPAMIP    string   `json:"ipamIP,omitempty"`  // --ip
	IPAMIP6   string   `json:"ipamIP6,omitempty"` // --ip6
	WantMAC   string   `json:"wantMAC,omitempty"`
	// EndpointID and Result are the current run's.
	EndpointID string `json:"endpointID,omitempty"`
	network.Result
}

// PortSpec is one -p binding: HostPort..HostPortEnd (0: any free port)
// to ContainerPort.
type PortSpec struct {
	HostIP        string `json:"hostIP,omitempty"`
	HostPort      int    `json:"hostPort,omitempty"`
	HostPortEnd   int    `json:"hostPortEnd,omitempty"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

func (n *ContainerNetwork) endpoint(networkID string) *Endpoint {
	for i := range n.Endpoints {
		if n.Endpoints[i].NetworkID == networkID {
			return &n.Endpoints[i]
		}
	}
	return nil
}

// ParsePublish parses one -p: [ip:][hostPort[-end]:]containerPort[-end][/proto].
func ParsePublish(s string) ([]PortSpec, error) {
	bad := func(why string) ([]PortSpec, error) { return nil, fmt.Errorf("invalid -p %q: %s", s, why) }
	rest, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return bad("protocol must be tcp or udp")
	}
	var ip, host, ctr string
	if v6, ok := strings.CutPrefix(rest, "["); ok {
		// [IPv6]:hostPort:containerPort, [IPv6]::containerPort
		addr, after, ok := strings.Cut(v6, "]:")
		a, err := netip.ParseAddr(addr)
		if !ok || err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return bad("want [IPv6 address]:[hostPort]:containerPort")
		}
		parts := strings.Split(after, ":")
		if len(parts) != 2 {
			return bad("want [IPv6 address]:[hostPort]:containerPort")
		}
		if a.IsLoopback() {
			// A DNAT from ::1 has no way off lo (IPv6 has no
			// route_localnet, which 127.0.0.1 uses).
			return bad("the IPv6 loopback address cannot be published to a container: use 127.0.0.1")
		}
		ip, host, ctr = a.String(), parts[0], parts[1]
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctr = parts[0]
		case 2:
			host, ctr = parts[0], parts[1]
		case 3:
			ip, host, ctr = parts[0], parts[1], parts[2]
			if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
				return bad("the host address must be an IPv4 address, or an IPv6 one in []")
			}
		default:
			return bad("want [ip:][hostPort:]containerPort[/protocol]")
		}
	}
	cLo, cHi, err := portRange(ctr)
	if err != nil {
		return bad(err.Error())
	}
	hLo, hHi := 0, 0
	if host != "" {
		if hLo, hHi, err = portRange(host); err != nil {
			return bad(err.Error())
		}
	}
	var out []PortSpec
	switch {
	case host == "":
		for p := cLo; p <= cHi; p++ {
			out = append(out, PortSpec{HostIP: ip, ContainerPort: p, Protocol: proto})
		}
	case cLo == cHi && hHi > hLo:
		// A host range for one port: the first free port of the range.
		out = append(out, PortSpec{HostIP: ip, HostPort: hLo, HostPortEnd: hHi, ContainerPort: cLo, Protocol: proto})
	case hHi-hLo != cHi-cLo:
		return bad("the host and container port ranges differ in size")
	default:
		for i := 0; i <= cHi-cLo; i++ {
			out = append(out, PortSpec{HostIP: ip, HostPort: hLo + i, HostPortEnd: hLo + i, ContainerPort: cLo + i, Protocol: proto})
		}
	}
	return out, nil
}

func portRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 1 || a > 65535 {
		return 0, 0, fmt.Errorf("invalid port %q", lo)
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil || b < a || b > 65535 {
			return 0, 0, fmt.Errorf("invalid port range %q", s)
		}
	}
	return a, b, nil
}

// cniNetwork says whether a --network value names a CNI network.
func cniNetwork(mode string) bool {
	return mode != "" && mode != "none" && mode != "host" && !strings.HasPrefix(mode, "container:")
}

// lookupCNI resolves a --network value to its CNI network ("bridge" and
// "default" are the default network).
func (e *Engine) lookupCNI(ref string) (network.Config, error) {
	if ref == DefaultNetworkName || ref == "default" {
		return e.defaultNetwork()
	}
	if _, err := e.defaultNetwork(); err != nil {
		return network.Config{}, err
	}
	s, err := e.Networks()
	if err != nil {
		return network.Config{}, err
	}
	c, err := s.Get(ref)
	if errors.Is(err, network.ErrNotFound) {
		return c, fmt.Errorf("network %s not found", ref)
	}
	return c, err // a malformed list says so
}

// planNetwork checks a create's network flags and makes the container's
// settings; mode is the network mode recorded (--network's first value).
func (e *Engine) planNetwork(r NetworkRequest, imageExposed map[string]struct{}) (*ContainerNetwork, string, error) {
	nets := slices.Clone(r.Networks)
	if len(nets) == 0 {
		def := e.ctrOpts.Network.DefaultMode
		if def == "" {
			def = DefaultNetworkName
		}
		nets = []string{def}
	}
	mode := nets[0]
	ns := &ContainerNetwork{PublishAll: r.PublishAll, DNS: r.DNS, DNSSearch: r.DNSSearch, DNSOptions: r.DNSOptions}
	for _, d := range r.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return nil, "", fmt.Errorf("invalid --dns %q: not an IP address", d)
		}
	}
	for _, h := range r.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			name, ip, ok = strings.Cut(h, "=")
		}
		if !ok || name == "" {
			return nil, "", fmt.Errorf("invalid --add-host %q: want NAME:IP", h)
		}
		if ip != "host-gateway" {
			if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
				return nil, "", fmt.Errorf("invalid --add-host %q: %q is not an IP address", h, ip)
			}
		}
		ns.ExtraHosts = append(ns.ExtraHosts, name+":"+ip)
	}
	var publish []PortSpec
	for _, p := range r.Publish {
		specs, err := ParsePublish(p)
		if err != nil {
			return nil, "", err
		}
		publish = append(publish, specs...)
	}
	if !cniNetwork(mode) {
		if len(nets) > 1 {
			return nil, "", fmt.Errorf("conflicting options: --network %s cannot be combined with other networks", mode)
		}
		if r.IP != "" || r.IP6 != "" {
			return nil, "", errors.New("invalid --ip: a user specified IP address is supported on user defined networks only")
		}
		if strings.HasPrefix(mode, "container:") {
			if len(r.Publish) > 0 || r.PublishAll {
				return nil, "", errors.New("conflicting options: port publishing and the container type network mode")
			}
			if r.MAC != "" || len(r.DNS)+len(r.DNSSearch)+len(r.DNSOptions)+len(r.ExtraHosts) > 0 {
				return nil, "", errors.New("conflicting options: --mac-address, --dns* and --add-host with the container type network mode")
			}
		}
		return ns, mode, nil
	}
	for i, ref := range nets {
		if !cniNetwork(ref) {
			return nil, "", fmt.Errorf("conflicting options: --network %s cannot be combined with other networks", ref)
		}
		c, err := e.lookupCNI(ref)
		if err != nil {
			return nil, "", err
		}
		if ns.endpoint(c.ID) != nil {
			return nil, "", fmt.Errorf("invalid --network: %s given twice", ref)
		}
		ep := Endpoint{Network: c.Name, NetworkID: c.ID, IfName: "eth" + strconv.Itoa(i)}
		if i == 0 {
			// Ports go with the first network: one published on an IPv6
			// address needs the container to have one there.
			for _, p := range publish {
				if strings.Contains(p.HostIP, ":") && !c.EnableIPv6 {
					return nil, "", fmt.Errorf("invalid -p [%s]:...: network %s has no IPv6 (it was created without --ipv6)", p.HostIP, c.Name)
				}
			}
			ep.Aliases, ep.WantMAC = r.Aliases, r.MAC
			if r.IP != "" {
				if c.Default {
					return nil, "", errors.New("invalid --ip: a user specified IP address is supported on user defined networks only")
				}
				if err := c.Contains(r.IP); err != nil {
					return nil, "", err
				}
				ep.IPAMIP = r.IP
			}
			if r.IP6 != "" {
				if c.Default {
					return nil, "", errors.New("invalid --ip6: a user specified IP address is supported on user defined networks only")
				}
				if err := c.ContainsIPv6(r.IP6); err != nil {
					return nil, "", err
				}
				ep.IPAMIP6 = r.IP6
			}
			if r.MAC != "" {
				if _, err := net.ParseMAC(r.MAC); err != nil {
					return nil, "", fmt.Errorf("invalid --mac-address %q", r.MAC)
				}
			}
		}
		ns.Endpoints = append(ns.Endpoints, ep)
	}
	exposed := map[string]struct{}{}
	for _, x := range append(slices.Sorted(maps.Keys(imageExposed)), r.Expose...) {
		ps, proto, _ := strings.Cut(x, "/")
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, err := portRange(ps)
		if err != nil || (proto != "tcp" && proto != "udp") {
			return nil, "", fmt.Errorf("invalid --expose %q", x)
		}
		for p := lo; p <= hi; p++ {
			exposed[fmt.Sprintf("%d/%s", p, proto)] = struct{}{}
		}
	}
	for _, s := range publish {
		exposed[fmt.Sprintf("%d/%s", s.ContainerPort, s.Protocol)] = struct{}{}
	}
	ns.Publish = publish
	ns.Exposed = slices.Sorted(maps.Keys(exposed))
	return ns, mode, nil
}

// Paths of a container's network state: its namespace (in the run root),
// and the record of what is attached, the key of every detach. The record
// is in the engine root, beside the leases it undoes: a reboot, which
// empties the run root and ends the namespaces, leaves leases on disk
// that the next command must still give back.
func (e *Engine) netnsPath(id string) string { return filepath.Join(e.runRoot, "netns", id) }

// sharedSuffix marks, beside a namespace, that a container joined it
// (--network container:ID).
const sharedSuffix = ".shared"

func (e *Engine) netStatePath(id string) string {
	return filepath.Join(e.root, "networks", "attached", id+".json")
}

type netState struct {
	ID          string               `json:"id"`
	Attachments []netStateAttachment `json:"attachments"`
}

type netStateAttachment struct {
	Network string `json:"network"` // id
	network.Attachment
}

// netFiles are the generated /etc files of a container, in its bundle.
func (e *Engine) netFile(id, name string) string { return filepath.Join(e.bundleDir(id), name) }

// netMounts binds the generated hosts, resolv.conf and hostname over the
// image's (from the container shared with --network container:ID), unless
// a mount of the user's covers one.
func (e *Engine) netMounts(id string, ns *ContainerNetwork, user []spec.Mount) ([]spec.Mount, error) {
	owner := id
	if ns.FilesFrom != "" {
		owner = ns.FilesFrom
	}
	var out []spec.Mount
	for _, f := range []string{"hosts", "resolv.conf", "hostname"} {
		dst := "/etc/" + f
		if slices.ContainsFunc(user, func(m spec.Mount) bool { return filepath.Clean(m.Destination) == dst }) {
			continue
		}
		if owner == id {
			if err := os.WriteFile(e.netFile(id, f), nil, 0o644); err != nil {
				return nil, fmt.Errorf("create container: %w", err)
			}
		}
		out = append(out, spec.Mount{Type: spec.MountBind, Source: e.netFile(owner, f), Destination: dst,
			Propagation: "rprivate", NonRecursive: true})
	}
	return out, nil
}

// setupNetwork gives a starting container its network: the namespace
// and the /etc files now, and the attachments (ports on the first), the
// plugins' work, in attach, which the start runs while the runtime
// creates the container in the namespace (the plugins take longer than
// anything else of a start; the container's process runs only after
// both). On failure, of either, nothing of it stays; attach is nil when
// there is nothing to attach.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) (attach func() error, err error) {
	ns := c.Net
	if ns == nil {
		return nil, nil
	}
	if ns.FilesFrom == "" {
		if err := e.writeHostname(c); err != nil {
			return nil, err
		}
		if err := e.writeResolvConf(c); err != nil {
			return nil, err
		}
	}
	if !ownsNetNS(c) {
		if ns.FilesFrom == "" {
			return nil, e.writeHosts(c)
		}
		return nil, nil
	}
	// What a run before left, if its clean-up never came.
	e.teardownNetwork(ctx, c)
	store, err := e.Networks()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.teardownNetwork(context.WithoutCancel(ctx), c)
		}
	}()
	// What the plugins need, before anything is made that a removal
	// would have to undo with them.
	for _, ep := range ns.Endpoints {
		cfg, err := store.Get(ep.NetworkID)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", ep.Network, err)
		}
		if err := store.Check(cfg, network.Attachment{MAC: ep.WantMAC, Ports: make([]network.PortMapping, len(ns.Publish))}); err != nil {
			return nil, err
		}
	}
	bound, err := e.bindPorts(c)
	if err != nil {
		return nil, err
	}
	path := e.netnsPath(c.ID)
	st := netState{ID: c.ID}
	var cfgs []network.Config
	for i, ep := range ns.Endpoints {
		cfg, err := store.Get(ep.NetworkID)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", ep.Network, err)
		}
		cfgs = append(cfgs, cfg)
		a := network.Attachment{ContainerID: c.ID, NetNS: path, IfName: ep.IfName, IP: ep.IPAMIP, IP6: ep.IPAMIP6, MAC: ep.WantMAC}
		if i == 0 {
			a.Ports = bound
		}
		st.Attachments = append(st.Attachments, netStateAttachment{Network: ep.NetworkID, Attachment: a})
	}
	// The record first: a crash from here on leaves what the next
	// command needs to undo it.
	if err := writeJSON(e.netStatePath(c.ID), st); err != nil {
		return nil, err
	}
	if err := network.NewNetNS(path); err != nil {
		return nil, err
	}
	// Before the spawn: the monitor opens its listener for the names of
	// the user networks this config lists when it starts (it needs no
	// address of the attach).
	if err := e.writeDNSConfig(c); err != nil {
		return nil, err
	}
	return func() (err error) {
		defer func() {
			if err != nil {
				e.teardownNetwork(context.WithoutCancel(ctx), c)
			}
		}()
		for i, a := range st.Attachments {
			res, err := store.Attach(ctx, cfgs[i], a.Attachment)
			if err != nil {
				return err
			}
			ns.Endpoints[i].Result = res
			ns.Endpoints[i].EndpointID = endpointID(c.ID, a.Network)
			st.Attachments[i].Assigned, st.Attachments[i].Assigned6 = res.IP, res.IPv6
			if err := writeJSON(e.netStatePath(c.ID), st); err != nil {
				return err
			}
			if err := e.publishDNS(c, &ns.Endpoints[i], cfgs[i].Default); err != nil {
				return err
			}
			e.emitNetwork(cfgs[i], "connect", map[string]string{"container": c.ID})
		}
		ns.Bound = bound
		return e.writeHosts(c)
	}, nil
}

// ownsNetNS says whether the container has a namespace of its own that
// the engine makes (a CNI network mode), even with every network
// disconnected.
func ownsNetNS(c *Container) bool {
	return c.Options.Network.Mode == spec.NSPath && c.Options.Network.Owned
}

func endpointID(ctr, net string) string {
	return fmt.Sprintf("%x", sha256Sum(ctr+"/"+net))
}

// teardownNetwork undoes setupNetwork: the plugins' DEL for every
// attachment recorded, then the namespace. Best effort, and idempotent.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) error {
	if c.Net != nil {
		c.Net.Bound = nil
		for i := range c.Net.Endpoints {
			c.Net.Endpoints[i].Result, c.Net.Endpoints[i].EndpointID = network.Result{}, ""
		}
	}
	return e.teardownNetworkState(ctx, c.ID)
}

func (e *Engine) teardownNetworkState(ctx context.Context, id string) error {
	b, err := os.ReadFile(e.netStatePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return network.RemoveNetNS(e.netnsPath(id))
	}
	var st netState
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return fmt.Errorf("network state of %s: %w", shortID(id), err)
	}
	store, err := e.Networks()
	if err != nil {
		return err
	}
	var errs []error
	cfgs := map[string]network.Config{}
	early := true
	for _, a := range slices.Backward(st.Attachments) {
		// The names first: no container is answered an address being given back.
		if err := e.unpublishDNS(id, a.Network); err != nil {
			errs = append(errs, err)
		}
		if cfg, err := store.Get(a.Network); err == nil {
			cfgs[a.Network] = cfg
			// The bridge plugin's own masquerade is undone from the
			// addresses in the namespace.
			early = early && (cfg.Driver != network.DriverBridge || cfg.NATRules)
		}
	}
	if _, err := os.Stat(e.netnsPath(id) + sharedSuffix); err == nil {
		early = false // a container:ID one holds the namespace on
	}
	if early {
		// The namespace first: the plugins' DEL without it only gives
		// the leases and ports back (CNI allows DEL without one), and
		// the kernel takes the veths with the namespace, after this
		// process, instead of the plugin's removal of each waiting for
		// the kernel (~15-40 ms of a run --rm here).
		if err := network.RemoveNetNS(e.netnsPath(id)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range slices.Backward(st.Attachments) {
		cfg, ok := cfgs[a.Network]
		if !ok {
			continue // the network is gone, and with it its bridge
		}
		if err := store.Detach(ctx, cfg, a.Attachment); err != nil {
			errs = append(errs, err)
		} else if a.Assigned != "" {
			e.emitNetwork(cfg, "disconnect", map[string]string{"container": id})
		}
	}
	if err := network.RemoveNetNS(e.netnsPath(id)); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		os.Remove(e.netStatePath(id))
		os.Remove(e.netnsPath(id) + sharedSuffix)
	}
	return errors.Join(errs...)
}

// reapNetworks tears down the networks of runs that were just recorded
// as ended (cs) by whoever settled them: a container whose monitor was
// killed, whose exit command never ran or which a reboot ended has its
// veths, rules and leases given back by the command that notices (the
// settle of a ps, an inspect, an engine open's reconcile). It costs a
// stat per ended run and nothing per running container. A container
// whose lock is held is left to its holder (a start sets the network up
// anew, a stop's or an rm's own clean-up tears it down), and so is one
// that runs again by the time the lock is held.
func (e *Engine) reapNetworks(cs []Container) {
	for i := range cs {
		id := cs[i].ID
		if _, err := os.Stat(e.netStatePath(id)); err != nil {
			if _, err := os.Stat(e.netnsPath(id)); err != nil {
				continue
			}
		}
		lock, ok, err := flock.TryAcquire(filepath.Join(e.runRoot, "c", shortID(id)+".lock"), true)
		if err != nil || !ok {
			continue
		}
		e.releaseNetwork(context.Background(), id)
		lock.Release()
	}
}

// releaseNetwork tears down what the network state of a container that
// does not run records, and clears its record's ports and addresses, so
// that inspect shows none and its host ports are free. The caller holds
// the container's lock.
func (e *Engine) releaseNetwork(ctx context.Context, id string) error {
	c, err := e.GetContainer(id)
	if err == nil && (c.State == StateRunning || c.State == StateRestarting) {
		return nil
	}
	if err := e.teardownNetworkState(ctx, id); err != nil {
		return err
	}
	if err == nil && c.Net != nil && (len(c.Net.Bound) > 0 || slices.ContainsFunc(c.Net.Endpoints, func(ep Endpoint) bool { return ep.EndpointID != "" })) {
		e.teardownNetwork(ctx, &c)
		return e.PutContainer(c)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
