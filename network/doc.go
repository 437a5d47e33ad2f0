// Package network gives containers their networks: network namespaces
// made and removed by the caller's request (bind-mounted files, so that
// they outlive the process that made them), networks kept as CNI
// configuration lists (cniVersion 1.0.0) in a directory the engine owns,
// and attachments run through libcni with the CNI plugins on disk
// (bridge, host-local, portmap, firewall, tuning, macvlan, ipvlan).
//
// A network knows no containers: an attachment is keyed by a namespace
// path and an id. Which containers use which network, and whether one may
// be removed, is the engine's to know.
//
// IPAM state (host-local's leases) and libcni's result cache live under
// the store's directory too, never in /var/lib/cni or /etc/cni/net.d,
// which belong to the operator and to CRI runtimes.
package network
