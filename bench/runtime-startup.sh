#!/bin/bash
# Times `run` of /bin/true from the busybox bundle with berth-runtime, crun and runc (Debian),
# interleaved in one run: 100 sequential runs each, then batches of 20 at once. Prints medians,
# peak RSS and the ratios of berth-runtime to the others.
#
#   bench/runtime-startup.sh            # N=100 CONCURRENT=20 BATCHES=3
#
# crun 1.8 refuses this hybrid cgroup host, so the whole benchmark runs in one private mount
# namespace where /sys/fs/cgroup/unified/cgroup.controllers reads empty (see DESIGN.md); all three
# runtimes share that environment. The bundle says ociVersion 1.0.2, which crun accepts.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "runtime-startup: run as root" >&2; exit 1; }
for p in runc crun busybox-static; do
	dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$p" >/dev/null; }
done
hack/build.sh
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/startup" ./bench/startup
go run ./test/fixture/cmd/mkbundle "$work/bundle" /bin/true
: >"$work/empty"
echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
unshare -m --propagation private sh -c '
	[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && mount --bind "$0/empty" /sys/fs/cgroup/unified/cgroup.controllers
	exec "$0/startup" -bundle "$0/bundle" -n "${N:-100}" -concurrent "${CONCURRENT:-20}" -batches "${BATCHES:-3}" \
		-runtimes "berth=$1,crun=$(command -v crun),runc=$(command -v runc)"
' "$work" "$repo/bin/berth-runtime"
