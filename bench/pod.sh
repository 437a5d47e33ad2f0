#!/bin/bash
# A pod's life, berth side by side with Podman (Debian 4.3, CNI backend), one run (issue 15): `pod
# create -p 8080:80` on the default network, two containers started in it (`run -d --pod P busybox
# sleep 100`), `pod rm -f`, RUNS times each, interleaved, every engine in a network namespace of the
# bench's own with loopback only (the bridges, NAT and iptables changes stay there). Medians, and
# berth's as a share of Podman's.
#
#   bench/pod.sh                   # RUNS=10
#
# One run here (2 cores, load ~1, 2026-12): berth 322 ms, podman 940 ms, 0.34x. Most of berth's is
# the CNI plugins of the pod's one attachment (the portmap DEL alone runs iptables a dozen times).
#   BIN=DIR bench/pod.sh           # berth's binaries from DIR instead of building them
#
# Podman has no pause image here (no catatonit to build localhost/podman-pause from, and no
# registry): it gets berth's own infra image (`berth save localhost/berth-pause | podman load`) as
# --infra-image, the same /pause process. `pod rm -f -t 0` for Podman, since berth's rm -f kills at
# once and busybox sleep as pid 1 ignores SIGTERM. Podman runs with its own roots, cgroupfs and the
# rlimits this machine allows (containers.conf's default_ulimits for its infra), in a private mount namespace where the hybrid host's cgroup2
# controllers file reads empty (crun refuses the host otherwise; see bench/engine.sh).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "pod: run as root" >&2; exit 1; }
if [ -z "${_POD_BENCH_WORK:-}" ]; then
	work=$(mktemp -d /tmp/berth-bench-pod.XXXXXX)
	mkdir -p "$work/bin"
	bin=${BIN:-}
	if [ -z "$bin" ]; then
		bash hack/build.sh >/dev/null
		bin=bin
	fi
	cp "$bin/berth" "$bin/berth-runtime" "$bin/berth-monitor" "$bin/berth-init" "$work/bin/"
	: >"$work/empty"
	export _POD_BENCH_WORK=$work
	rc=0
	unshare -m --propagation private "$0" "$@" || rc=$?
	rm -rf "$work"
	exit "$rc"
fi
work=$_POD_BENCH_WORK
[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && mount --bind "$work/empty" /sys/fs/cgroup/unified/cgroup.controllers
ns=berth-bench-pod-$$
runs=${RUNS:-10}
printf '[network]\ndns_upstream = ["192.0.2.53"]\n' >"$work/berth.toml"
export BERTH_CONFIG=$work/berth.toml
b() { nsenter --net=/run/netns/"$ns" "$work/bin/berth" --root "$work/root" --runroot "$work/run" "$@"; }
have_podman=0
command -v podman >/dev/null && [ -x /usr/lib/cni/bridge ] && have_podman=1
p() {
	nsenter --net=/run/netns/"$ns-podman" podman --root "$work/proot" --runroot "$work/prun" --tmpdir "$work/ptmp" \
		--network-config-dir "$work/pnet" --network-backend cni \
		--storage-driver overlay --cgroup-manager cgroupfs --events-backend file "$@"
}
pu=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
# The infra container takes no --ulimit: containers.conf's defaults, within what root may set here.
printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf

cleanup() {
	local rc=$? m
	trap - EXIT
	b pod rm -a -f >/dev/null 2>&1 || true
	[ "$have_podman" = 1 ] && { p pod rm -a -f -t 0 >/dev/null 2>&1 || true; }
	for m in $(awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	ip netns del "$ns" 2>/dev/null || true
	ip netns del "$ns-podman" 2>/dev/null || true
	exit "$rc"
}
trap cleanup EXIT
for n in "$ns" "$ns-podman"; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done

mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln "$work/rootfs/bin/busybox" "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
b import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
# The first pod makes berth's infra image.
b pod create --network none warm >/dev/null
b pod rm warm >/dev/null
pause=$(b images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/berth-pause:')
if [ "$have_podman" = 1 ]; then
	b save -o "$work/images.tar" busybox:latest "$pause"
	p load -q -i "$work/images.tar" >/dev/null
fi

median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
echo "machine: $(nproc) cores, $(uname -r), load before $(cut -d' ' -f1-3 /proc/loadavg)"

flow() { # ENGINE: one pod's life
	case $1 in
	berth)
		b pod create --name bp -p 8080:80 >/dev/null
		b run -d --pod bp busybox sleep 100 >/dev/null
		b run -d --pod bp busybox sleep 100 >/dev/null
		b pod rm -f bp >/dev/null
		;;
	podman)
		p pod create --name bp -p 8080:80 --infra-image "$pause" >/dev/null
		p run -d --pod bp "${pu[@]}" busybox sleep 100 >/dev/null
		p run -d --pod bp "${pu[@]}" busybox sleep 100 >/dev/null
		p pod rm -f -t 0 bp >/dev/null
		;;
	esac
}
engines=(berth)
[ "$have_podman" = 1 ] && engines+=(podman)
for eng in "${engines[@]}"; do
	flow "$eng" # warm: the bridge, its chains
	: >"$work/t-$eng"
done
for _ in $(seq "$runs"); do
	for eng in "${engines[@]}"; do
		s=$(date +%s%N)
		flow "$eng"
		echo $((($(date +%s%N) - s) / 1000)) >>"$work/t-$eng"
	done
done
echo "pod create -p + 2 x run -d --pod + pod rm -f, median of $runs (ms):"
for eng in "${engines[@]}"; do
	printf '  %-8s %s\n' "$eng" "$(ms "$(median "$work/t-$eng")")"
done
if [ "$have_podman" = 1 ]; then
	bm=$(median "$work/t-berth") pm=$(median "$work/t-podman")
	awk -v b="$bm" -v p="$pm" 'BEGIN {printf "  berth / podman: %.2fx\n", b / p}'
fi
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
