#!/bin/bash
# Runs the OCI runtime conformance suite (opencontainers/runtime-tools at commit 5e63903, its
# validation/* test programs) against berth-runtime and fails if a test outside EXPECTED_FAIL fails.
#
#   hack/oci-validation.sh [TEST...]      (as root; default: every validation test)
#
# BERTH_RUNTIME_BINARY picks the runtime (default bin/berth-runtime, built by hack/build.sh if
# missing): /usr/sbin/runc, or hack/crun-oci-wrapper.sh for crun, give the peers' results.
# OCI_VALIDATION_KEEP=1 keeps the work directory (logs in WORK/logs/TEST.{out,err}).
#
# The Go module proxy serves that commit only under its pseudo-version (RUNTIME_TOOLS_VERSION
# below). The suite is built once per version into OCI_VALIDATION_CACHE (default
# /var/cache/berth-oci/VERSION) and reused from there; nothing is written into this repository.
#
# At 5e63903 on this host (2026-12): berth-runtime passes 37 of the 58 test files, runc 1.1.5
# passes 27 and crun 1.8.1 36 (through hack/crun-oci-wrapper.sh, whose private mount namespace
# alone fails its linux_ns_itype); berth-runtime passes every file crun passes.
#
# The suite uses the runtime's default state root (no --root), so other containers may share it:
# the clean-up deletes only containers whose bundle lies in this run's work directory.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

# The suite at its latest commit (5e63903): the proxy serves it only under this pseudo-version.
RUNTIME_TOOLS_VERSION=v0.9.1-0.20251205004911-5e639034dcdc

# Tests that fail here for a reason outside the runtime (the machine, or a bug of the suite that
# makes every runtime fail), one line each, with what runc 1.1.5 and crun 1.8.1 do at the same
# commit; two are deliberate runc-compatible choices, marked so. Re-check it when the suite or
# the host changes: a test in this list that passes is reported.
declare -A EXPECTED_FAIL=(
	[delete]="choice: delete of a created container succeeds, as in runc and crun (engines delete containers whose start failed); the spec wants an error for any container not stopped (runc and crun fail too)"
	[delete_resources]="suite bug: its pids check compares the *int64 limits as pointers, not values (runc and crun fail too)"
	[hooks]="suite bug: wants the hooks' output as 'post-start1' where its hooks write 'post-start1 called' (runc and crun fail too)"
	[linux_cgroups_blkio]="host: no blkio.weight/blkio.leaf_weight on cgroup v1 here, only blkio.bfq.* (runc and crun fail too)"
	[linux_cgroups_relative_blkio]="host: as linux_cgroups_blkio (runc and crun fail too)"
	[linux_cgroups_hugetlb]="host: no cgroup v1 hugetlb hierarchy (hugetlb sits on the hybrid cgroup2 mount) (runc and crun fail too)"
	[linux_cgroups_relative_hugetlb]="host: as linux_cgroups_hugetlb (runc and crun fail too)"
	[linux_cgroups_memory]="host: the suite sets memory.kernel limits, which this kernel lacks; berth refuses them, runc and crun ignore them and fail the check"
	[linux_cgroups_relative_memory]="host: as linux_cgroups_memory (runc and crun fail too)"
	[linux_cgroups_network]="host: no cgroup v1 net_cls/net_prio hierarchy (runc and crun fail too)"
	[linux_cgroups_relative_network]="host: as linux_cgroups_network (runc and crun fail too)"
	[linux_cgroups_pids]="suite bug: compares the *int64 pids limits as pointers, not values (runc and crun fail too)"
	[linux_cgroups_relative_pids]="suite bug: as linux_cgroups_pids (runc and crun fail too)"
	[linux_process_apparmor_profile]="host: AppArmor is not enabled (runc and crun fail too)"
	[misc_props]="suite bug: the test does not copy runtimetest into its bundle (runc and crun fail too)"
	[pidfile]="suite race: kills a container whose process (true) may have exited; the spec wants kill of a stopped container to fail (runc and crun fail too)"
	[prestart]="suite bug: wants prestart hooks run by start; the spec runs them during create, as runc, crun and berth do"
	[process_capabilities]="host: root here lacks CAP_SYS_RESOURCE, so the full capability set cannot be granted (runc and crun fail too)"
	[process_capabilities_fail]="choice: an unknown capability is ignored with a warning, as runc and crun do (a newer profile still runs); the spec wants an error (runc and crun fail too)"
	[process_rlimits]="suite artefact: runtimetest, built with Go >= 1.19, raises its own soft RLIMIT_NOFILE at start and reads 3999, not 3000 (runc and crun fail too)"
	[start]="suite bug: its last case wants create without process to succeed and start to succeed, the spec wants start to fail (runc and crun refuse the create too)"
)

if [ "$(id -u)" != 0 ]; then
	echo "oci-validation: needs root" >&2
	exit 1
fi
for tool in go tar unshare timeout; do
	command -v "$tool" >/dev/null || { echo "oci-validation: $tool not found" >&2; exit 1; }
done

berth=${BERTH_RUNTIME_BINARY:-$repo/bin/berth-runtime}
if [ ! -x "$berth" ]; then
	hack/build.sh
	berth=$repo/bin/berth-runtime
fi
berth=$(realpath "$berth")

work=$(mktemp -d /tmp/berth-oci.XXXXXX)
# World-searchable: the user-namespace tests (linux_uid_mappings, linux_ns_nopath) run as a mapped
# root that must reach the bundles under it.
chmod 755 "$work"
cgroup_leftovers() {
	# Cgroups the suite names itself: /cgrouptest and the parents of testdir/cgrouptest/container
	# (a relative cgroupsPath lands under the runtime's own cgroup). The runtime removes the leaf.
	local h c own d
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[ -d "$h" ] || continue
		c=$(basename "$h")
		if [ "$h" = /sys/fs/cgroup/ ] || [ "$c" = unified ]; then
			own=$(sed -n 's/^0:://p' /proc/self/cgroup)
		else
			own=$(awk -F: -v c="$c" '{n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c || a[i] == "name=" c) print $3}' /proc/self/cgroup | head -1)
		fi
		own=${own#/}
		for d in "$h${own:+$own/}testdir/cgrouptest" "$h${own:+$own/}testdir" "${h}testdir/cgrouptest" "${h}testdir" "${h}cgrouptest"; do
			[ -d "$d" ] && echo "$d"
		done
	done | awk '!seen[$0]++'
}
cleanup() {
	local id bundle m d
	# Containers of this run only: the default root may hold other people's containers.
	while read -r id _ _ bundle _; do
		case $bundle in "$work"/*) "$berth" delete --force "$id" >/dev/null 2>&1 || echo "oci-validation: cannot delete $id" >&2 ;; esac
	done < <("$berth" list 2>/dev/null | tail -n +2)
	# Mounts under the work directory (none expected), deepest first.
	awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	for d in $(cgroup_leftovers); do rmdir "$d" 2>/dev/null || echo "oci-validation: cgroup $d left (not empty)" >&2; done
	if [ "${OCI_VALIDATION_KEEP:-0}" = 1 ]; then
		echo "oci-validation: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# Fetch the suite through the module proxy and build it once per version into the cache
# (outside the clone, so CI runs reuse it). The module carries its own go.mod and vendor tree;
# -mod=mod builds from the module cache instead, which the proxy fills.
cache=${OCI_VALIDATION_CACHE:-/var/cache/berth-oci}/$RUNTIME_TOOLS_VERSION
if [ ! -x "$cache/runtimetest" ] || [ ! -f "$cache/.complete" ]; then
	src_dir=$(cd "$work" && go mod download -json "github.com/opencontainers/runtime-tools@$RUNTIME_TOOLS_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -d "$src_dir" ] || { echo "oci-validation: cannot fetch runtime-tools $RUNTIME_TOOLS_VERSION" >&2; exit 1; }
	cp -r "$src_dir" "$work/build"
	chmod -R u+w "$work/build"
	rm -rf "$cache.tmp"
	mkdir -p "$cache.tmp/bin"
	echo "oci-validation: building runtime-tools $RUNTIME_TOOLS_VERSION into $cache" >&2
	(
		cd "$work/build"
		export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
		CGO_ENABLED=0 go build -tags "netgo osusergo" -o "$cache.tmp/runtimetest" ./cmd/runtimetest
		go build -o "$cache.tmp/bin/" ./validation/...
		cp rootfs-amd64.tar.gz "$cache.tmp/"
	)
	touch "$cache.tmp/.complete"
	rm -rf "$cache"
	mv "$cache.tmp" "$cache"
fi
mkdir "$work/src"
cp "$cache/runtimetest" "$cache/rootfs-amd64.tar.gz" "$work/src/"
cd "$work/src"

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	mapfile -t tests < <(ls "$cache/bin")
fi

# The tests read rootfs-amd64.tar.gz and runtimetest from the current directory and make their
# bundles with ioutil.TempDir: TMPDIR keeps those inside the work directory.
mkdir -m 755 "$work/tmp" "$work/logs"
export TMPDIR=$work/tmp RUNTIME=$berth
npass=0 nfail=0 nskip=0 nxfail=0 nxpass=0
unexpected=()
printf '%-32s %-6s %5s %7s %5s %6s  %s\n' TEST RESULT OK NOT_OK SKIP SECS NOTE
for t in "${tests[@]}"; do
	if [ ! -x "$cache/bin/$t" ]; then
		echo "oci-validation: no such test $t" >&2
		exit 1
	fi
	start=$(date +%s%N)
	rc=0
	timeout -k 5 60 "$cache/bin/$t" >"$work/logs/$t.out" 2>"$work/logs/$t.err" </dev/null || rc=$?
	secs=$(( ($(date +%s%N) - start) / 10000000 ))
	ok=$(grep -c '^ok' "$work/logs/$t.out" || true)
	notok=$(grep -c '^not ok' "$work/logs/$t.out" || true)
	skip=$(grep -c '^ok.*# SKIP' "$work/logs/$t.out" || true)
	plan=$(grep -c '^1\.\.' "$work/logs/$t.out" || true)
	yaml=$(grep -c '^  ---' "$work/logs/$t.out" || true)
	# A test fails on any "not ok", a non-zero exit (timeout: 124) or no TAP plan at all (the
	# inside-the-container tests print runtimetest's TAP, nothing when the container never ran).
	# The lifecycle tests (hooks, poststart, ...) print no test point at all: only a plan 1..0,
	# and a YAML diagnostic when they fail.
	if [ "$rc" = 0 ] && [ "$plan" -eq 0 ] && grep -q '^failed to create the container' "$work/logs/$t.err"; then
		# A *_fail test that wants create refused: it exits 0 after the refusal, printing no TAP.
		r=PASS
	elif [ "$rc" != 0 ] || [ "$notok" -gt 0 ] || [ "$plan" -eq 0 ] || { [ "$ok" -eq 0 ] && [ "$yaml" -gt 0 ]; }; then
		r=FAIL
	elif [ "$ok" -eq 0 ] && grep -q '^1\.\.0$' "$work/logs/$t.out"; then
		# A lifecycle test that ran through without a diagnostic.
		r=PASS
	elif [ "$ok" -eq "$skip" ]; then
		r=SKIP
	else
		r=PASS
	fi
	note=
	if [ "$r" = FAIL ]; then
		if [ -n "${EXPECTED_FAIL[$t]:-}" ]; then
			r=XFAIL note=${EXPECTED_FAIL[$t]}
			nxfail=$((nxfail + 1))
		else
			nfail=$((nfail + 1))
			unexpected+=("$t")
			note="rc=$rc; $(grep -m1 -v '^\s*$' "$work/logs/$t.err" 2>/dev/null | cut -c1-120 || true)"
		fi
	elif [ -n "${EXPECTED_FAIL[$t]:-}" ]; then
		note="passes now: remove it from EXPECTED_FAIL"
		nxpass=$((nxpass + 1))
	fi
	case $r in PASS) npass=$((npass + 1)) ;; SKIP) nskip=$((nskip + 1)) ;; esac
	printf '%-32s %-6s %5s %7s %5s %3d.%02d  %s\n' "$t" "$r" "$ok" "$notok" "$skip" $((secs / 100)) $((secs % 100)) "$note"
done

echo
echo "oci-validation: ${#tests[@]} tests: $npass passed, $nfail failed, $nskip skipped, $nxfail expected failures, $nxpass expected failures passing"
for t in "${unexpected[@]}"; do
	echo "--- $t (unexpected failure)"
	grep -B1 -A8 -e '^not ok' -e '^  ---' "$work/logs/$t.out" | head -40 || true
	head -20 "$work/logs/$t.err"
done
[ "$nfail" -eq 0 ]
