#!/bin/bash
# Installs the pinned Go tools through the module proxy into GOBIN (default
# $(go env GOPATH)/bin), skipping any already at the pinned version.
# Usage: hack/tools.sh [gotestsum] [staticcheck]   (default: both)
# Prints nothing on stdout; exits non-zero if one could not be installed.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH

# Pinned versions; bump them here. staticcheck v0.8.2 is 2026.2.2, which
# knows Go 1.26.
GOTESTSUM_VERSION=${GOTESTSUM_VERSION:-v1.13.0}
STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2}

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH)/bin

install_tool() { # name module-path-of-command module version
	local bin=$gobin/$1
	if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+$3[[:space:]]+$4([[:space:]]|$)"; then
		return 0
	fi
	echo "tools: installing $2@$4" >&2
	# Outside the module, so the project's go.mod is never touched.
	(cd / && GOBIN=$gobin GOFLAGS='' go install "$2@$4")
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(gotestsum staticcheck)
rc=0
for t in "${tools[@]}"; do
	case $t in
	gotestsum) install_tool gotestsum gotest.tools/gotestsum gotest.tools/gotestsum "$GOTESTSUM_VERSION" || rc=1 ;;
	staticcheck) install_tool staticcheck honnef.co/go/tools/cmd/staticcheck honnef.co/go/tools "$STATICCHECK_VERSION" || rc=1 ;;
	*) echo "tools: unknown tool $t" >&2; rc=1 ;;
	esac
done
exit $rc
