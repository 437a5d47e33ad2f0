#!/bin/sh
# Runs crun (Debian 1.8.1) the way hack/oci-validation.sh can drive it on this hybrid cgroup host,
# to compare its results with berth-runtime's:
#
#   BERTH_RUNTIME_BINARY=$PWD/hack/crun-oci-wrapper.sh hack/oci-validation.sh
#
# crun refuses a host whose cgroup2 mount owns a controller, so each call runs in a private mount
# namespace where cgroup.controllers reads empty (DESIGN.md; the host is not changed); and it
# rejects ociVersion 1.3.0, which the suite writes, so the bundle's config says 1.0.2. The private
# namespace makes linux_ns_itype fail for crun here (its mount namespace is not the caller's).
set -eu
empty=${TMPDIR:-/tmp}/crun-oci-wrapper.empty
[ -f "$empty" ] || : >"$empty"
prev=
for a in "$@"; do
	b=
	case $prev in --bundle | -b) b=$a ;; esac
	case $a in --bundle=*) b=${a#--bundle=} ;; esac
	if [ -n "$b" ] && [ -f "$b/config.json" ]; then
		sed -i 's/"ociVersion": *"[^"]*"/"ociVersion":"1.0.2"/' "$b/config.json"
	fi
	prev=$a
done
exec unshare -m --propagation private sh -c 'mount --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec crun "$@"' "$empty" "$@"
