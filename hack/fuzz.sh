#!/bin/bash
# Runs every Go fuzz target in the repository for a bounded number of executions each:
# the committed seed corpora (testdata/fuzz) run in the plain go test run
# anyway; this explores beyond them. A crasher is written by go test to
# PKG/testdata/fuzz/FuzzX/ — commit it with the fix.
#
#   hack/fuzz.sh                  every target
#   hack/fuzz.sh ./snapshot/...   only the targets in these directories
#
# Each target runs for a number of executions, not a duration: with a
# duration Go's fuzzing coordinator can fail a target with "context deadline
# exceeded" at the end, having found nothing (go.dev/issue/75804; it hit
# FuzzExtract here). The counts below are about 10 s of fuzzing each on the
# 2-core dev VM; a new target gets FUZZ_EXECS.
#
# Environment:
#   FUZZ_EXECS=20000  executions for a target not listed below
#   FUZZ_SCALE=1      multiply every count (e.g. 6 for a minute per target)
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

declare -A EXECS=(
	[FuzzExtract]=60000  # ~6,000 execs/s: every input unpacks a layer twice
	[FuzzParse]=500000   # ~50,000 execs/s
	[FuzzCompile]=400000 # ~40,000 execs/s
	[FuzzConfig]=200000  # ~20,000 execs/s: decode, validate and build both plans
)
scale=${FUZZ_SCALE:-1}
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
echo "fuzz.sh: $n targets"

# The extractor makes and removes directories for every input; on tmpfs
# that costs nothing (the disk here discards synchronously).
tmp=$(mktemp -d /dev/shm/berth-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failed=()
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	execs=$(( ${EXECS[$name]:-${FUZZ_EXECS:-20000}} * scale ))
	echo "=== fuzz $dir $name (${execs} executions)"
	if ! (cd "$dir" && TMPDIR=$tmp go test -run '^$' -fuzz "^${name}\$" -fuzztime "${execs}x" -fuzzminimizetime 1000x . </dev/null); then
		failed+=("$dir $name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAIL: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: all $n targets passed"
