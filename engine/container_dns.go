package engine

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/network"
)

// Name resolution between containers (issue 12): each container's own monitor answers its
// lookups on 127.0.0.11:53 in the container's namespace (see package monitor), from one records
// file per user network that the engine edits here on every attach and detach, and from a
// per-container config naming the container's upstreams and records files.

// embeddedDNS is the resolver's address, Docker's.
const embeddedDNS = "127.0.0.11"

func (e *Engine) dnsRecordsDir() string          { return filepath.Join(e.root, "networks", "dns") }
func (e *Engine) dnsConfigPath(id string) string { return e.netFile(id, "dns.conf") }

// userEndpoints are the container's endpoints on user networks (the default network has no
// name resolution, as in Docker).
func (e *Engine) userEndpoints(c *Container) []Endpoint {
	if c.Net == nil || !ownsNetNS(c) {
		return nil
	}
	def, err := e.defaultNetwork()
	var out []Endpoint
	for _, ep := range c.Net.Endpoints {
		if err != nil || ep.NetworkID != def.ID {
			out = append(out, ep)
		}
	}
	return out
}

// usesEmbeddedDNS says whether the container's lookups go to its monitor.
func (e *Engine) usesEmbeddedDNS(c *Container) bool { return len(e.userEndpoints(c)) > 0 }

// dnsNames are a container's names on one network: its name, the aliases and its short id.
func dnsNames(c *Container, ep *Endpoint) []string {
	names := []string{strings.TrimPrefix(c.Name, "/")}
	for _, a := range ep.Aliases {
		if a != "" && !strings.ContainsAny(a, " \t\r\n#\x00") {
			names = append(names, a)
		}
	}
	return append(names, shortID(c.ID))
}

// publishDNS puts the container's addresses on ep's network in its records (user networks only).
func (e *Engine) publishDNS(c *Container, ep *Endpoint, isDefault bool) error {
	if isDefault {
		return nil
	}
	names := dnsNames(c, ep)
	var recs []network.DNSRecord
	for _, a := range []string{ep.IP, ep.IPv6} {
		if a != "" {
			recs = append(recs, network.DNSRecord{Addr: a, Names: names})
		}
	}
	return network.SetDNSRecords(e.dnsRecordsDir(), ep.NetworkID, c.ID, recs)
}

// renamedDNS republishes a running container's names under its new name (the caller holds
// the container's lock, so a stop's unpublish cannot come between). Best effort.
func (e *Engine) renamedDNS(c *Container) {
	if c.State != StateRunning {
		return
	}
	for _, ep := range e.userEndpoints(c) {
		if ep.IP != "" || ep.IPv6 != "" {
			e.publishDNS(c, &ep, false)
		}
	}
}

// unpublishDNS takes a container's names off a network's records. Best effort: a network
// removed since has no records file.
func (e *Engine) unpublishDNS(id, networkID string) error {
	return network.SetDNSRecords(e.dnsRecordsDir(), networkID, id, nil)
}

// writeDNSConfig writes the config the container's monitor reads: its upstreams and the records
// of its user networks. Written for every container with a namespace of its own, so that a
// connect to a user network later only rewrites it.
func (e *Engine) writeDNSConfig(c *Container) error {
	if c.Net == nil || !ownsNetNS(c) {
		return nil
	}
	var recs []string
	for _, ep := range e.userEndpoints(c) {
		recs = append(recs, network.DNSRecordsPath(e.dnsRecordsDir(), ep.NetworkID))
	}
	return network.WriteDNSConfig(e.dnsConfigPath(c.ID), e.dnsUpstreams(c), recs)
}

// dnsUpstreams are where the monitor forwards what it does not know: --dns, else the config's
// dns_upstream (ADDR[:PORT]), else the host's resolvers, loopback ones included: the monitor
// forwards from the engine's namespace, where a local resolver (systemd-resolved's 127.0.0.53)
// answers, as Docker's embedded resolver reaches it from the host's.
func (e *Engine) dnsUpstreams(c *Container) []string {
	if len(c.Net.DNS) > 0 {
		return c.Net.DNS
	}
	if up := e.ctrOpts.Network.DNSUpstream; len(up) > 0 {
		return up
	}
	servers, _, _ := e.hostResolvConf()
	return servers
}

// hostResolvConf reads the configured resolv.conf (the host's by default).
func (e *Engine) hostResolvConf() (servers, search, options []string) {
	path := e.ctrOpts.Network.ResolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 || strings.HasPrefix(fs[0], "#") || strings.HasPrefix(fs[0], ";") {
			continue
		}
		switch fs[0] {
		case "nameserver":
			servers = append(servers, fs[1])
		case "search", "domain":
			search = fs[1:]
		case "options":
			options = append(options, fs[1:]...)
		}
	}
	return servers, search, options
}

// dnsMonitorOptions fills the monitor's resolver options for a container with a namespace.
func (e *Engine) dnsMonitorOptions(c *Container, mo *monitor.Options) {
	if c.Net == nil || !ownsNetNS(c) {
		return
	}
	mo.DNSConfig, mo.DNSNetNS = e.dnsConfigPath(c.ID), e.netnsPath(c.ID)
}

// refreshDNS rewrites a running container's resolver config and resolv.conf after a connect or
// disconnect, and tells its monitor (SIGHUP) to open or close its listener.
func (e *Engine) refreshDNS(c *Container) error {
	if err := e.writeDNSConfig(c); err != nil {
		return err
	}
	if c.Net.FilesFrom == "" {
		if err := e.writeResolvConf(c); err != nil {
			return err
		}
	}
	if c.Monitor != nil && monitor.Alive(c.Monitor.Pid, c.Monitor.StartTime) {
		syscall.Kill(c.Monitor.Pid, syscall.SIGHUP)
	}
	return nil
}
