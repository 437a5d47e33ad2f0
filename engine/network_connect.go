package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/berth-dev/berth/network"
)

// ConnectOptions are network connect's flags.
type ConnectOptions struct {
	Aliases []string // --alias
	IP      string   // --ip
	IP6     string   // --ip6
}

// ConnectNetwork puts a container on one more network: a running one at
// once (the next interface, ethN), a stopped one at its next start.
func (e *Engine) ConnectNetwork(ctx context.Context, netRef, ctrRef string, o ConnectOptions) error {
	c, release, err := e.lockedContainer(ctrRef)
	if err != nil {
		return err
	}
	defer release()
	if !ownsNetNS(&c) || c.Net == nil {
		return fmt.Errorf("container %s is in network mode %s: it cannot be connected to other networks", c.Name, c.Modes.Network)
	}
	n, err := e.LookupNetwork(netRef)
	if err != nil {
		return err
	}
	if n.Predefined {
		return fmt.Errorf("container cannot be connected to the %s network", n.Name)
	}
	if c.Net.endpoint(n.ID) != nil {
		return fmt.Errorf("endpoint with name %s already exists in network %s", c.Name, n.Name)
	}
	ep := Endpoint{Network: n.Name, NetworkID: n.ID, IfName: nextIfName(c.Net), Aliases: o.Aliases}
	if o.IP != "" {
		if n.Default {
			return errors.New("invalid --ip: a user specified IP address is supported on user defined networks only")
		}
		if err := n.Contains(o.IP); err != nil {
			return err
		}
		ep.IPAMIP = o.IP
	}
	if o.IP6 != "" {
		if n.Default {
			return errors.New("invalid --ip6: a user specified IP address is supported on user defined networks only")
		}
		if err := n.ContainsIPv6(o.IP6); err != nil {
			return err
		}
		ep.IPAMIP6 = o.IP6
	}
	if c.State == StateRunning {
		store, err := e.Networks()
		if err != nil {
			return err
		}
		a := network.Attachment{ContainerID: c.ID, NetNS: e.netnsPath(c.ID), IfName: ep.IfName, IP: ep.IPAMIP, IP6: ep.IPAMIP6}
		// The record of what is attached first, as at start.
		if err := e.editNetState(c.ID, func(st *netState) {
			st.Attachments = append(st.Attachments, netStateAttachment{Network: n.ID, Attachment: a})
		}); err != nil {
			return err
		}
		res, err := store.Attach(ctx, n.Config, a)
		if err != nil {
			e.editNetState(c.ID, func(st *netState) { st.Attachments = dropAttachment(st.Attachments, n.ID) })
			return err
		}
		ep.Result, ep.EndpointID = res, endpointID(c.ID, n.ID)
		if err := e.publishDNS(&c, &ep, n.Default); err != nil {
			return err
		}
		if err := e.editNetState(c.ID, func(st *netState) {
			for i := range st.Attachments {
				if st.Attachments[i].Network == n.ID {
					st.Attachments[i].Assigned, st.Attachments[i].Assigned6 = res.IP, res.IPv6
				}
			}
		}); err != nil {
			return err
		}
	}
	c.Net.Endpoints = append(c.Net.Endpoints, ep)
	if err := e.PutContainer(c); err != nil {
		return err
	}
	if c.State == StateRunning {
		if err := e.refreshDNS(&c); err != nil {
			return err
		}
		e.emitNetwork(n.Config, "connect", map[string]string{"container": c.ID})
	}
	return nil
}

// DisconnectNetwork takes a container off a network.
func (e *Engine) DisconnectNetwork(ctx context.Context, netRef, ctrRef string) error {
	c, release, err := e.lockedContainer(ctrRef)
	if err != nil {
		return err
	}
	defer release()
	n, err := e.LookupNetwork(netRef)
	if err != nil {
		return err
	}
	if c.Net == nil || c.Net.endpoint(n.ID) == nil {
		return fmt.Errorf("container %s is not connected to network %s", c.Name, n.Name)
	}
	ep := *c.Net.endpoint(n.ID)
	if c.State == StateRunning {
		store, err := e.Networks()
		if err != nil {
			return err
		}
		a := network.Attachment{ContainerID: c.ID, NetNS: e.netnsPath(c.ID), IfName: ep.IfName, IP: ep.IPAMIP, IP6: ep.IPAMIP6}
		if st, err := e.readNetState(c.ID); err == nil {
			for _, x := range st.Attachments {
				if x.Network == n.ID {
					a = x.Attachment // the ports of the first go with it
				}
			}
		}
		if err := e.unpublishDNS(c.ID, n.ID); err != nil {
			return err
		}
		if err := store.Detach(ctx, n.Config, a); err != nil {
			return err
		}
		if err := e.editNetState(c.ID, func(st *netState) { st.Attachments = dropAttachment(st.Attachments, n.ID) }); err != nil {
			return err
		}
		if len(a.Ports) > 0 {
			c.Net.Bound = nil
		}
	}
	c.Net.Endpoints = slices.DeleteFunc(c.Net.Endpoints, func(x Endpoint) bool { return x.NetworkID == n.ID })
	if err := e.PutContainer(c); err != nil {
		return err
	}
	if c.State == StateRunning {
		if err := e.refreshDNS(&c); err != nil {
			return err
		}
		e.emitNetwork(n.Config, "disconnect", map[string]string{"container": c.ID})
	}
	return nil
}

func nextIfName(n *ContainerNetwork) string {
	for i := 0; ; i++ {
		name := "eth" + strconv.Itoa(i)
		if !slices.ContainsFunc(n.Endpoints, func(x Endpoint) bool { return x.IfName == name }) {
			return name
		}
	}
}

func dropAttachment(as []netStateAttachment, networkID string) []netStateAttachment {
	return slices.DeleteFunc(as, func(x netStateAttachment) bool { return x.Network == networkID })
}

func (e *Engine) readNetState(id string) (netState, error) {
	var st netState
	b, err := os.ReadFile(e.netStatePath(id))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func (e *Engine) editNetState(id string, fn func(*netState)) error {
	st, err := e.readNetState(id)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network state of %s: %w", shortID(id), err)
	}
	st.ID = id
	fn(&st)
	return writeJSON(e.netStatePath(id), st)
}
