#!/bin/bash
# The README's second command, and what CI runs (.ci/run): install the
# dependencies, build, check gofmt and go mod tidy, vet, staticcheck, the VM
# tests (hack/vm-test.sh, when present) and then the Go tests, whose summary
# lines close the output.
#
#   hack/test.sh                      everything (./...)
#   hack/test.sh ./test/fixture/...   only these packages
#
# Environment:
#   STATICCHECK=strict|warn|off  strict (default): any finding fails the run; warn: only
#       findings in STATICCHECK_STRICT_DIRS do; off: skip.
#   STATICCHECK_STRICT_DIRS  space-separated directories that must stay clean
#       (default "test/fixture").
#   GO_TEST_FLAGS  extra flags for go test (e.g. "-run TestX -v").
#   SKIP_DEPS=1    skip hack/install-deps.sh.
#   SKIP_VM=1      skip hack/vm-test.sh.
#   SKIP_FUZZ=1    skip hack/fuzz.sh (FUZZ=1 runs it when packages are given).
#   SKIP_OCI=1     skip hack/oci-validation.sh (OCI=1 runs it when packages are given).
#   BUILD=1, VM=1  build bin/berth-runtime, run hack/vm-test.sh, also when
#                  packages are given (both are on for a full run).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
export PATH=$PATH:$gobin

pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
STATICCHECK=${STATICCHECK:-strict}
STATICCHECK_STRICT_DIRS=${STATICCHECK_STRICT_DIRS:-test/fixture}

# Sections stand out in a CI log; timings show where the minutes go.
start=$SECONDS
step() { echo; echo "=== test.sh: $* ($((SECONDS - start))s)"; }
fail() { echo "test.sh: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
	echo "test.sh: WARNING: not root: the privileged tests will skip" >&2
fi

if [ "${SKIP_DEPS:-0}" != 1 ]; then
	step "install dependencies"
	hack/install-deps.sh
fi
go version

# The static binary is built on full runs (a run restricted to some
# packages leaves it alone unless BUILD=1), so a broken static link fails CI
# early; end-to-end tests find it through BERTH_RUNTIME_BINARY.
if [ $# -eq 0 ] || [ "${BUILD:-0}" = 1 ]; then
	step "build bin/berth-runtime"
	rc=0
	hack/build.sh || rc=$?
	case $rc in
	0) export BERTH_RUNTIME_BINARY=$repo/bin/berth-runtime BERTH_MONITOR_BINARY=$repo/bin/berth-monitor BERTH_INIT_BINARY=$repo/bin/berth-init ;;
	3) ;; # cmd/berth-runtime not written yet
	*) fail "building bin/berth-runtime" ;;
	esac
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './_output/*'))
[ -z "$unformatted" ] || fail "gofmt: run gofmt -w on: $unformatted"

# go.mod must say which requirements are direct and go.sum must be complete:
# -diff changes nothing and prints what go mod tidy would change.
step "go mod tidy -diff"
go mod tidy -diff || fail "go.mod/go.sum are not tidy: run go mod tidy"

step "go vet ${pkgs[*]}"
go vet "${pkgs[@]}" || fail "go vet"

step "staticcheck ($STATICCHECK; must stay clean: $STATICCHECK_STRICT_DIRS)"
if [ "$STATICCHECK" != off ]; then
	if ! hack/tools.sh staticcheck; then
		[ "$STATICCHECK" != strict ] || fail "installing staticcheck"
		echo "test.sh: WARNING: staticcheck could not be installed; skipped" >&2
	else
		out=$(staticcheck "${pkgs[@]}" 2>&1) && sc=0 || sc=$?
		[ -z "$out" ] || echo "$out"
		if [ "$sc" != 0 ]; then
			[ "$STATICCHECK" != strict ] || fail "staticcheck"
			for d in $STATICCHECK_STRICT_DIRS; do
				if grep -q "^${d%/}/" <<<"$out"; then
					fail "staticcheck findings in $d, which must stay clean"
				fi
			done
			echo "test.sh: WARNING: staticcheck findings above (not fatal: STATICCHECK=$STATICCHECK)" >&2
		fi
	fi
fi

# The VM suite (pure cgroup v2 guest) runs before the Go tests so that go
# test's summary closes the log; its failure is reported at the very end.
# Like the build, it belongs to full runs (or VM=1).
vm_failed=0
if [ -f hack/vm-test.sh ] && [ "${SKIP_VM:-0}" != 1 ] && { [ $# -eq 0 ] || [ "${VM:-0}" = 1 ]; }; then
	step "hack/vm-test.sh"
	if [ -n "${BERTH_RUNTIME_BINARY:-}" ]; then
		export VM_EXTRA_BINS=${VM_EXTRA_BINS:-bin/berth-runtime bin/berth-monitor bin/berth-init bin/berth}
	fi
	bash hack/vm-test.sh </dev/null || vm_failed=1
fi

# Fuzzing beyond the committed corpora (hack/fuzz.sh, about 30 s of
# fuzzing in all) on full runs or FUZZ=1; reported at the end too.
fuzz_failed=0
if [ "${SKIP_FUZZ:-0}" != 1 ] && { [ $# -eq 0 ] || [ "${FUZZ:-0}" = 1 ]; }; then
	step "hack/fuzz.sh"
	hack/fuzz.sh </dev/null || fuzz_failed=1
fi

# The OCI runtime conformance suite (runtime-tools validation, ~1.5 min) on full runs or OCI=1.
oci_failed=0
if [ "${SKIP_OCI:-0}" != 1 ] && { [ $# -eq 0 ] || [ "${OCI:-0}" = 1 ]; }; then
	step "hack/oci-validation.sh"
	hack/oci-validation.sh </dev/null || oci_failed=1
fi

step "go test ${pkgs[*]}"
mkdir -p _output
# shellcheck disable=SC2206 # GO_TEST_FLAGS is split into words on purpose
flags=(-count=1 -p 2 -timeout 25m ${GO_TEST_FLAGS:-})
test_rc=0
if hack/tools.sh gotestsum; then
	# standard-quiet keeps go test's own lines (ok/FAIL/--- FAIL) and adds
	# gotestsum's failure summary and DONE line.
	gotestsum --format standard-quiet --junitfile _output/junit.xml \
		-- "${flags[@]}" "${pkgs[@]}" </dev/null || test_rc=$?
else
	echo "test.sh: gotestsum unavailable; using go test" >&2
	go test "${flags[@]}" "${pkgs[@]}" </dev/null || test_rc=$?
fi

[ "$vm_failed" = 0 ] || fail "hack/vm-test.sh (see its output above)"
[ "$fuzz_failed" = 0 ] || fail "hack/fuzz.sh (see its output above)"
[ "$oci_failed" = 0 ] || fail "hack/oci-validation.sh (see its output above)"
[ "$test_rc" = 0 ] || exit "$test_rc"
