#!/bin/bash
# Idle memory of container monitors: N (default 50) berth-monitors and N conmons (Podman's, at
# /usr/bin/conmon), each watching a container that sleeps, all up at once in one run, both with
# berth-runtime as the OCI runtime (RUNTIME=runc for runc) and a k8s-file log. Prints the mean
# RSS and PSS per monitor from /proc/PID/smaps_rollup and the ratio berth / conmon.
#
#   bench/monitor-mem.sh          # N=50
#
# PSS divides each shared page by the processes that map it: the figure for one monitor among
# N running ones is what a host with N containers pays per container.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "monitor-mem: run as root" >&2; exit 1; }
command -v conmon >/dev/null || { apt-get update -qq && apt-get install -y -qq conmon >/dev/null; }
n=${N:-50}
if [ -z "${BERTH_RUNTIME_BINARY:-}" ] || [ -z "${BERTH_MONITOR_BINARY:-}" ]; then
	hack/build.sh
fi
berth=${BERTH_RUNTIME_BINARY:-$repo/bin/berth-runtime}
monitor=${BERTH_MONITOR_BINARY:-$repo/bin/berth-monitor}
runtime=$berth
[ "${RUNTIME:-}" = runc ] && runtime=$(command -v runc)
work=$(mktemp -d /tmp/berth-monmem.XXXXXX)
# ours: pids of this run's processes (monitors, conmons, runtime calls: all name $work in their
# arguments), never this shell.
ours() {
	local p cmd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
		cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		[[ $cmd == *"$work"* ]] && echo "$p"
	done
	return 0
}
# leftovers: cgroups and processes of this run (container ids carry $$).
leftovers() {
	find /sys/fs/cgroup -depth -type d -name "*monmem-*-$$-*" 2>/dev/null || true
	ours
}
cleanup() {
	local rc=$? pids left
	trap - EXIT
	# First stop everything that can still create a container: a create still running (conmon
	# returns before its create is done) would otherwise make a container after the list below,
	# its init waiting on the exec fifo with its state dir gone. Monitors first, so that none
	# starts a runtime call while we kill the runtime calls.
	for _ in $(seq 100); do
		pids=$(ours)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		sleep 0.05
	done
	# Only then are the state roots complete: delete every container in them.
	for r in "$work"/root-*; do
		[ -d "$r" ] || continue
		for id in $("$runtime" --root "$r" list -q 2>/dev/null); do
			"$runtime" --root "$r" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	left=$(leftovers)
	if [ -n "$left" ]; then
		# A bug in this script or the runtime: say so, then clear the machine anyway.
		echo "monitor-mem: left after cleanup (removing):" >&2
		echo "$left" >&2
		for c in $(find /sys/fs/cgroup -depth -type d -name "*monmem-*-$$-*" 2>/dev/null); do
			# shellcheck disable=SC2046
			kill -9 $(cat "$c/cgroup.procs" 2>/dev/null) 2>/dev/null || true
		done
		sleep 0.2
		find /sys/fs/cgroup -depth -type d -name "*monmem-*-$$-*" -exec rmdir {} + 2>/dev/null || true
		rc=1
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
go run ./test/fixture/cmd/mkbundle "$work/base" sleep 100000 >/dev/null
rootfs=$work/base/rootfs

# bundle DIR: a bundle sharing the base's read-only rootfs.
bundle() {
	mkdir -p "$1"
	sed "s|\"path\": \"rootfs\"|\"path\": \"$rootfs\"|" "$work/base/config.json" >"$1/config.json"
}

start_berth() {
	local i=$1 d=$work/berth-$1 id=monmem-b-$$-$1
	bundle "$d/bundle"
	_BERTH_MONITOR=1 "$monitor" --runtime "$runtime" --runtime-root "$work/root-b" \
		--runtime-log "$d/runtime.log" --id "$id" --bundle "$d/bundle" --pid-file "$d/pid" \
		--exit-file "$d/exit" --attach-socket "$d/attach" \
		--log-driver k8s-file --log-path "$d/ctr.log" 3>"$d/sync" </dev/null >/dev/null 2>"$d/monitor.err"
	# The monitor reports "pid N" (or an error) and closes the sync pipe.
	for _ in $(seq 200); do grep -q '^\(pid\|error\)' "$d/sync" && break; sleep 0.01; done
	grep -q '^pid' "$d/sync" || { echo "berth-monitor $i: $(cat "$d/sync")" >&2; exit 1; }
	sed -n 's/^monitor //p' "$d/sync" >"$d/monitor.pid"
	"$runtime" --root "$work/root-b" start "$id"
}

start_conmon() {
	local i=$1 d=$work/conmon-$1 id=monmem-c-$$-$1
	bundle "$d/bundle"
	mkdir -p "$d/exit" "$d/sock"
	conmon --api-version 1 -c "$id" -u "$id" -n "$id" -r "$runtime" -b "$d/bundle" -p "$d/pid" \
		-P "$d/monitor.pid" --exit-dir "$d/exit" -l "k8s-file:$d/ctr.log" --socket-dir-path "$d/sock" \
		--runtime-arg --root --runtime-arg "$work/root-c" --log-level error </dev/null >/dev/null 2>"$d/monitor.err"
	# Without Podman's sync pipe conmon returns before the create is done: wait for the pid file.
	for _ in $(seq 200); do [ -s "$d/pid" ] && break; sleep 0.01; done
	[ -s "$d/pid" ] || { echo "conmon $i: no container pid: $(cat "$d/monitor.err")" >&2; exit 1; }
	"$runtime" --root "$work/root-c" start "$id"
}

# Interleaved, so that neither set has the machine to itself.
for i in $(seq "$n"); do
	start_berth "$i"
	start_conmon "$i"
done
sleep 2

# measure KIND: mean RSS, PSS and private (anonymous + file) kB over the monitors of that kind,
# after checking that each one's container still sleeps.
measure() {
	local kind=$1 rss=0 pss=0 priv=0 count=0
	for d in "$work"/"$kind"-*; do
		local pid init
		pid=$(cat "$d/monitor.pid")
		init=$(cat "$d/pid")
		[ -d "/proc/$init" ] || { echo "$kind: container $init of $d is gone" >&2; exit 1; }
		read -r r p pv < <(awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_(Clean|Dirty):/{v+=$2} END{print r, p, v}' "/proc/$pid/smaps_rollup")
		rss=$((rss + r)) pss=$((pss + p)) priv=$((priv + pv)) count=$((count + 1))
	done
	echo "$kind $count $rss $pss $priv"
}
echo "machine: $(nproc) cores, $(uname -r), $n monitors of each kind, runtime $(basename "$runtime")"
{
	measure berth
	measure conmon
} | awk '{n[$1]=$2; r[$1]=$3/$2/1024; p[$1]=$4/$2/1024; v[$1]=$5/$2/1024
	printf "%-14s %3d monitors   RSS %.2f MiB   PSS %.2f MiB   private %.2f MiB (mean per monitor)\n", \
		($1=="berth" ? "berth-monitor" : "conmon"), $2, r[$1], p[$1], v[$1]}
	END {printf "ratio berth-monitor / conmon:   RSS %.2fx   PSS %.2fx\n", r["berth"]/r["conmon"], p["berth"]/p["conmon"]}'
