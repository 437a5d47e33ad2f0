#!/bin/bash
# The README's first command: install the dependencies, build berth and its
# helpers, make a busybox bundle and run it with berth-runtime; then import the
# same rootfs as the local image busybox in a throwaway engine root and run
# containers from it with berth (run, ps, logs, exec, stop, rm, a volume).
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
	if [ -x bin/berth ]; then
		for c in $(bin/berth --root "$engine" --runroot "$engine/run" ps -aq 2>/dev/null); do
			bin/berth --root "$engine" --runroot "$engine/run" rm -f -v "$c" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$bundle" "$engine"
}
trap cleanup EXIT

go run ./test/fixture/cmd/mkbundle "$bundle" /bin/sh -c \
	'echo hello from a berth container; cat /proc/self/status | grep ^Pid; echo "shell pid: $$"; hostname; id'

echo "+ $runtime run --bundle $bundle $id" >&2
"$runtime" run --bundle "$bundle" "$id" </dev/null

# The engine: the same rootfs as a local image, and containers from it.
e() { echo "+ berth $*" >&2; bin/berth --root "$engine" --runroot "$engine/run" "$@"; }
echo "+ tar -C $bundle/rootfs -c . |" >&2
tar -C "$bundle/rootfs" -c . | e import -c 'CMD ["sh"]' - busybox:latest
e images
e run --rm busybox echo hello
# A short tour: a detached container, its logs, an exec, a volume that outlives it.
e run -d --name demo -v demo-data:/data busybox sh -c 'echo started; echo kept > /data/note; exec sleep 600'
e ps
sleep 0.2
e logs demo
e exec demo sh -c 'echo "exec in $(hostname): $(cat /data/note)"'
e stop -t 1 demo
e ps -a
e rm demo
e run --rm -v demo-data:/data busybox cat /data/note
e volume ls
e volume rm demo-data
