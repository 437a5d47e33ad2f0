#!/bin/bash
# Times pulling and unpacking one large image (about 200 MB of files in 5
# layers, about 20,000 files; generated, pushed to Debian's docker-registry
# on 127.0.0.1) from an empty store with `berth pull`, `podman pull` (its
# own --root/--runroot) and `skopeo copy` + `umoci unpack`, interleaved,
# RUNS times each; prints medians of wall time and peak RSS (wait4's
# rusage of the process tree) and berth's ratios to the others.
#
#   bench/pull.sh                 # RUNS=3
#   TOOLS=berth,podman bench/pull.sh
#   FILES=20000 SIZE=209715200 LAYERS=5 bench/pull.sh
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "pull.sh: run as root" >&2; exit 1; }
for p in docker-registry podman skopeo umoci; do
	dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done

work=$(mktemp -d /var/tmp/berth-bench-pull.XXXXXX)
reg_pid=
cleanup() {
	[ -z "$reg_pid" ] || { kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/berth" ./cmd/berth
go build -o "$work/pull" ./bench/pull

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
	sleep 0.1
done

echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: podman $(podman --version | awk '{print $3}'), skopeo $(skopeo --version | awk '{print $3}'), umoci $(umoci --version | awk '{print $3}')"
"$work/pull" -registry "127.0.0.1:$port" -berth "$work/berth" -work "$work/runs" \
	-runs "${RUNS:-3}" -layers "${LAYERS:-5}" -files "${FILES:-20000}" -size "${SIZE:-209715200}" \
	-tools "${TOOLS:-berth,podman,skopeo+umoci}"
