package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// The /etc files Docker generates for each container: hostname, hosts
// and resolv.conf, written in the bundle and bound over the image's.

func (e *Engine) writeHostname(c *Container) error {
	return writeBoundFile(e.netFile(c.ID, "hostname"), []byte(c.Config.Hostname+"\n"))
}

// writeHosts writes localhost, the --add-host entries and the
// container's own name on its first network's addresses (IPv4, then
// IPv6), as Docker orders them.
func (e *Engine) writeHosts(c *Container) error {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	if c.Modes.Network == "host" {
		// The host's own entries, as Docker copies them.
		if h, err := os.ReadFile("/etc/hosts"); err == nil {
			b.Reset()
			b.Write(h)
			if len(h) > 0 && h[len(h)-1] != '\n' {
				b.WriteByte('\n')
			}
		}
	}
	for _, h := range c.Net.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		if ip == "host-gateway" {
			gw, err := e.hostGateway()
			if err != nil {
				return err
			}
			ip = gw
		}
		fmt.Fprintf(&b, "%s\t%s\n", strings.Trim(ip, "[]"), name)
	}
	if len(c.Net.Endpoints) > 0 && c.Net.Endpoints[0].IP != "" {
		names := c.Config.Hostname
		if c.Config.Domainname != "" {
			names = c.Config.Hostname + "." + c.Config.Domainname + " " + c.Config.Hostname
		}
		fmt.Fprintf(&b, "%s\t%s\n", c.Net.Endpoints[0].IP, names)
		if v6 := c.Net.Endpoints[0].IPv6; v6 != "" {
			fmt.Fprintf(&b, "%s\t%s\n", v6, names)
		}
	}
	e.podHosts(c, &b)
	return writeBoundFile(e.netFile(c.ID, "hosts"), b.Bytes())
}

// hostGateway is what --add-host NAME:host-gateway names: the default
// network's gateway, the host's address on its bridge (Docker's docker0
// address).
func (e *Engine) hostGateway() (string, error) {
	n, err := e.defaultNetwork()
	if err != nil {
		return "", fmt.Errorf("--add-host host-gateway: %w", err)
	}
	return n.Gateway, nil
}

// writeResolvConf writes the container's resolv.conf: the configured
// upstreams (else the host's, less loopback resolvers, which mean
// nothing in another namespace), search and options, each replaced by
// --dns, --dns-search, --dns-option when given. A container on a user
// network asks its monitor (127.0.0.11, as Docker's embedded resolver),
// which forwards to those upstreams.
func (e *Engine) writeResolvConf(c *Container) error {
	servers, search, options := e.hostResolvConf()
	if up := e.ctrOpts.Network.DNSUpstream; len(up) > 0 {
		servers = nil
		for _, s := range up {
			// IP:PORT cannot be said in resolv.conf: the port is for the
			// network's own resolver; the address is kept.
			if ap, err := netip.ParseAddrPort(s); err == nil {
				s = ap.Addr().String()
			}
			servers = append(servers, s)
		}
	}
	hostMode := c.Modes.Network == "host"
	var kept []string
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err == nil && a.IsLoopback() && !hostMode {
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) == 0 && !hostMode && len(c.Net.DNS) == 0 {
		// Docker's fallback when the host's only resolver is a local one.
		kept = []string{"8.8.8.8", "8.8.4.4"}
	}
	if len(c.Net.DNS) > 0 {
		kept = c.Net.DNS
	}
	if len(c.Net.DNSSearch) > 0 {
		search = c.Net.DNSSearch
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(c.Net.DNSOptions) > 0 {
		options = c.Net.DNSOptions
	}
	if e.usesEmbeddedDNS(c) {
		kept = []string{embeddedDNS}
		if !slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
			options = append(slices.Clone(options), "ndots:0") // as Docker writes it
		}
	}
	var b bytes.Buffer
	for _, s := range kept {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return writeBoundFile(e.netFile(c.ID, "resolv.conf"), b.Bytes())
}

// writeBoundFile rewrites a bound file in place: a rename would leave
// the container's bind on the old inode.
func writeBoundFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("container network files: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("container network files: %w", err)
	}
	return nil
}
