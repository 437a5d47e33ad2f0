#!/bin/sh
# shellcheck shell=dash # busybox ash, which is close to dash
# /init of the Berth pure cgroup v2 test guest (busybox ash, runs as pid 1).
#
# Built into the initramfs by hack/vm-test.sh; not meant to run on a host.
# Stage 1 (on the initramfs "rootfs") moves / onto a bind mount so that the
# guest root is an ordinary mount: pivot_root(2) refuses to leave rootfs, and
# container runtimes under test need pivot_root. Stage 2 mounts the kernel
# file systems (cgroup2 only), loads modules, runs every test binary listed in
# /etc/berth-vm/tests and reports the overall result to the host through
# qemu's isa-debug-exit device (port 0xf4): 0 = all passed, 1 = a test failed,
# 2 = guest setup failed. Per-test logs and exit codes go to the 9p share
# "results" (NAME.log, NAME.rc, dmesg.log, status) and output to the serial console.

PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
export PATH

# report CODE: hand CODE to the host and power off. Never returns.
report() {
	sync
	[ -n "${RESULTS:-}" ] && umount "$RESULTS" 2>/dev/null
	# isa-debug-exit: qemu exits with status (CODE << 1) | 1.
	[ -c /dev/port ] || mknod /dev/port c 1 4 2>/dev/null
	# shellcheck disable=SC2059 # the format is the escape \NNN of byte $1
	printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	# Only reached when the device is missing: the host then sees a crash.
	echo "berth-vm: isa-debug-exit device missing; powering off"
	poweroff -f
	sleep 60
}

die() {
	echo "berth-vm: SETUP FAILED: $*"
	report 2
}

if [ "${1:-}" != stage2 ]; then
	# Stage 1: nothing is mounted yet.
	mkdir -p /newroot
	mount --bind / /newroot || die "bind mount of /"
	cd /newroot || die "cd /newroot"
	mount --move . / || die "mount --move . /"
	# shellcheck disable=SC2093 # die runs only if exec fails
	exec chroot . /init stage2
	die "exec chroot"
fi

# Stage 2: / is a bind mount of the initramfs.
mount -t proc -o nosuid,nodev,noexec proc /proc || die "mount proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || die "mount sysfs"
# AppArmor's interface (profiles, .replace/.remove) for the tests that load profiles.
mount -t securityfs -o nosuid,nodev,noexec securityfs /sys/kernel/security || die "mount securityfs"
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev || die "mount devtmpfs"
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts || die "mount devpts"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm || die "mount /dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue || die "mount mqueue"
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp || die "mount /tmp"
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run || die "mount /run"
mkdir -p /var/tmp /var/lib /var/run
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /var/tmp || die "mount /var/tmp"
mount --make-rshared / 2>/dev/null # as on systemd hosts

# Same mount options as systemd on a pure v2 host.
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
	die "mount cgroup2"
read -r controllers </sys/fs/cgroup/cgroup.controllers
for c in $controllers; do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || die "enable controller $c"
done
# Like systemd: no process stays in the root cgroup.
mkdir -p /sys/fs/cgroup/init.scope
echo $$ >/sys/fs/cgroup/init.scope/cgroup.procs || die "move init to init.scope"

while read -r mod; do
	[ -n "$mod" ] || continue
	insmod "$mod" || die "insmod $mod"
done </etc/berth-vm/modules

hostname berth-vm
ip link set lo up || die "loopback up"

RESULTS=
mkdir -p /results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /results ||
	die "mount the 9p results share"
RESULTS=/results

# shellcheck source=/dev/null # written by hack/vm-test.sh: TEST_ARGS
. /etc/berth-vm/config
export BERTH_TEST_GUEST=v2 HOME=/root TMPDIR=/tmp USER=root LOGNAME=root
echo "berth-vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# shellcheck disable=SC3040 # busybox ash has pipefail
set -o pipefail
set -f # TEST_ARGS is split into words, never globbed
failed=0
summary=
while read -r name dir; do
	[ -n "$name" ] || continue
	echo "=== berth-vm: RUN $name"
	log=/dev/null
	[ -n "$RESULTS" ] && log=$RESULTS/$name.log
	start=$(date +%s)
	# shellcheck disable=SC2086 # TEST_ARGS is a word list
	(cd "$dir" && exec "/tests/$name.test" $TEST_ARGS </dev/null 2>&1) | tee "$log"
	rc=$?
	secs=$(($(date +%s) - start))
	[ -n "$RESULTS" ] && echo "$rc" >"$RESULTS/$name.rc"
	if [ "$rc" -eq 0 ]; then
		line="ok    $name ${secs}s"
	else
		line="FAIL  $name ${secs}s (exit $rc)"
		failed=1
	fi
	echo "=== berth-vm: $line"
	summary="$summary$line
"
done </etc/berth-vm/tests

echo "=== berth-vm: summary"
printf %s "$summary"
if [ -n "$RESULTS" ]; then
	dmesg >"$RESULTS/dmesg.log" 2>/dev/null
	echo "$failed" >"$RESULTS/status"
fi
report "$failed"
