#!/bin/bash
# Times `berth run --rm busybox true` on the default bridge against
# --network none, interleaved, RUNS times each, inside a network namespace
# of the bench's own (issue 12: NAT, ip_forward and iptables changes stay
# in it); prints medians and what the network adds (the issue's target:
# 20 ms). The busybox image is imported from a rootfs of the host's
# busybox. berth runs under nsenter --net, not ip netns exec, whose fresh
# /sys hides the cgroup mounts from the runtime.
#
#   bench/network.sh            # RUNS=20
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
work=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
ns=berth-bench-$$
cleanup() {
	if [ -x "$work/bin/berth" ]; then
		nsenter --net=/run/netns/"$ns" "$work/bin/berth" --root "$work/root" --runroot "$work/run" rm -f \
			$(nsenter --net=/run/netns/"$ns" "$work/bin/berth" --root "$work/root" --runroot "$work/run" ps -aq) >/dev/null 2>&1 || true
	fi
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin" "$work/rootfs/bin"
bash hack/build.sh >/dev/null # as shipped (a static berth-runtime)
cp bin/berth bin/berth-runtime bin/berth-monitor bin/berth-init "$work/bin/"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
ip netns add "$ns"
ip -n "$ns" link set lo up
printf '[network]\ndns_upstream = ["192.0.2.53"]\n' >"$work/berth.toml"
export BERTH_CONFIG="$work/berth.toml"
b() { nsenter --net=/run/netns/"$ns" "$work/bin/berth" --root "$work/root" --runroot "$work/run" "$@"; }
b import "$work/rootfs.tar" busybox:latest >/dev/null
b run --rm --network bridge busybox true # the bridge and its chains, once
echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
runs=${RUNS:-20}
: >"$work/none" && : >"$work/bridge"
for _ in $(seq "$runs"); do
	for mode in none bridge; do
		s=$(date +%s%N)
		b run --rm --network "$mode" busybox true
		echo $((($(date +%s%N) - s) / 1000)) >>"$work/$mode"
	done
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
n=$(median "$work/none")
br=$(median "$work/bridge")
printf 'run --rm true, median of %d: --network none %d.%03d ms, bridge %d.%03d ms: the network adds %d ms\n' \
	"$runs" $((n / 1000)) $((n % 1000)) $((br / 1000)) $((br % 1000)) $(((br - n) / 1000))
