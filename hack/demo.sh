#!/bin/bash
# The README's first command: install the dependencies, build berth-runtime,
# make a busybox bundle and run a container from it; then build berth and make
# a local image of the same rootfs in a throwaway engine root.
#
# RUNTIME=runc hack/demo.sh runs the same bundle with another OCI runtime
# (and skips the build), to compare.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root: containers need namespaces, mounts and cgroups" >&2
	exit 1
fi

hack/install-deps.sh

runtime=${RUNTIME:-}
if [ -z "$runtime" ]; then
	rc=0
	hack/build.sh || rc=$?
	if [ "$rc" = 3 ]; then
		echo "demo: berth-runtime is not written yet; try RUNTIME=runc $0 to see the bundle run" >&2
		exit 1
	elif [ "$rc" != 0 ]; then
		exit "$rc"
	fi
	runtime=$repo/bin/berth-runtime
fi

bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
engine=$(mktemp -d /tmp/berth-demo-root.XXXXXX)
id=demo-$$
cleanup() {
	"$runtime" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$bundle" "$engine"
}
trap cleanup EXIT

go run ./test/fixture/cmd/mkbundle "$bundle" /bin/sh -c \
	'echo hello from a berth container; cat /proc/self/status | grep ^Pid; echo "shell pid: $$"; hostname; id'

echo "+ $runtime run --bundle $bundle $id" >&2
"$runtime" run --bundle "$bundle" "$id" </dev/null

# The image half: the same rootfs as a local image.
go build -o bin/berth ./cmd/berth
echo "+ tar -C $bundle/rootfs -c . | bin/berth --root $engine import - demo/busybox:latest" >&2
tar -C "$bundle/rootfs" -c . | bin/berth --root "$engine" import -c 'CMD ["sh"]' - demo/busybox:latest
echo "+ bin/berth --root $engine images" >&2
bin/berth --root "$engine" images
