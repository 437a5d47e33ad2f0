#!/bin/bash
# What health checks cost: HC_N containers (default 50), each with `--health-cmd true
# --health-interval 1s`, measured for HC_SECS seconds (default 30) once all are healthy.
# The CPU is read from /proc/PID/stat of every berth-monitor: its own utime+stime (the monitor's
# loop: the fork of each check, timers, the state file, events) and its children's
# cutime+cstime (each check: joining the container's cgroups and namespaces, the runtime's
# plan, the exec and the command itself; with runc or crun the runtime's `exec --detach` too:
# the monitor reaps them all, so their time lands there).
# Printed: checks run, CPU per check (own and children's), and the share of one core.
#
#   bench/health.sh                 # HC_N=50 HC_SECS=30
#   HC_N=10 HC_SECS=10 bench/health.sh   # quick
#   HC_OPTS="--security-opt seccomp=unconfined" bench/health.sh   # more run options: what costs what
#
# The roots are throwaway ones under /tmp, in a private mount namespace; everything started
# is removed at the end.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "health: run as root" >&2; exit 1; }
if [ -z "${_HEALTH_BENCH_NS:-}" ]; then
	hack/build.sh
	work=$(mktemp -d /tmp/berth-bench-health.XXXXXX)
	: >"$work/berth.toml"
	export _HEALTH_BENCH_NS=$work
	exec unshare -m --propagation private "$0" "$@"
fi
work=$_HEALTH_BENCH_NS
n=${HC_N:-50} secs=${HC_SECS:-30}
read -r -a opts <<<"${HC_OPTS:-}"
export BERTH_CONFIG=$work/berth.toml
berth=(bin/berth --root "$work/broot" --runroot "$work/brun")
# The run root on a tmpfs, as /run is: the state file and the pid file are written there at
# every check.
mkdir -p "$work/brun"
mount -t tmpfs -o mode=0700 berth-bench-run "$work/brun"

monitors() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
		[[ $cmd == *berth-monitor*"$work"* ]] && echo "${p#/proc/}"
	done
	return 0
}
ours() {
	local p cmd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
		cmd=$( { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null) || continue
		[[ $cmd == *"$work"* ]] && echo "$p"
	done
	return 0
}
cleanup() {
	local rc=$? pids m
	trap - EXIT
	echo "cleaning up" >&2
	# shellcheck disable=SC2046
	"${berth[@]}" rm -f $("${berth[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
	for _ in $(seq 50); do
		pids=$(ours)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		sleep 0.1
	done
	[ -n "$(ours)" ] && { echo "health: processes left: $(ours)" >&2; rc=1; }
	for m in $(awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

# cpu PIDS: "own children" in clock ticks, summed over the monitors.
cpu() {
	local own=0 kids=0 p f
	for p in "$@"; do
		f=$(cut -d' ' -f14-17 "/proc/$p/stat" 2>/dev/null) || continue
		read -r u s cu cs <<<"$f"
		own=$((own + u + s)) kids=$((kids + cu + cs))
	done
	echo "$own $kids"
}

echo "setting up" >&2
go run ./test/fixture/cmd/mkbundle "$work/bundle" true >/dev/null
tar -C "$work/bundle/rootfs" -c . >"$work/busybox.tar"
"${berth[@]}" import -c 'CMD ["sh"]' - busybox:latest <"$work/busybox.tar" >/dev/null
echo "starting $n containers with a 1 s health check" >&2
for i in $(seq "$n"); do
	"${berth[@]}" run -d --network none --name "hc$i" "${opts[@]}" --health-cmd true --health-interval 1s busybox sleep 100000 >/dev/null
done
for _ in $(seq 300); do
	[ "$("${berth[@]}" ps --format '{{.Status}}' | grep -c '(healthy)')" = "$n" ] && break
	sleep 0.2
done
healthy=$("${berth[@]}" ps --format '{{.Status}}' | grep -c '(healthy)' || true)
[ "$healthy" = "$n" ] || { echo "health: only $healthy of $n containers became healthy" >&2; exit 1; }
mapfile -t mons < <(monitors)
[ "${#mons[@]}" = "$n" ] || { echo "health: ${#mons[@]} monitors for $n containers" >&2; exit 1; }
hz=$(getconf CLK_TCK)
# The checks' real period (interval + the check's own time, as in Docker: the interval runs
# from the end of one check), from the spacing of the last results kept.
period() {
	"${berth[@]}" inspect "$@" | python3 -c '
import datetime, json, re, sys
def t(s):  # RFC 3339 with nanoseconds: Python takes microseconds
	s = re.sub(r"(\.\d{6})\d*", r"\1", s.replace("Z", "+00:00"))
	return datetime.datetime.fromisoformat(s).timestamp()
gaps = []
for c in json.load(sys.stdin):
	st = [t(r["Start"]) for r in c["State"]["Health"]["Log"]]
	gaps += [b - a for a, b in zip(st, st[1:])]
print("%.6f" % (sum(gaps) / len(gaps)))'
}
read -r own0 kids0 <<<"$(cpu "${mons[@]}")"
t0=$(date +%s%N)
sleep "$secs"
read -r own1 kids1 <<<"$(cpu "${mons[@]}")"
t1=$(date +%s%N)
# shellcheck disable=SC2046
p=$(period $("${berth[@]}" ps -q))
awk -v extra="${HC_OPTS:+ $HC_OPTS}" -v n="$n" -v own=$((own1 - own0)) -v kids=$((kids1 - kids0)) -v hz="$hz" -v wall=$(((t1 - t0) / 1000)) -v p="$p" '
	BEGIN {
		wall /= 1e6; checks = n * wall / p
		ownms = own * 1000 / hz; kidsms = kids * 1000 / hz
		printf "health checks: %d containers, --health-interval 1s%s, %.1f s measured (period %.3f s)\n", n, extra, wall, p
		printf "  checks run          %8.0f\n", checks
		printf "  CPU per check       %8.3f ms  (monitor %.3f ms, the check: joining, plan, exec, run %.3f ms)\n", (ownms + kidsms) / checks, ownms / checks, kidsms / checks
		printf "  share of one core   %8.2f %%   (target: at most 1 %%)\n", (ownms + kidsms) / (wall * 1000) * 100
	}'
