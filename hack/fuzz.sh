#!/bin/bash
# Runs every Go fuzz target in the repository for a bounded time each:
# the committed seed corpora (testdata/fuzz) run in the plain go test run
# anyway; this explores beyond them. A crasher is written by go test to
# PKG/testdata/fuzz/FuzzX/ — commit it with the fix.
#
#   hack/fuzz.sh                  every target
#   hack/fuzz.sh ./snapshot/...   only the targets in these directories
#
# Environment:
#   FUZZ_TOTAL=90   seconds of fuzzing shared among all targets (default 90)
#   FUZZ_MAX=10     at most this many seconds per target (default 10)
#   FUZZ_MIN=3      at least this many per target (default 3)
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

total=${FUZZ_TOTAL:-90}
max=${FUZZ_MAX:-10}
min=${FUZZ_MIN:-3}
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(.)

# PKGDIR FuzzName, one a line: found by grep, so a new target needs no
# registration here.
mapfile -t targets < <(
	for d in "${dirs[@]}"; do
		grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' "${d%/...}" 2>/dev/null || true
	done | sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\($|\1 \2|' | sort -u
)
n=${#targets[@]}
if [ "$n" = 0 ]; then
	echo "fuzz.sh: no fuzz targets under ${dirs[*]}"
	exit 0
fi
per=$((total / n))
[ "$per" -le "$max" ] || per=$max
[ "$per" -ge "$min" ] || per=$min
echo "fuzz.sh: $n targets, ${per}s each"

# The extractor makes and removes directories for every input; on tmpfs
# that costs nothing (the disk here discards synchronously).
tmp=$(mktemp -d /dev/shm/berth-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failed=()
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	echo "=== fuzz $dir $name (${per}s)"
	if ! (cd "$dir" && TMPDIR=$tmp go test -run '^$' -fuzz "^${name}\$" -fuzztime "${per}s" . </dev/null); then
		failed+=("$dir $name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAIL: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: all $n targets passed"
