#!/bin/bash
# The berth engine CLI side by side with Podman (and Docker when a daemon answers) on the same
# busybox image (the test fixture's rootfs, imported into throwaway roots), one run each:
#   1. run --rm --network none busybox true: N sequential (median, p90) and CONC at once
#      (wall / CONC, median), plus `berth-runtime run` of a plain bundle sequentially: the engine's
#      own overhead on top of its runtime;
#   2. ps -a with PS_N containers in the store (PODMAN_PS_N for podman), median of 20;
#   3. monitor memory: MON_N idle containers each, RSS and PSS of berth-monitor vs conmon;
#   4. logs: a container that wrote LOG_MB MB, `logs > /dev/null`; `logs -f` of one that writes
#      LOG_MB MB as fast as it can, started right after run -d, until it ends;
#   5. stats --no-stream -a with phase 3's MON_N running containers each, median of 10.
#
#   bench/engine.sh        # FOLLOW_TIMEOUT=120 (s, bounds podman logs -f, which never ends here)
#                          # N=100 CONC=16 PS_N=1000 PODMAN_PS_N=1000 MON_N=50 LOG_MB=100
#   N=20 PS_N=200 PODMAN_PS_N=100 MON_N=10 LOG_MB=10 bench/engine.sh   # quick
#
# Everything runs in one private mount namespace where /sys/fs/cgroup/unified/cgroup.controllers
# reads empty (crun, Podman's runtime, refuses this hybrid cgroup host otherwise; see
# runtime-startup.sh); roots are throwaway ones under /tmp, never the machine's stores.
# Podman gets --ulimit nofile/nproc=4096 (its defaults are above this machine's hard limits).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "engine: run as root" >&2; exit 1; }
if [ -z "${_ENGINE_BENCH_NS:-}" ]; then
	hack/build.sh
	go build -o bin/berth ./cmd/berth
	work=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
	go build -o "$work/timer" ./bench/timer
	: >"$work/empty"
	# No log rotation (Podman's default here, max_log_size = -1): berth's default 20MiB x 5 would
	# keep only the last ~38 MB of phase 4's 100 MB.
	printf '[log]\nmax_size = 0\n' >"$work/berth.toml"
	export _ENGINE_BENCH_NS=$work
	exec unshare -m --propagation private "$0" "$@"
fi
work=$_ENGINE_BENCH_NS
[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && mount --bind "$work/empty" /sys/fs/cgroup/unified/cgroup.controllers
n=${N:-100} conc=${CONC:-16} psn=${PS_N:-1000} ppsn=${PODMAN_PS_N:-1000} monn=${MON_N:-50} logmb=${LOG_MB:-100}
export BERTH_CONFIG=$work/berth.toml
berth=(bin/berth --root "$work/broot" --runroot "$work/brun")
podman=(podman --root "$work/proot" --runroot "$work/prun" --storage-driver overlay
	--cgroup-manager cgroupfs --events-backend none)
pu=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
T=$work/timer
rep=$work/report

# ours: pids whose command line names $work (monitors, conmons, runtimes), never this shell.
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
	"${podman[@]}" rm -fa -t 0 >/dev/null 2>&1 || true
	for _ in $(seq 50); do
		pids=$(ours)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		sleep 0.1
	done
	[ -n "$(ours)" ] && { echo "engine: processes left: $(ours)" >&2; rc=1; }
	for m in $(awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

ms_now() { echo $(($(date +%s%N) / 1000000)); }
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)
have_docker=0
docker info >/dev/null 2>&1 && have_docker=1

echo "setting up images" >&2
go run ./test/fixture/cmd/mkbundle "$work/bundle" true >/dev/null
tar -C "$work/bundle/rootfs" -c . >"$work/busybox.tar"
"${berth[@]}" import -c 'CMD ["sh"]' - busybox:latest <"$work/busybox.tar" >/dev/null
"${podman[@]}" import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null
# Warm up.
"${berth[@]}" run --rm --network none busybox true
"${podman[@]}" run --rm --network none "${pu[@]}" busybox true
bin/berth-runtime --root "$work/rtroot" run --bundle "$work/bundle" warm

# 1. run --rm.
echo "1: $n sequential runs each, $conc at once" >&2
# Sequential, interleaved in blocks of 10 so that noise hits all alike.
for ((b = 0; b < n; b += 10)); do
	k=$((n - b < 10 ? n - b : 10))
	$T -n $k -out "$work/seq-berth" -- "${berth[@]}" run --rm --network none busybox true >/dev/null
	$T -n $k -out "$work/seq-podman" -- "${podman[@]}" run --rm --network none "${pu[@]}" busybox true >/dev/null
	$T -n $k -out "$work/seq-runtime" -- bin/berth-runtime --root "$work/rtroot" run --bundle "$work/bundle" "s$b-{}" >/dev/null
	[ $have_docker = 0 ] || $T -n $k -out "$work/seq-docker" -- docker run --rm --network none busybox true >/dev/null
done
{
	$T -sum "$work/seq-berth" -label berth
	$T -sum "$work/seq-podman" -label podman
	[ $have_docker = 0 ] || $T -sum "$work/seq-docker" -label docker
	$T -sum "$work/seq-runtime" -label berth-runtime
} >"$work/seq"
{
	$T -n "$conc" -p "$conc" -label berth -- "${berth[@]}" run --rm --network none busybox true
	$T -n "$conc" -p "$conc" -label podman -- "${podman[@]}" run --rm --network none "${pu[@]}" busybox true
	[ $have_docker = 0 ] || $T -n "$conc" -p "$conc" -label docker -- docker run --rm --network none busybox true
	$T -n "$conc" -p "$conc" -label berth-runtime -- bin/berth-runtime --root "$work/rtroot" run --bundle "$work/bundle" "c{}"
} >"$work/conc"

# 2. ps -a with many containers.
echo "2: ps -a with $psn berth and $ppsn podman containers" >&2
$T -n "$psn" -p 4 -label berth-create -- "${berth[@]}" create --network none busybox true >"$work/create"
$T -n 20 -label berth -- "${berth[@]}" ps -a >"$work/ps"
if [ "$ppsn" -gt 0 ]; then
	$T -n "$ppsn" -p 4 -label podman-create -- "${podman[@]}" create --network none "${pu[@]}" busybox true >>"$work/create"
	$T -n 20 -label podman -- "${podman[@]}" ps -a >>"$work/ps"
fi
bcount=$("${berth[@]}" ps -aq | wc -l)
pcount=$("${podman[@]}" ps -aq | wc -l)
# shellcheck disable=SC2046
"${berth[@]}" rm -f $("${berth[@]}" ps -aq) >/dev/null
"${podman[@]}" rm -fa -t 0 >/dev/null || true

# 3. Monitor memory.
echo "3: $monn idle containers each" >&2
for i in $(seq "$monn"); do
	"${berth[@]}" run -d --network none busybox sleep 3600 >/dev/null
	"${podman[@]}" run -d --network none "${pu[@]}" busybox sleep 3600 >/dev/null
done
sleep 2
# mem COMM: count, RSS and PSS sums (kB) of our processes named COMM.
mem() {
	local p c=0 r=0 s=0 rr ss
	for p in $(ours); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] || continue
		read -r rr ss < <(awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{print r, p}' "/proc/$p/smaps_rollup")
		c=$((c + 1)) r=$((r + rr)) s=$((s + ss))
	done
	echo "$1 $c $r $s"
}
{ mem berth-monitor; mem conmon; } >"$work/mem"
brun=$("${berth[@]}" ps -q | wc -l)
prun=$("${podman[@]}" ps -q | wc -l)
# 5. stats of the same running containers, median of 10 each.
echo "5: stats --no-stream -a with $monn running containers each" >&2
{
	$T -n 10 -label berth-stats -- "${berth[@]}" stats --no-stream -a
	$T -n 10 -label podman-stats -- "${podman[@]}" stats --no-stream -a
} >"$work/stats"
# shellcheck disable=SC2046
"${berth[@]}" rm -f $("${berth[@]}" ps -aq) >/dev/null
"${podman[@]}" rm -fa -t 0 >/dev/null || true

# 4. Logs.
echo "4: logs of $logmb MB" >&2
writer=(sh -c "yes 0123456789012345678901234567890123456789 | head -c $((logmb * 1000000))")
b1=$("${berth[@]}" run -d --network none busybox "${writer[@]}")
p1=$("${podman[@]}" run -d --network none "${pu[@]}" busybox "${writer[@]}")
"${berth[@]}" wait "$b1" >/dev/null
# podman wait needs an events backend: poll.
while [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$p1" 2>/dev/null)" = true ]; do sleep 0.2; done
bbytes=$("${berth[@]}" logs "$b1" | wc -c)
pbytes=$("${podman[@]}" logs "$p1" 2>/dev/null | wc -c || true)
{
	$T -n 3 -label berth-logs -- "${berth[@]}" logs "$b1"
	$T -n 3 -label podman-logs -- "${podman[@]}" logs "$p1" || true
} >"$work/logs"
# follow ENGINE...: run -d the writer, then time logs -f until it ends; prints ms and bytes seen.
follow() {
	local id t0 t1 bytes
	t0=$(ms_now)
	id=$("$@" run -d --network none "${pu_for[@]}" busybox "${writer[@]}")
	# With --events-backend none, podman logs -f never sees the exit: bound it.
	bytes=$(timeout "${FOLLOW_TIMEOUT:-120}" "$@" logs -f "$id" 2>/dev/null | wc -c || true)
	t1=$(ms_now)
	echo "$((t1 - t0)) $bytes"
}
pu_for=()
read -r bf bfb < <(follow "${berth[@]}")
pu_for=("${pu[@]}")
read -r pf pfb < <(follow "${podman[@]}")
load_after=$(load)

# Report. (Podman's commands above may fail without an events backend: podman wait and
# rm -f of a running container need one; the figures they leave are then zeros.)
echo
echo "machine: $(nproc) cores, $(uname -r); load before $load_before, after $load_after"
echo "podman $(podman --version | awk '{print $3}') (crun $(crun --version | awk 'NR==1{print $3}'), conmon $(conmon --version | awk 'NR==1{print $3}')), overlay, cgroupfs"
[ $have_docker = 1 ] || echo "docker: skipped (no usable docker daemon: docker info fails)"
echo
echo "1. run --rm --network none busybox true"
awk 'FNR==NR {m[$1]=$3; p[$1]=$4; c[$1]=$2; next}
	{wall[$1]=$6; cm[$1]=$3}
	END {
		printf "  %-14s %5s %11s %11s   %-8s %14s %14s\n", "", "seq n", "seq median", "seq p90", "", "conc wall/n", "conc median"
		split("berth podman docker berth-runtime", order, " ")
		for (i = 1; i <= 4; i++) { k = order[i]; if (!(k in m)) continue
			printf "  %-14s %5d %9.2fms %9.2fms   %-8s %12.2fms %12.2fms\n", k, c[k], m[k], p[k], "", wall[k], cm[k] }
		printf "  berth - berth-runtime (engine overhead), seq median: %.2f ms (target <= 15 ms)\n", m["berth"] - m["berth-runtime"]
		printf "  berth / podman: seq median %.2fx, seq p90 %.2fx, conc wall/n %.2fx (target <= 0.2x)\n", m["berth"]/m["podman"], p["berth"]/p["podman"], wall["berth"]/wall["podman"]
		if ("docker" in m) printf "  berth / docker: seq median %.2fx, conc wall/n %.2fx\n", m["berth"]/m["docker"], wall["berth"]/wall["docker"]
	}' "$work/seq" "$work/conc"
echo "  ($conc at once: wall/n = total wall time / $conc; median = each container's own time)"
echo
echo "2. ps -a (median of 20 runs)"
awk -v bc="$bcount" -v pc="$pcount" 'FNR==NR {cw[$1]=$5; cn[$1]=$2; next} {m[$1]=$3; p[$1]=$4}
	END {
		printf "  berth   %5d containers: median %8.2fms  p90 %8.2fms (target <= 50 ms)  [%d creates, 4 at once: %.1f s]\n", bc, m["berth"], p["berth"], cn["berth-create"], cw["berth-create"]/1000
		if ("podman" in m) {
			printf "  podman  %5d containers: median %8.2fms  p90 %8.2fms  [%d creates, 4 at once: %.1f s]\n", pc, m["podman"], p["podman"], cn["podman-create"], cw["podman-create"]/1000
			if (bc == pc) printf "  berth / podman: %.2fx\n", m["berth"]/m["podman"]
		}
	}' "$work/create" "$work/ps"
echo
echo "3. idle monitor memory ($monn x run -d busybox sleep 3600; running: berth $brun, podman $prun)"
awk '{printf "  %-14s %3d procs  RSS sum %8.2f MiB  per %6.3f MiB   PSS sum %8.2f MiB  per %6.3f MiB\n", $1, $2, $3/1024, ($2 ? $3/$2/1024 : 0), $4/1024, ($2 ? $4/$2/1024 : 0); r[NR]=$3/($2?$2:1); s[NR]=$4/($2?$2:1)}
	END {if (r[2] && s[2]) printf "  berth-monitor / conmon per container: RSS %.2fx  PSS %.2fx (target PSS <= 1x)\n", r[1]/r[2], s[1]/s[2]}' "$work/mem"
echo
echo "4. logs ($logmb MB written by yes | head)"
awk -v bb="$bbytes" -v pb="$pbytes" '{m[$1]=$3} END {
	printf "  logs > /dev/null (median of 3):  berth %9.2fms (%d bytes)   podman %9.2fms (%d bytes)   berth / podman %.2fx\n", m["berth-logs"], bb, m["podman-logs"], pb, m["berth-logs"]/m["podman-logs"] }' "$work/logs"
awk -v b="$bf" -v bb="$bfb" -v p="$pf" -v pb="$pfb" -v mb="$logmb" 'BEGIN {
	printf "  run -d + logs -f until exit:     berth %9dms (%d bytes, %.0f MB/s)   podman %9dms (%d bytes, %.0f MB/s)   berth / podman %.2fx\n", b, bb, mb*1000/b, p, pb, mb*1000/p, b/p }'
echo
echo "5. stats --no-stream -a ($brun berth, $prun podman running containers; median of 10)"
awk '{m[$1]=$3; p[$1]=$4} END {
	printf "  berth %9.2fms (p90 %.2fms)   podman %9.2fms (p90 %.2fms)   berth / podman %.2fx (target <= 1x)\n", m["berth-stats"], p["berth-stats"], m["podman-stats"], p["podman-stats"], m["berth-stats"]/m["podman-stats"] }' "$work/stats"
if grep -qv ' 0$' "$work/conc" "$work/create" "$work/ps" "$work/logs" "$work/stats"; then
	echo
	echo "failures:"
	grep -H -v ' 0$' "$work/conc" "$work/create" "$work/ps" "$work/logs" "$work/stats" || true
fi
