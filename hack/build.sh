#!/bin/bash
# Builds bin/berth-runtime as a static binary (cgo linked statically), so it
# runs in the busybox-only test guest and inside any container or chroot.
# Exit status 3 means cmd/berth-runtime does not exist yet.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! compgen -G 'cmd/berth-runtime/*.go' >/dev/null; then
	echo "build: cmd/berth-runtime has no Go files yet: nothing to build" >&2
	exit 3
fi
mkdir -p bin
CGO_ENABLED=1 go build -ldflags '-linkmode external -extldflags -static' \
	-o bin/berth-runtime ./cmd/berth-runtime
echo "build: bin/berth-runtime" >&2
