package network

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// PortMapping is one published port, as the portmap plugin takes it.
type PortMapping struct {
	HostIP        string `json:"hostIP,omitempty"` // empty: every address
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"` // tcp or udp
}

// Attachment is one namespace on one network: the key of an attach and
// its detach, which must be given the same.
type Attachment struct {
	ContainerID string        `json:"containerID"`
	NetNS       string        `json:"netns"`
	IfName      string        `json:"ifName"`        // eth0, eth1, ...
	IP          string        `json:"ip,omitempty"`  // a static address (--ip); empty: the next free one
	IP6         string        `json:"ip6,omitempty"` // a static IPv6 address (--ip6), on a network with IPv6
	MAC         string        `json:"mac,omitempty"` // --mac-address; empty: the kernel's
	Ports       []PortMapping `json:"ports,omitempty"`
	// Assigned is the address the ADD gave, for a DEL whose namespace is
	// gone (the caller records it after Attach).
	Assigned string `json:"assigned,omitempty"`
	// Assigned6 is the IPv6 address the ADD gave, likewise.
	Assigned6 string `json:"assigned6,omitempty"`
}

// Result is what an attach gave the namespace.
type Result struct {
	IP            string `json:"ip"`
	PrefixLen     int    `json:"prefixLen"`
	Gateway       string `json:"gateway,omitempty"`
	IPv6          string `json:"ipv6,omitempty"`
	IPv6PrefixLen int    `json:"ipv6PrefixLen,omitempty"`
	IPv6Gateway   string `json:"ipv6Gateway,omitempty"`
	MAC           string `json:"mac,omitempty"`
}

func (a Attachment) runtimeConf() *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: a.ContainerID, NetNS: a.NetNS, IfName: a.IfName,
		CapabilityArgs: map[string]any{}}
	// host-local takes each address in the range set that holds it.
	var ips []string
	for _, ip := range []string{a.IP, a.IP6} {
		if ip != "" {
			ips = append(ips, ip)
		}
	}
	if len(ips) > 0 {
		rt.CapabilityArgs["ips"] = ips
	}
	if a.MAC != "" {
		rt.CapabilityArgs["mac"] = a.MAC
	}
	if len(a.Ports) > 0 {
		rt.CapabilityArgs["portMappings"] = a.Ports
	}
	return rt
}

// confListOf is the network's list for one attachment: without the
// portmap plugin when it publishes no port and without tuning when it
// asks for no MAC address. Each plugin is a process that takes tens of
// milliseconds, for nothing then; DEL gets the same list as ADD, since
// both come from the same attachment.
func (s *Store) confListOf(c Config, a Attachment) (*libcni.NetworkConfigList, error) {
	l, err := s.fullConfList(c)
	if err != nil {
		return nil, err
	}
	short := *l
	short.Plugins = nil
	for _, p := range l.Plugins {
		switch p.Network.Type {
		case "portmap":
			if len(a.Ports) == 0 {
				continue
			}
		case "tuning":
			if a.MAC == "" {
				continue
			}
		}
		short.Plugins = append(short.Plugins, p)
	}
	return &short, nil
}

func (s *Store) fullConfList(c Config) (*libcni.NetworkConfigList, error) {
	b, err := os.ReadFile(s.confPath(c.Name))
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", c.Name, err)
	}
	l, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("network %s: malformed configuration list %s: %w", c.Name, s.confPath(c.Name), err)
	}
	return l, nil
}

// Attach runs the network's plugins (CNI ADD) for a. On failure the
// plugins are run again with DEL, so that nothing stays half-made.
func (s *Store) Attach(ctx context.Context, c Config, a Attachment) (Result, error) {
	unlock, err := s.Lock(false)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	l, err := s.confListOf(c, a)
	if err != nil {
		return Result{}, err
	}
	if err := s.ensureNATRules(c); err != nil {
		return Result{}, err
	}
	if c.Driver == DriverBridge && c.EnableIPv6 {
		if err := ensureBridge(c); err != nil {
			return Result{}, err
		}
	}
	rt := a.runtimeConf()
	res, err := s.cni.AddNetworkList(ctx, l, rt)
	if err != nil {
		s.cni.DelNetworkList(context.WithoutCancel(ctx), l, rt)
		return Result{}, fmt.Errorf("network %s: %w", c.Name, err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		s.cni.DelNetworkList(context.WithoutCancel(ctx), l, rt)
		return Result{}, fmt.Errorf("network %s: result: %w", c.Name, err)
	}
	var out Result
	for _, ip := range r.IPs {
		ones, _ := ip.Address.Mask.Size()
		gw := ""
		if ip.Gateway != nil {
			gw = ip.Gateway.String()
		}
		if ip.Address.IP.To4() == nil {
			if out.IPv6 == "" {
				out.IPv6, out.IPv6PrefixLen, out.IPv6Gateway = ip.Address.IP.String(), ones, gw
			}
			continue
		}
		if out.IP != "" {
			continue
		}
		out.IP, out.PrefixLen, out.Gateway = ip.Address.IP.String(), ones, gw
		if ip.Interface != nil && *ip.Interface < len(r.Interfaces) {
			out.MAC = r.Interfaces[*ip.Interface].Mac
		}
	}
	for _, i := range r.Interfaces {
		// The last plugin (tuning) reports the address it set.
		if i.Name == a.IfName && i.Sandbox != "" && i.Mac != "" {
			out.MAC = i.Mac
		}
	}
	if out.IP == "" {
		s.cni.DelNetworkList(context.WithoutCancel(ctx), l, rt)
		return Result{}, fmt.Errorf("network %s: the plugins gave no IPv4 address", c.Name)
	}
	return out, nil
}

// Detach runs the network's plugins with DEL for a: the lease, the
// firewall and NAT rules and the link go. Detaching what is not attached
// is no error (CNI DEL is idempotent).
func (s *Store) Detach(ctx context.Context, c Config, a Attachment) error {
	unlock, err := s.Lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	l, err := s.confListOf(c, a)
	if err != nil {
		return err
	}
	gone := !IsNetNS(a.NetNS)
	if gone {
		// The namespace is gone (a reboot, a crash): the plugins clean
		// the host side without it, but for the bridge's masquerade.
		a.NetNS = ""
	}
	if err := s.cni.DelNetworkList(ctx, l, a.runtimeConf()); err != nil {
		return fmt.Errorf("network %s: %w", c.Name, err)
	}
	if gone && c.Driver == DriverBridge && !c.Internal && !c.NATRules {
		return errors.Join(removeMasq("iptables", c.Name, a.ContainerID, a.Assigned),
			removeMasq("ip6tables", c.Name, a.ContainerID, a.Assigned6))
	}
	return nil
}
