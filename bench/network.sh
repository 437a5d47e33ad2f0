#!/bin/bash
# What a container's network costs, berth side by side with Podman, one run, everything inside a
# network namespace of the bench's own that holds loopback only (issue 12, "Safety": the bridges,
# NAT, ip_forward and iptables changes stay in it, and nothing has a route off the machine):
#   1. `run --rm busybox true`, RUNS times each, interleaved: berth on its default bridge and with
#      --network none; podman (Debian 4.3) with --network-backend cni (what its default was here
#      before netavark was installed) and netavark (with aardvark-dns 1.4), on its default network
#      and with --network none. Medians, and what the network adds to each.
#   2. TCP throughput host -> container through a published port (-p, kernel NAT to 127.0.0.1):
#      bench/tcpsend writes MB MiB into busybox `nc -l` in the container; the median of 3, MB/s.
#   3. Name lookup latency between two containers of a user network: berth's (the monitor's
#      resolver) and Podman's (aardvark-dns).
#
#   bench/network.sh                 # RUNS=20 MB=512 LOOKUPS=200
#
# One run here (2 cores, load ~3.3, 2026-12): run --rm true, the network adds 20 ms to berth (68 ms
# against 48 with none; 153 ms before its rules became the network's and its plugins ran beside
# the runtime's create), 162 ms to podman with cni, 188 ms with netavark; TCP through -p: berth 356
# MB/s, podman 496 (cni) and 506 (netavark); a lookup: berth 0.73 ms, aardvark-dns 1.24 ms.
#   BIN=DIR bench/network.sh         # berth's binaries from DIR instead of building them
#   OLD_BIN=DIR PODMAN=0 bench/network.sh   # also the berth binaries in DIR (an older build), its
#                                    # own roots, interleaved with the others: before and after
#
# Podman gets its own --root/--runroot/--tmpdir and --network-config-dir under the work dir, the
# busybox image berth has (`berth save | podman load`), --cgroup-manager cgroupfs and rlimits this
# machine allows. Everything runs in one private mount namespace where
# /sys/fs/cgroup/unified/cgroup.controllers reads empty (crun, Podman's runtime, refuses this hybrid
# cgroup host otherwise; see bench/engine.sh). berth and podman run under nsenter --net, not
# ip netns exec, whose fresh /sys hides the cgroup mounts from the runtimes.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "network: run as root" >&2; exit 1; }
if [ -z "${_NET_BENCH_WORK:-}" ]; then
	work=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
	mkdir -p "$work/bin"
	bin=${BIN:-}
	if [ -z "$bin" ]; then
		bash hack/build.sh >/dev/null # as shipped (a static berth-runtime)
		bin=bin
	fi
	cp "$bin/berth" "$bin/berth-runtime" "$bin/berth-monitor" "$bin/berth-init" "$work/bin/"
	if [ -n "${OLD_BIN:-}" ]; then
		mkdir -p "$work/old"
		cp "$OLD_BIN/berth" "$OLD_BIN/berth-runtime" "$OLD_BIN/berth-monitor" "$OLD_BIN/berth-init" "$work/old/"
	fi
	CGO_ENABLED=0 go build -o "$work/bin/tcpsend" ./bench/tcpsend
	: >"$work/empty"
	export _NET_BENCH_WORK=$work
	rc=0
	unshare -m --propagation private "$0" "$@" || rc=$?
	rm -rf "$work"
	exit "$rc"
fi
work=$_NET_BENCH_WORK
[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && mount --bind "$work/empty" /sys/fs/cgroup/unified/cgroup.controllers
ns=berth-bench-$$
runs=${RUNS:-20} mb=${MB:-512}
printf '[network]\ndns_upstream = ["192.0.2.53"]\n' >"$work/berth.toml"
export BERTH_CONFIG=$work/berth.toml
in_ns() { nsenter --net=/run/netns/"$ns" "$@"; }
b() { in_ns "$work/bin/berth" --root "$work/root" --runroot "$work/run" "$@"; }
# The older build in a namespace of its own: both name their default bridge berth0.
bold() { nsenter --net=/run/netns/"$ns-old" "$work/old/berth" --root "$work/oroot" --runroot "$work/orun" "$@"; }
have_old=0
[ -x "$work/old/berth" ] && have_old=1
have_podman=0
[ "${PODMAN:-1}" != 0 ] && command -v podman >/dev/null && have_podman=1
# p BACKEND ARGS: podman with one network backend, all its state under the work dir.
p() {
	local backend=$1
	shift
	nsenter --net=/run/netns/"$ns-$backend" podman --root "$work/proot-$backend" --runroot "$work/prun-$backend" --tmpdir "$work/ptmp-$backend" \
		--network-config-dir "$work/pnet-$backend" --network-backend "$backend" \
		--storage-driver overlay --cgroup-manager cgroupfs --events-backend file "$@"
}
pu=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
backends=()
if [ "$have_podman" = 1 ]; then
	[ -x /usr/lib/cni/bridge ] && backends+=(cni)
	[ -x /usr/lib/podman/netavark ] && backends+=(netavark)
fi

cleanup() {
	local rc=$? m
	trap - EXIT
	# shellcheck disable=SC2046
	b rm -f $(b ps -aq 2>/dev/null) >/dev/null 2>&1 || true
	# shellcheck disable=SC2046
	[ "$have_old" = 1 ] && bold rm -f $(bold ps -aq 2>/dev/null) >/dev/null 2>&1 || true
	for be in "${backends[@]}"; do
		p "$be" rm -fa -t 0 >/dev/null 2>&1 || true
		p "$be" network rm -f benchdns >/dev/null 2>&1 || true
	done
	for m in $(awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	for n in "$ns" "$ns-old" "$ns-cni" "$ns-netavark"; do
		ip netns del "$n" 2>/dev/null || true
	done
	exit "$rc"
}
trap cleanup EXIT
# One namespace per engine (berth, the older build, each podman backend): each names its default
# bridge and subnet the same way (berth0, cni-podman0 and podman0 both on 10.88.0.0/16). Each has
# loopback and an address of its own for the published ports (what a client on the host connects
# to; 127.0.0.1 needs route_localnet, which netavark 1.4 does not set), on a veth pair with both
# ends in it (this kernel has no dummy links).
hostaddr=198.18.0.1
mkns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip -n "$1" link add bench0 type veth peer name bench1
	ip -n "$1" addr add "$hostaddr/32" dev bench0
	ip -n "$1" link set bench0 up
	ip -n "$1" link set bench1 up
}
mkns "$ns"
[ "$have_old" = 1 ] && mkns "$ns-old"
for be in "${backends[@]}"; do mkns "$ns-$be"; done

mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true nc sleep nslookup seq; do ln "$work/rootfs/bin/busybox" "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
b import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
[ "$have_old" = 1 ] && bold import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
b save -o "$work/busybox.tar" busybox:latest
for be in "${backends[@]}"; do
	p "$be" load -q -i "$work/busybox.tar" >/dev/null
done

ms() { # microseconds as milliseconds
	local v=$1 sign=
	[ "$v" -lt 0 ] && sign=- v=$((-v))
	printf '%s%d.%03d' "$sign" $((v / 1000)) $((v % 1000))
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "machine: $(nproc) cores, $(uname -r), load before $(cut -d' ' -f1-3 /proc/loadavg)"

# --- 1. run --rm true ---------------------------------------------------------------------------
labels=(berth-bridge berth-none)
[ "$have_old" = 1 ] && labels+=(berth-old-bridge berth-old-none)
for be in "${backends[@]}"; do labels+=("podman-$be" "podman-$be-none"); done
runone() {
	case $1 in
	berth-bridge) b run --rm busybox true ;;
	berth-none) b run --rm --network none busybox true ;;
	berth-old-bridge) bold run --rm --network bridge busybox true ;; # an older build: its default may be none
	berth-old-none) bold run --rm --network none busybox true ;;
	podman-*-none) p "$(cut -d- -f2 <<<"$1")" run --rm "${pu[@]}" --network none busybox true ;;
	podman-*) p "${1#podman-}" run --rm "${pu[@]}" busybox true ;;
	esac
}
for l in "${labels[@]}"; do
	runone "$l" # warm: the bridge, its chains, the default network
	: >"$work/t-$l"
done
for _ in $(seq "$runs"); do
	for l in "${labels[@]}"; do
		s=$(date +%s%N)
		runone "$l"
		echo $((($(date +%s%N) - s) / 1000)) >>"$work/t-$l"
	done
done
echo "run --rm busybox true, median of $runs (ms):"
for l in "${labels[@]}"; do
	[[ $l == *-none ]] && continue
	net=$(median "$work/t-$l")
	none=$(median "$work/t-${l%-bridge}-none")
	printf '  %-16s network %8s  --network none %8s  the network adds %s\n' "$l" "$(ms "$net")" "$(ms "$none")" "$(ms $((net - none)))"
done

# --- 2. TCP throughput through a published port --------------------------------------------------
sink() { # ENGINE PORT: a container that reads one connection to the end
	case $1 in
	berth) b run -d -p "$2:5000" busybox sh -c "nc -l -p 5000 >/dev/null" >/dev/null ;;
	*) p "$1" run -d "${pu[@]}" -p "$2:5000" busybox sh -c "nc -l -p 5000 >/dev/null" >/dev/null ;;
	esac
}
echo "TCP host -> container through -p HOST:5000 (to $hostaddr, the namespace's), $mb MiB, median of 3 (MB/s):"
port=18000
for eng in berth "${backends[@]}"; do
	: >"$work/tp-$eng"
	for _ in 1 2 3; do
		port=$((port + 1))
		sink "$eng" "$port"
		n=$ns
		[ "$eng" = berth ] || n=$ns-$eng
		nsenter --net=/run/netns/"$n" "$work/bin/tcpsend" -mb "$mb" "$hostaddr:$port" >>"$work/tp-$eng" || echo 0 >>"$work/tp-$eng"
	done
	label=$eng
	[ "$eng" = berth ] || label=podman-$eng
	printf '  %-16s %s\n' "$label" "$(median "$work/tp-$eng")"
done
# The sinks exited with their connection; --rm was not given, so that -d returns at once.
# shellcheck disable=SC2046
b rm -f $(b ps -aq) >/dev/null
for be in "${backends[@]}"; do p "$be" rm -fa -t 0 >/dev/null; done

# --- 3. name lookup latency ------------------------------------------------------------------------
# ms per lookup of a container's name from another container of the same user network: LOOKUPS
# lookups (busybox nslookup, one process each) timed inside one exec, less an exec of none.
lookups=${LOOKUPS:-200}
lookup() { # ENGINE: exec in "client" of a loop of $1 lookups of "server"
	local eng=$1 n=$2
	case $eng in
	berth) b exec client sh -c "for i in \$(seq $n); do nslookup server >/dev/null || exit 1; done" ;;
	*) p "$eng" exec client sh -c "for i in \$(seq $n); do nslookup server >/dev/null || exit 1; done" ;;
	esac
}
echo "name lookup, container -> container on a user network, $lookups lookups (ms each):"
# berth: the container's monitor answers on 127.0.0.11 (docs/dns.md).
b network create benchdns >/dev/null
b run -d --name server --network benchdns busybox sleep 600 >/dev/null
b run -d --name client --network benchdns busybox sleep 600 >/dev/null
lookup berth 1 || true # the listener is up
s=$(date +%s%N)
lookup berth 0
zero=$(($(date +%s%N) - s))
s=$(date +%s%N)
if lookup berth "$lookups"; then
	all=$(($(date +%s%N) - s))
	printf '  %-16s %s\n' berth "$(ms $(((all - zero) / lookups / 1000)))"
else
	printf '  %-16s %s\n' berth "lookup failed"
fi
b rm -f server client >/dev/null
b network rm benchdns >/dev/null
for be in "${backends[@]}"; do
	[ "$be" = netavark ] || continue # CNI's dnsname plugin is not packaged in Debian
	p "$be" network create benchdns >/dev/null 2>&1
	p "$be" run -d "${pu[@]}" --name server --network benchdns busybox sleep 600 >/dev/null 2>&1
	p "$be" run -d "${pu[@]}" --name client --network benchdns busybox sleep 600 >/dev/null 2>&1
	lookup "$be" 1 2>/dev/null # aardvark-dns is up
	s=$(date +%s%N)
	lookup "$be" 0 2>/dev/null
	zero=$(($(date +%s%N) - s))
	s=$(date +%s%N)
	if lookup "$be" "$lookups" 2>/dev/null; then
		all=$(($(date +%s%N) - s))
		printf '  %-16s %s\n' "podman-$be" "$(ms $(((all - zero) / lookups / 1000)))"
	else
		printf '  %-16s %s\n' "podman-$be" "lookup failed"
	fi
	p "$be" rm -fa -t 0 >/dev/null 2>&1
	p "$be" network rm benchdns >/dev/null 2>&1
done
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
