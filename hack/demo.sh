#!/bin/bash
# The README's first command: install the dependencies, build berth and its
# helpers, make a busybox bundle and run it with berth-runtime; then import the
# same rootfs as the local image busybox in a throwaway engine root and run
# containers from it with berth (run, ps, logs, exec, stop, rm, a volume, a
# published port).
#
# berth runs in a network namespace the demo makes (and removes): containers
# are on the default bridge network, as with plain `bin/berth run` on a
# machine of your own, but the bridge (berth0), its NAT and firewall rules and
# ip_forward are made in that namespace, so that the demo leaves the host's
# network as it found it (the demo is run on shared and CI machines too).
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
ns=berth-demo-$$
# berth on the engine root, in the demo's network namespace (nsenter --net:
# ip netns exec would mount a /sys without the host's cgroups).
berth() { nsenter --net=/run/netns/"$ns" bin/berth --root "$engine" --runroot "$engine/run" "$@"; }
cleanup() {
	"$runtime" delete --force "$id" >/dev/null 2>&1 || true
	if [ -x bin/berth ] && [ -e /run/netns/"$ns" ]; then
		for c in $(berth ps -aq 2>/dev/null); do
			berth rm -f -v "$c" >/dev/null 2>&1 || true
		done
	fi
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$bundle" "$engine"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

go run ./test/fixture/cmd/mkbundle "$bundle" /bin/sh -c \
	'echo hello from a berth container; cat /proc/self/status | grep ^Pid; echo "shell pid: $$"; hostname; id'

echo "+ $runtime run --bundle $bundle $id" >&2
"$runtime" run --bundle "$bundle" "$id" </dev/null

# The engine: the same rootfs as a local image, and containers from it.
e() { echo "+ berth $*" >&2; berth "$@"; }
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
# The default bridge network: an address of its own, and a published port
# reached from the (demo's) host side through kernel NAT.
e run --rm busybox sh -c 'ip -o -4 addr show eth0'
e run -d --name web -p 8080:80 busybox sh -c 'mkdir /www && echo "hello from $(hostname) through -p 8080:80" > /www/index.html && exec httpd -f -p 80 -h /www'
e port web
echo "+ wget -qO- http://127.0.0.1:8080/" >&2
ip netns exec "$ns" sh -c 'for i in $(seq 50); do busybox wget -qO- http://127.0.0.1:8080/ 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
e rm -f web
