#!/usr/bin/env bash
# hack/vm-test.sh: run Go test binaries inside a pure cgroup v2 qemu guest.
#
# The host here is a cgroup v1 "hybrid" machine; this script boots Debian's
# generic kernel under qemu (software emulation, no KVM needed) with
# cgroup_no_v1=all and a busybox initramfs, and runs the test binaries of the
# packages below in it, as root, with BERTH_TEST_GUEST=v2 in the environment.
# See "Pure cgroup v2 test host" in /work/shared/DESIGN.md and test/vm/init.sh.
#
# Usage (as root; it installs what it needs with apt-get):
#   hack/vm-test.sh                                     # default package list
#   VM_TEST_PKGS=./runtime/cgroups hack/vm-test.sh      # one package
#   VM_TEST_PKGS=./test/e2e VM_TEST_RUN='TestRun/memory' \
#     VM_EXTRA_BINS=bin/berth-runtime hack/vm-test.sh   # a subset, with a binary
#
# Environment (all optional):
#   VM_TEST_PKGS     packages whose tests run in the guest (go list patterns,
#                    relative to the repository root); entries that do not
#                    exist yet or have no tests are skipped.
#                    Default: "./test/vm/guestcheck ./runtime/cgroups ./test/e2e/runtime ./snapshot/overlay ./engine/spec ./test/e2e/engine"
#   VM_EXTRA_BINS    host-built static binaries (e.g. bin/berth-runtime) copied
#                    to /usr/local/bin in the guest, which is first on PATH.
#   VM_TEST_RUN      passed as -test.run to every test binary.
#   VM_TEST_TIMEOUT  -test.timeout of each test binary (default 5m).
#   VM_TEST_ARGS     extra arguments for every test binary (e.g. -test.count=2).
#   VM_TIMEOUT       seconds before the whole guest is killed (default 600).
#   VM_MEM, VM_CPUS  guest memory in MiB (2048) and CPUs (2).
#   VM_MODULES       extra kernel modules to load (dependencies are resolved).
#   VM_APPEND        extra kernel command line arguments.
#   VM_RESULTS_DIR   keep per-test logs (NAME.log, NAME.rc, dmesg.log) here;
#                    by default they go to a temporary directory that is removed.
#   VM_CACHE_DIR     where the unpacked guest kernel is cached
#                    (default /var/cache/berth-vm, or $XDG_CACHE_HOME/berth-vm).
#   VM_KEEP=1        keep the temporary work directory (initramfs, binaries).
#
# In the guest: / is a writable in-memory file system (pivot_root works),
# /tmp, /run and /var/tmp are tmpfs, cgroup2 is mounted at /sys/fs/cgroup with
# every controller enabled in the root's cgroup.subtree_control and the tests
# run in /init.scope (as on systemd hosts), lo is up, there is no other
# network (and no CNI plugins, iptables or `ip netns`: the engine tests' berth.toml
# makes the default network none there, test/e2e/engine/main_test.go), 16 2M huge pages are reserved for hugetlb tests, modules overlay,
# veth, bridge and loop are loaded, AppArmor is on (Debian's kernel default)
# with securityfs at /sys/kernel/security. Each test binary runs in /pkg/PATH
# (PATH is the package's directory in the repository), which holds a copy of
# the package's testdata directory; there is no Go toolchain and no source
# tree. AppArmor profiles in testdata (*.apparmor) are compiled on the host to
# binary policy next to them (*.apparmor.bin), since the guest has no
# apparmor_parser: a test loads one by writing it to
# /sys/kernel/security/apparmor/.replace.
# Busybox applets are hard links to /bin/busybox.
#
# Cost here (2 cores, TCG): ~10 s for a cached run of the self-test (boot to
# power-off ~7 s); the first run adds ~10 s of apt and ~5 s for the kernel
# (70 MB download, 400 MB unpacked in the cache). Work that execs a lot runs
# 2-4x slower than natively, CPU-bound work ~10x.
#
# Exit status: 0 if every test binary passed; 1 if one failed; 2 on setup
# errors, a guest crash or a timeout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=/usr/local/go/bin:$PATH

VM_TEST_PKGS=${VM_TEST_PKGS-./test/vm/guestcheck ./runtime/cgroups ./test/e2e/runtime ./snapshot/overlay ./engine/spec ./test/e2e/engine}
VM_EXTRA_BINS=${VM_EXTRA_BINS-$( [ -x bin/berth-runtime ] && echo bin/berth-runtime || true )}
VM_TEST_RUN=${VM_TEST_RUN-}
VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-5m}
VM_TEST_ARGS=${VM_TEST_ARGS-}
VM_TIMEOUT=${VM_TIMEOUT:-600}
VM_MEM=${VM_MEM:-2048}
VM_CPUS=${VM_CPUS:-2}
VM_MODULES=${VM_MODULES-}
VM_APPEND=${VM_APPEND-}
VM_RESULTS_DIR=${VM_RESULTS_DIR-}
VM_KEEP=${VM_KEEP:-0}
if [[ -z ${VM_CACHE_DIR-} ]]; then
	if [[ -n ${XDG_CACHE_HOME-} ]]; then
		VM_CACHE_DIR=$XDG_CACHE_HOME/berth-vm
	elif [[ $(id -u) -eq 0 ]]; then
		VM_CACHE_DIR=/var/cache/berth-vm
	else
		VM_CACHE_DIR=$HOME/.cache/berth-vm
	fi
fi

# Modules the guest always loads: virtio PCI transport + 9p for the results
# share, overlay for the runtime, veth and bridge for network tests, loop for
# a block device to put io.max limits on, ext4 for a loop file system that
# supports id-mapped mounts (the guest's tmpfs does not before 6.3), with
# crc32c_generic, which ext4 needs but lists only as a soft dependency.
BASE_MODULES="virtio_pci 9pnet_virtio 9p overlay veth bridge loop crc32c_generic ext4"

log() { printf 'vm-test: %s\n' "$*" >&2; }
die() {
	printf 'vm-test: error: %s\n' "$*" >&2
	exit 2
}

# --- 1. host packages and the guest kernel ------------------------------------

APT_UPDATED=0
apt_update() {
	if [[ $APT_UPDATED -eq 0 ]]; then
		log "apt-get update"
		apt-get update -qq >/dev/null || die "apt-get update failed"
		APT_UPDATED=1
	fi
}

ensure_packages() {
	local missing=() p need=(qemu-system-x86 busybox-static cpio)
	[[ -n $(find "$STAGE/pkg" -name '*.apparmor' -print -quit) ]] && need+=(apparmor) # apparmor_parser
	for p in "${need[@]}"; do
		if [[ $(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true) != installed ]]; then
			missing+=("$p")
		fi
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	[[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run as root or install them"
	apt_update
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
}

# kernel_pkg prints the concrete linux-image-*-amd64 package that
# linux-image-amd64 (Debian's generic kernel) depends on.
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1 || true
}

# ensure_kernel sets KDIR (unpacked package), KVER and VMLINUZ; downloads and
# unpacks the kernel package into the cache on first use.
ensure_kernel() {
	local pkg ver key
	mkdir -p "$VM_CACHE_DIR"
	exec 9>"$VM_CACHE_DIR/.lock"
	flock 9
	pkg=$(kernel_pkg)
	if [[ -z $pkg ]] && [[ $(id -u) -eq 0 ]]; then
		apt_update
		pkg=$(kernel_pkg)
	fi
	if [[ -n $pkg ]]; then
		ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
		key=${pkg}_${ver}
		KDIR=$VM_CACHE_DIR/$key
		if [[ ! -f $KDIR/.complete ]]; then
			local tmp
			tmp=$(mktemp -d "$VM_CACHE_DIR/.dl.XXXXXX")
			chmod 755 "$tmp"
			id -u _apt >/dev/null 2>&1 && chown _apt "$tmp" # apt downloads as _apt
			log "downloading $pkg $ver (guest kernel, not installed)"
			(cd "$tmp" && apt-get download -qq "$pkg=$ver" >/dev/null) ||
				die "apt-get download $pkg failed"
			dpkg-deb -x "$tmp"/*.deb "$tmp/root" || die "dpkg-deb -x failed"
			rm -f "$tmp"/*.deb
			rm -rf "$KDIR"
			mv "$tmp/root" "$KDIR"
			rm -rf "$tmp"
			touch "$KDIR/.complete"
			# Older kernels are of no further use.
			find "$VM_CACHE_DIR" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -name "$key" \
				-exec rm -rf {} +
		fi
	else
		# Offline and no apt lists: use what the cache holds.
		KDIR=$(find "$VM_CACHE_DIR" -mindepth 1 -maxdepth 1 -name 'linux-image-*' | sort -V | tail -n 1)
		[[ -n $KDIR && -f $KDIR/.complete ]] || die "cannot find Debian's linux-image-amd64 (apt-get update?)"
		log "apt has no kernel package; using cached $(basename "$KDIR")"
	fi
	flock -u 9
	VMLINUZ=$(find "$KDIR/boot" -name 'vmlinuz-*' | head -n 1)
	[[ -n $VMLINUZ ]] || die "no vmlinuz in $KDIR"
	KVER=${VMLINUZ##*/vmlinuz-}
	[[ -d $KDIR/lib/modules/$KVER ]] || die "no modules for $KVER in $KDIR"
}

# --- 2. test binaries -------------------------------------------------------

# build_tests fills $STAGE/tests and $STAGE/pkg and writes $STAGE/etc/berth-vm/tests.
build_tests() {
	local entry pkgs=() line ip dir name rel listing
	for entry in $VM_TEST_PKGS; do
		local path=$entry
		[[ $path == /* ]] || path=$ROOT/$path
		if [[ $entry != *...* && ($entry == ./* || $entry == ../* || $entry == /*) && ! -d $path ]]; then
			log "skipping $entry (does not exist)"
			continue
		fi
		pkgs+=("$entry")
	done
	: >"$STAGE/etc/berth-vm/tests"
	[[ ${#pkgs[@]} -gt 0 ]] || return 0
	listing=$(cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go list \
		-f '{{.ImportPath}} {{.Dir}} {{if or .TestGoFiles .XTestGoFiles}}tests{{end}}' "${pkgs[@]}") ||
		die "go list ${pkgs[*]} failed"
	while read -r ip dir line; do
		[[ -n $ip ]] || continue
		if [[ $line != tests ]]; then
			log "skipping $ip (no tests)"
			continue
		fi
		rel=${dir#"$ROOT"/}
		[[ $rel == "$dir" ]] && rel=${ip##*/}
		name=${rel//\//_}
		log "building $ip"
		(cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -o "$STAGE/tests/$name.test" "$ip") ||
			die "go test -c $ip failed"
		mkdir -p "$STAGE/pkg/$rel"
		if [[ -d $dir/testdata ]]; then
			cp -a "$dir/testdata" "$STAGE/pkg/$rel/"
		fi
		printf '%s /pkg/%s\n' "$name" "$rel" >>"$STAGE/etc/berth-vm/tests"
	done <<<"$listing"
}

# APPARMOR_FEATURES: the kernel feature ABI profiles are compiled for. Debian's
# apparmor package pins this set for Debian's kernels; for the test profiles it
# gives the very bytes that compiling against the guest kernel's own
# /sys/kernel/security/apparmor/features gives (checked with 6.1.0-*-amd64).
APPARMOR_FEATURES=/usr/share/apparmor-features/features

# compile_apparmor compiles every AppArmor profile (*.apparmor) in the staged
# testdata into binary policy (*.apparmor.bin) next to it, for the guest.
compile_apparmor() {
	local f
	while IFS= read -r -d '' f; do
		[[ -f $APPARMOR_FEATURES ]] || die "$APPARMOR_FEATURES is missing (Debian package apparmor)"
		apparmor_parser --skip-kernel-load --skip-cache --quiet --features-file "$APPARMOR_FEATURES" \
			--ofile "$f.bin" "$f" || die "apparmor_parser: cannot compile ${f#"$STAGE"}"
	done < <(find "$STAGE/pkg" -name '*.apparmor' -print0)
}

add_extra_bins() {
	local b
	mkdir -p "$STAGE/usr/local/bin"
	for b in $VM_EXTRA_BINS; do
		[[ $b == /* ]] || b=$ROOT/$b
		[[ -f $b && -x $b ]] || die "VM_EXTRA_BINS: $b is not an executable file (build it first)"
		if LC_ALL=C grep -aq -m1 '/lib64/ld-linux' "$b"; then
			log "warning: $b looks dynamically linked; the guest has no libc"
		fi
		cp "$b" "$STAGE/usr/local/bin/"
	done
}

# --- 3. initramfs -----------------------------------------------------------

# Module name -> path (relative to lib/modules/KVER), '-' and '_' equivalent.
declare -A MODPATH=() MODSEEN=()
MODORDER=()

index_modules() {
	local f n
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		MODPATH[${n//-/_}]=$f
	done < <(cd "$KDIR/lib/modules/$KVER" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
}

# stage_module NAME: copies NAME and, first, its dependencies (from the
# module's own depends= field) into the initramfs, uncompressed.
stage_module() {
	local n=${1//-/_} f dst deps d
	[[ -n ${MODSEEN[$n]-} ]] && return 0
	MODSEEN[$n]=1
	f=${MODPATH[$n]-}
	if [[ -z $f ]]; then
		if grep -Eq "/${n//_/[-_]}\.ko(\..*)?$" "$KDIR/lib/modules/$KVER/modules.builtin"; then
			return 0 # built into the kernel
		fi
		die "kernel module $n not found in $KVER"
	fi
	dst=$STAGE/lib/modules/$KVER/${f%.ko*}.ko
	mkdir -p "${dst%/*}"
	case $f in
	*.ko) cp "$KDIR/lib/modules/$KVER/$f" "$dst" ;;
	*.ko.xz) xz -dc "$KDIR/lib/modules/$KVER/$f" >"$dst" ;;
	*.ko.zst) zstd -qdc "$KDIR/lib/modules/$KVER/$f" >"$dst" ;;
	*.ko.gz) gzip -dc "$KDIR/lib/modules/$KVER/$f" >"$dst" ;;
	esac
	deps=$(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p' | head -n 1 || true)
	for d in ${deps//,/ }; do
		stage_module "$d"
	done
	MODORDER+=("/lib/modules/$KVER/${f%.ko*}.ko")
}

build_initramfs() {
	local a m
	mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,etc/berth-vm,proc,sys,dev,tmp,run,root,results,mnt,var,tests,pkg}
	chmod 1777 "$STAGE/tmp"
	cp "$ROOT/test/vm/init.sh" "$STAGE/init"
	chmod 755 "$STAGE/init"
	cp /bin/busybox "$STAGE/bin/busybox"
	while IFS= read -r a; do
		[[ -e $STAGE/$a ]] || ln "$STAGE/bin/busybox" "$STAGE/$a"
	done < <(/bin/busybox --list-full)

	index_modules
	for m in $BASE_MODULES $VM_MODULES; do
		stage_module "$m"
	done
	printf '%s\n' "${MODORDER[@]}" >"$STAGE/etc/berth-vm/modules"

	local args="-test.v -test.paniconexit0 -test.timeout=$VM_TEST_TIMEOUT"
	[[ -n $VM_TEST_RUN ]] && args+=" -test.run=$VM_TEST_RUN"
	[[ -n $VM_TEST_ARGS ]] && args+=" $VM_TEST_ARGS"
	printf 'TEST_ARGS=%q\n' "$args" >"$STAGE/etc/berth-vm/config"

	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$STAGE/etc/passwd"
	printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$STAGE/etc/group"
	printf '127.0.0.1 localhost berth-vm\n::1 localhost\n' >"$STAGE/etc/hosts"
	echo berth-vm >"$STAGE/etc/hostname"

	# Uncompressed: the emulated guest unpacks it faster than it would inflate it.
	(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --quiet) >"$WORK/initrd.cpio" || die "cpio failed"
}

# --- 4. run -------------------------------------------------------------------

main() {
	[[ $VM_TIMEOUT =~ ^[0-9]+$ ]] || die "VM_TIMEOUT must be a number of seconds"
	local t0=$SECONDS
	WORK=$(mktemp -d /tmp/berth-vm.XXXXXX)
	if [[ $VM_KEEP == 1 ]]; then
		log "work directory $WORK (kept)"
	else
		trap 'rm -rf "$WORK"' EXIT
	fi
	STAGE=$WORK/stage
	mkdir -p "$STAGE/etc/berth-vm" "$STAGE/tests"
	build_tests
	if [[ ! -s $STAGE/etc/berth-vm/tests ]]; then
		log "no test packages to run (VM_TEST_PKGS=$VM_TEST_PKGS)"
		return 0
	fi
	add_extra_bins
	ensure_packages
	compile_apparmor
	ensure_kernel
	build_initramfs

	local results=${VM_RESULTS_DIR:-$WORK/results}
	mkdir -p "$results"
	results=$(cd "$results" && pwd)
	rm -f "$results"/*.rc "$results"/*.log "$results/status"

	log "prepared in $((SECONDS - t0))s: kernel $KVER, initramfs $(du -h "$WORK/initrd.cpio" | cut -f1); booting the guest (timeout ${VM_TIMEOUT}s)"
	local t1=$SECONDS rc=0
	set +e
	timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 \
		-accel tcg -m "$VM_MEM" -smp "$VM_CPUS" -nographic -nic none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-virtfs "local,path=$results,mount_tag=results,security_model=none,id=results" \
		-kernel "$VMLINUZ" -initrd "$WORK/initrd.cpio" \
		-append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet hugepagesz=2M hugepages=16 $VM_APPEND" \
		</dev/null | sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g'
	rc=${PIPESTATUS[0]}
	set -e
	log "guest ran for $((SECONDS - t1))s (total $((SECONDS - t0))s)"

	local verdict
	# qemu itself exits with 1 on its own errors: only the guest writes status.
	[[ $rc -eq 1 && ! -f $results/status ]] && die "qemu failed before the guest reported a result"
	case $rc in
	1) verdict=0 ;;   # guest reported 0: all passed
	3) verdict=1 ;;   # guest reported 1: a test failed
	5) die "guest setup failed (see the console output above)" ;;
	124 | 137) die "guest timed out after ${VM_TIMEOUT}s" ;;
	0) die "guest stopped without reporting a result (kernel panic or init crash?)" ;;
	*) die "qemu failed with status $rc" ;;
	esac

	# Cross-check the per-test exit codes written to the 9p share.
	local name dir code
	while read -r name dir; do
		if [[ ! -f $results/$name.rc ]]; then
			log "no result file for $name"
			verdict=1
			continue
		fi
		code=$(<"$results/$name.rc")
		[[ $code == 0 ]] || verdict=1
	done <"$STAGE/etc/berth-vm/tests"

	if [[ -n $VM_RESULTS_DIR ]]; then
		log "logs in $results"
	fi
	if [[ $verdict -ne 0 ]]; then
		log "FAIL: tests failed in the cgroup v2 guest"
		return 1
	fi
	log "PASS: all tests passed in the cgroup v2 guest"
}

main "$@"
