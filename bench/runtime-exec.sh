#!/bin/bash
# Times `exec CONTAINER true` in a running container (busybox bundle running a long sleep) with
# berth-runtime, crun and runc (Debian), interleaved in one run. Prints medians, p90, peak RSS of
# the exec call and the ratios of berth-runtime to the others.
#
#   bench/runtime-exec.sh            # N=200
#
# As bench/runtime-startup.sh: crun 1.8 refuses this hybrid cgroup host, so the whole benchmark
# runs in one private mount namespace where /sys/fs/cgroup/unified/cgroup.controllers reads empty
# (see DESIGN.md); all three runtimes share that environment.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "runtime-exec: run as root" >&2; exit 1; }
for p in runc crun busybox-static; do
	dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$p" >/dev/null; }
done
berth=${BERTH_RUNTIME_BINARY:-}
if [ -z "$berth" ]; then
	hack/build.sh
	berth=$repo/bin/berth-runtime
fi
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/exec" ./bench/exec
go run ./test/fixture/cmd/mkbundle "$work/bundle" sleep 3600 >/dev/null
: >"$work/empty"
echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
unshare -m --propagation private sh -c '
	[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && mount --bind "$0/empty" /sys/fs/cgroup/unified/cgroup.controllers
	exec "$0/exec" -bundle "$0/bundle" -n "${N:-200}" \
		-runtimes "berth=$1,crun=$(command -v crun),runc=$(command -v runc)"
' "$work" "$berth"
