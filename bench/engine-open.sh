#!/bin/bash
# Times `berth images` on an engine root with 1,000 images and 1,000
# stopped container records against the start of a bare Go program (whose
# main returns at once), interleaved, RUNS times each; prints medians and
# how far each berth command is above the bare start (the issue's budget:
# 10 ms for opening the engine and answering `berth images`).
#
#   bench/engine-open.sh               # RUNS=100
#   IMAGES=5000 CONTAINERS=5000 bench/engine-open.sh
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
work=$(mktemp -d /var/tmp/berth-bench-open.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/berth" ./cmd/berth
go build -o "$work/engineopen" ./bench/engineopen
mkdir "$work/bare"
printf 'package main\n\nfunc main() {}\n' >"$work/bare/main.go"
(cd "$work/bare" && printf 'module bare\n\ngo 1.26\n' >go.mod && go build -o "$work/bare-go" .)
echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/engineopen" -berth "$work/berth" -bare "$work/bare-go" -work "$work/data" \
	-images "${IMAGES:-1000}" -containers "${CONTAINERS:-1000}" -runs "${RUNS:-100}"
