#!/bin/bash
# Installs what building and testing Berth needs on a Debian 12 machine.
# Idempotent: when every package is already installed it changes nothing and
# needs no network.
#
# Packages: the base set below, every package named in hack/packages.txt (one
# per line, # comments), and any in $BERTH_EXTRA_PACKAGES (space separated).
# Set BERTH_FORCE_APT=1 to run apt-get update and install even when nothing
# is missing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Base set, needed by the fixture, the scripts and the peers that tests
# compare against. gcc and libc6-dev: cgo and the static berth-runtime link.
base=(
	busybox-static # test/fixture: rootfs and images
	runc           # reference runtime in tests and benchmarks
	crun           # reference runtime (see DESIGN.md for the hybrid-host trick)
	iproute2
	util-linux     # unshare, nsenter, mount
	git
	ca-certificates
	gcc
	libc6-dev      # libc.a for the static cgo link
)

log() { echo "install-deps: $*" >&2; }

read_list() { # prints the package names in file $1
	[ -f "$1" ] || return 0
	sed -e 's/#.*//' -e 's/[[:space:]]\+/\n/g' "$1" | sed '/^$/d'
}

mapfile -t extra < <(read_list "$repo/hack/packages.txt")
# shellcheck disable=SC2206 # word splitting of the list is intended
extra_env=(${BERTH_EXTRA_PACKAGES:-})
want=()
for p in "${base[@]}" "${extra[@]}" "${extra_env[@]}"; do
	# A name with anything but package-name characters is a typo in the
	# list: stop with a clear error rather than pass it to apt-get.
	if ! [[ $p =~ ^[a-z0-9][a-z0-9.+-]+(:[a-z0-9]+)?$ ]]; then
		log "invalid package name '$p' (from the base set, hack/packages.txt or BERTH_EXTRA_PACKAGES)"
		exit 1
	fi
	want+=("$p")
done

missing=()
for p in "${want[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && [ "${BERTH_FORCE_APT:-0}" != 1 ]; then
	log "all ${#want[@]} packages already installed"
else
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo=(sudo -n)
		else
			log "not root and no sudo: install these as root: ${missing[*]}"
			exit 1
		fi
	fi
	# Install only what is missing, so a run never upgrades packages that
	# other work on this machine relies on; when forced, name them all.
	install=("${missing[@]}")
	[ ${#install[@]} -gt 0 ] || install=("${want[@]}")
	log "installing: ${install[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q </dev/null
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${install[@]}" </dev/null
fi

# Debian's Go is too old for the module: the project needs its own toolchain.
go=/usr/local/go/bin/go
if [ ! -x "$go" ]; then
	log "Go not found at $go: install Go 1.26 or newer from the official tarball into /usr/local/go"
	log "(Debian's golang package is too old for this module; see README.md)"
	exit 1
fi
log "$("$go" version)"
