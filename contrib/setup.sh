#!/usr/bin/env bash
# contrib/setup.sh: prepare a Debian 12 machine (as root) for podprof's
# demo and tests. Idempotent: a second run changes nothing and takes seconds.
#
#   1. installs the Debian packages the project needs (only the missing ones)
#   2. mounts securityfs, bpffs, tracefs and debugfs if they are not mounted
#   3. writes a containers.conf drop-in for this kind of machine (runc,
#      ulimits that fit under the hard limits here)
#   4. builds the local test images (no registry is needed):
#        localhost/podprof-test/busybox:latest   busybox-static + applet links
#        localhost/podprof-demo/debian:bookworm  debootstrap --variant=minbase
#        localhost/podprof-test/rpm:latest, localhost/podprof-test/alpine:latest
#                                                package database images
#                                                (contrib/images/packages.sh)
#   5. runs a container from each image as a smoke test
#   6. creates the rootless tests' users (podprof-rootless-a, -b) with
#      subordinate ids, a containers.conf for them, and the busybox and demo
#      images in their own stores; a smoke test runs a rootless container
#
# podprof itself does not depend on steps 3 and 4; they only make podman
# usable on the CI/demo machine.
#
# Environment:
#   PODPROF_CACHE        where the debootstrap rootfs tarball is kept
#                        (default /var/cache/podprof)
#   PODPROF_DEB_MIRROR   Debian mirror for debootstrap (default: the one apt
#                        uses on this machine, else debootstrap's default)
#   PODPROF_SETUP_SKIP_SMOKE=1  skip step 5
set -euo pipefail

CACHE=${PODPROF_CACHE:-/var/cache/podprof}
SUITE=bookworm
BUSYBOX_IMAGE=localhost/podprof-test/busybox:latest
DEMO_IMAGE=localhost/podprof-demo/debian:bookworm
# Bump when the recipe of an image changes, so existing images are rebuilt.
RECIPE_LABEL=io.podprof.recipe
BUSYBOX_RECIPE=1
DEMO_RECIPE=1
CONF_DROPIN=/etc/containers/containers.conf.d/50-podprof.conf

PACKAGES=(
	# container runtime; newuidmap/newgidmap and slirp4netns for rootless podman
	podman runc conmon uidmap slirp4netns
	# systemd-socket-activate: the tracer service started as its socket unit would
	systemd
	# BPF build (clang/llvm only for `make generate`)
	clang llvm bpftool libbpf-dev
	# libseccomp's scmp_sys_resolver, for `go generate ./seccomp`
	seccomp
	# kernel test matrix
	qemu-system-x86 cpio zstd xz-utils
	# test and demo images
	debootstrap busybox-static
	# the rpm test image (rpmbuild, rpm --root) and its test (rpm -qa)
	rpm
	# benchmarks and terminal tests; bash's completion framework, which
	# podprof's and podman's completion scripts need
	tmux hyperfine linux-perf bash-completion
	# man, which reads the man pages make install installs (a test does)
	man-db
	# build tooling
	make jq
)

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

mkdir -p "$CACHE"
# Serialise concurrent runs (e.g. `make -j demo test`).
exec 9>"$CACHE/setup.lock"
flock 9

start=$SECONDS

# --- 1. packages -------------------------------------------------------------
installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# runc is named explicitly, so apt satisfies podman's "crun | runc" with it.
	apt-get install -y -qq "${missing[@]}" </dev/null
else
	log "packages: all ${#PACKAGES[@]} present"
fi

# --- 2. pseudo filesystems ---------------------------------------------------
mount_fs() { # TYPE DIR
	if mountpoint -q "$2"; then
		log "mount: $2 already mounted"
	else
		mkdir -p "$2"
		mount -t "$1" "$1" "$2"
		log "mount: mounted $1 on $2"
	fi
}
mount_fs securityfs /sys/kernel/security
mount_fs bpf /sys/fs/bpf
mount_fs tracefs /sys/kernel/tracing
mount_fs debugfs /sys/kernel/debug
if [ -r /sys/kernel/security/lsm ]; then
	log "active LSMs: $(cat /sys/kernel/security/lsm)"
fi

# --- 3. containers.conf ------------------------------------------------------
# podman 4.3.1 (containers/common 0.50) merges /etc/containers/containers.conf.d/*.conf
# after /usr/share/containers/containers.conf and /etc/containers/containers.conf;
# `podman --log-level=debug info` prints a "Merged system config" line for each.
# crun does not work on this machine's cgroup setup, and the default nofile/nproc
# ulimits are above the hard limits here, so pin both.
conf_content='# Written by podprof contrib/setup.sh for the CI/demo machine. podprof
# itself does not need these settings.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
'
if [ -f "$CONF_DROPIN" ] && [ "$(cat "$CONF_DROPIN")" = "$(printf '%s' "$conf_content")" ]; then
	log "containers.conf: $CONF_DROPIN up to date"
else
	mkdir -p "$(dirname "$CONF_DROPIN")"
	printf '%s' "$conf_content" >"$CONF_DROPIN.tmp"
	mv "$CONF_DROPIN.tmp" "$CONF_DROPIN"
	log "containers.conf: wrote $CONF_DROPIN"
fi

# --- 4. images ----------------------------------------------------------------
# image_current NAME RECIPE: the image exists and was built from this recipe.
image_current() {
	podman image exists "$1" || return 1
	[ "$(podman image inspect --format "{{index .Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null)" = "$2" ]
}

WORK=""
cleanup() {
	[ -n "$WORK" ] && [ -d "$WORK" ] || return 0
	# debootstrap mounts proc/sys (and maybe /dev) in the target; unmount anything
	# left below $WORK before removing it, and never cross into another filesystem.
	awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

build_busybox() {
	local bb root p
	bb=$(command -v busybox) || die "busybox not found"
	WORK=$(mktemp -d /tmp/podprof-setup.XXXXXX)
	root=$WORK/rootfs
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,tmp,var/tmp}
	chmod 1777 "$root/tmp" "$root/var/tmp"
	chmod 0700 "$root/root"
	cp -L "$bb" "$root/bin/busybox"
	chmod 0755 "$root/bin/busybox"
	for p in $("$root/bin/busybox" --list-full); do
		[ -e "$root/$p" ] || [ -L "$root/$p" ] || ln -s /bin/busybox "$root/$p"
	done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
	tar --numeric-owner -C "$root" -cf - . |
		podman import --quiet \
			--change 'CMD=["/bin/sh"]' \
			--change "ENV=$PATH_ENV" \
			--change "LABEL=$RECIPE_LABEL=$BUSYBOX_RECIPE" \
			- "$BUSYBOX_IMAGE" >/dev/null
	cleanup
	WORK=""
}

# The Debian mirror apt uses for $SUITE (deb822 .sources, then one-line .list).
apt_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$SUITE" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") &&
				    (" " comps " ") ~ / main / && enabled !~ /^(no|false)$/ && uri != "") {
					print uri; found = 1; exit
				}
				types = suites = comps = uri = enabled = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:"      { sub(/^[^:]*:[ \t]*/, ""); types = $0 }
			tolower($1) == "suites:"     { sub(/^[^:]*:[ \t]*/, ""); suites = $0 }
			tolower($1) == "components:" { sub(/^[^:]*:[ \t]*/, ""); comps = $0 }
			tolower($1) == "enabled:"    { sub(/^[^:]*:[ \t]*/, ""); enabled = tolower($0) }
			tolower($1) == "uris:"       { uri = $2 }
			END { if (!found) flush() }
		' "$f" | head -n1
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v suite="$SUITE" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
				if ($(i + 1) == suite) { print $i; exit }
			}
		' "$f"
	done
}

# Builds (once) the cached rootfs tarball $1: debootstrap minbase, plus the
# packages listed in $2 (comma-separated), if any.
DEMO_TARBALL=$CACHE/debian-$SUITE-minbase.tar.zst
rootfs_tarball() {
	local tarball=$1 include=${2:+--include=$2} mirror root t0
	if [ -s "$tarball" ]; then
		log "images: using cached rootfs $tarball"
		return
	fi
	mirror=${PODPROF_DEB_MIRROR:-$(apt_mirror | head -n1 || true)}
	WORK=$(mktemp -d /tmp/podprof-setup.XXXXXX)
	root=$WORK/rootfs
	t0=$SECONDS
	log "images: debootstrap --variant=minbase $include $SUITE ${mirror:-(debootstrap default mirror)} (takes a minute or two)"
	# shellcheck disable=SC2086 # $include and $mirror are empty or one word
	debootstrap --variant=minbase $include "$SUITE" "$root" $mirror >"$WORK/debootstrap.log" 2>&1 || {
		tail -n 30 "$WORK/debootstrap.log" >&2
		die "debootstrap failed"
	}
	rm -rf "${root:?}/debootstrap" "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
	tar --numeric-owner -C "$root" -cf - . | zstd -q -f -T0 -o "$tarball.tmp"
	mv "$tarball.tmp" "$tarball"
	log "images: cached rootfs in $tarball ($((SECONDS - t0)) s)"
	cleanup
	WORK=""
}

build_demo() {
	rootfs_tarball "$DEMO_TARBALL"
	zstd -q -dc "$DEMO_TARBALL" |
		podman import --quiet \
			--change 'CMD=["/bin/bash"]' \
			--change "ENV=$PATH_ENV" \
			--change "LABEL=$RECIPE_LABEL=$DEMO_RECIPE" \
			- "$DEMO_IMAGE" >/dev/null
}

if image_current "$BUSYBOX_IMAGE" "$BUSYBOX_RECIPE"; then
	log "images: $BUSYBOX_IMAGE present"
else
	log "images: building $BUSYBOX_IMAGE"
	build_busybox
fi
if image_current "$DEMO_IMAGE" "$DEMO_RECIPE"; then
	log "images: $DEMO_IMAGE present"
else
	log "images: building $DEMO_IMAGE"
	build_demo
fi

# The seccomp tests' workloads beside the demo's shell (issue 15): Python,
# and nginx with curl as its client.
WORKLOADS_IMAGE=localhost/podprof-test/workloads:bookworm
WORKLOADS_PACKAGES=python3-minimal,nginx-light,curl
WORKLOADS_RECIPE="debootstrap-minbase-$SUITE+$WORKLOADS_PACKAGES-v1"
WORKLOADS_TARBALL=$CACHE/debian-$SUITE-minbase-workloads.tar.zst
if image_current "$WORKLOADS_IMAGE" "$WORKLOADS_RECIPE"; then
	log "images: $WORKLOADS_IMAGE present"
else
	log "images: building $WORKLOADS_IMAGE"
	rootfs_tarball "$WORKLOADS_TARBALL" "$WORKLOADS_PACKAGES"
	zstd -q -dc "$WORKLOADS_TARBALL" |
		podman import --quiet \
			--change 'CMD=["/bin/bash"]' \
			--change "ENV=$PATH_ENV" \
			--change "LABEL=$RECIPE_LABEL=$WORKLOADS_RECIPE" \
			- "$WORKLOADS_IMAGE" >/dev/null
fi

# The slim tests' web server, built on the workloads image from
# contrib/images/nginx (USER by name, WORKDIR, VOLUME, EXPOSE, STOPSIGNAL,
# HEALTHCHECK, which only the docker format keeps); rebuilt when its files
# or its base change.
NGINX_IMAGE=localhost/podprof-test/nginx:bookworm
NGINX_DIR=$(dirname "$0")/images/nginx
NGINX_RECIPE="$(cat "$NGINX_DIR"/* | sha256sum | cut -c1-16)+$(podman image inspect --format '{{.Id}}' "$WORKLOADS_IMAGE" | cut -c1-16)"
if image_current "$NGINX_IMAGE" "$NGINX_RECIPE"; then
	log "images: $NGINX_IMAGE present"
else
	log "images: building $NGINX_IMAGE"
	podman build --quiet --pull=never --format docker --label "$RECIPE_LABEL=$NGINX_RECIPE" -t "$NGINX_IMAGE" "$NGINX_DIR" >/dev/null ||
		die "podman build $NGINX_DIR failed"
fi

# The package database images of podprof report --packages, sbom and vex.
. "$(dirname "$0")"/images/packages.sh

# --- 5. smoke test ------------------------------------------------------------
if [ "${PODPROF_SETUP_SKIP_SMOKE:-0}" != 1 ]; then
	podman run --rm "$BUSYBOX_IMAGE" true ||
		die "podman run $BUSYBOX_IMAGE failed"
	podman run --rm "$DEMO_IMAGE" test -s /etc/os-release ||
		die "podman run $DEMO_IMAGE failed"
	log "smoke test: podman runs both images"
fi

# --- 6. rootless podman users ---------------------------------------------------
# Unprivileged users for the rootless tests (issue 17): podprof run and the
# hook under their rootless podman, served by the tracer service. Each gets
# subordinate ids of its own, the host's network (/dev/net/tun is root's
# here, so slirp4netns can't open it) and the overlay driver, and the test
# images loaded into its own store (by image id: reloaded when root's
# changes).
ROOTLESS_USERS=(podprof-rootless-a podprof-rootless-b)
ROOTLESS_IMAGES=("$BUSYBOX_IMAGE" "$DEMO_IMAGE")

# next_subordinate FILE: the first id after every range FILE gives.
next_subordinate() {
	awk -F: 'BEGIN {n = 100000} NF == 3 && $2 + $3 > n {n = $2 + $3} END {print n}' "$1"
}

as_user() { # USER COMMAND...
	(cd / && runuser -u "$1" -- "${@:2}")
}

for u in "${ROOTLESS_USERS[@]}"; do
	if ! id "$u" >/dev/null 2>&1; then
		useradd --create-home --shell /bin/bash "$u"
		log "rootless: created user $u"
	fi
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		if ! grep -q "^$u:" "$f"; then
			first=$(next_subordinate "$f")
			if [ "$f" = /etc/subuid ]; then opt=--add-subuids; else opt=--add-subgids; fi
			usermod "$opt" "$first-$((first + 65535))" "$u"
			log "rootless: $u gets ids $first-$((first + 65535)) in $f"
		fi
	done
	home=$(getent passwd "$u" | cut -d: -f6)
	conf_dir=$home/.config/containers
	rootless_conf='# Written by podprof contrib/setup.sh: the host network (slirp4netns
# cannot open /dev/net/tun on this machine), the ulimits and runtime of
# /etc/containers/containers.conf.d/50-podprof.conf apply too.
[containers]
netns = "host"
'
	rootless_storage='[storage]
driver = "overlay"
'
	if [ "$(cat "$conf_dir/containers.conf" 2>/dev/null)" != "$(printf '%s' "$rootless_conf")" ] ||
		[ "$(cat "$conf_dir/storage.conf" 2>/dev/null)" != "$(printf '%s' "$rootless_storage")" ]; then
		as_user "$u" mkdir -p "$conf_dir"
		printf '%s' "$rootless_conf" | as_user "$u" tee "$conf_dir/containers.conf" >/dev/null
		printf '%s' "$rootless_storage" | as_user "$u" tee "$conf_dir/storage.conf" >/dev/null
		# A store made with another driver keeps it: start it afresh.
		as_user "$u" podman system reset --force >/dev/null 2>&1 || true
		log "rootless: wrote $conf_dir/containers.conf and storage.conf"
	fi
	for image in "${ROOTLESS_IMAGES[@]}"; do
		want=$(podman image inspect --format '{{.Id}}' "$image")
		have=$(as_user "$u" podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
		if [ "$have" = "$want" ]; then
			log "rootless: $u has $image"
		else
			podman save "$image" | as_user "$u" podman load --quiet >/dev/null ||
				die "loading $image into $u's store failed"
			log "rootless: loaded $image into $u's store"
		fi
	done
	if [ "${PODPROF_SETUP_SKIP_SMOKE:-0}" != 1 ]; then
		as_user "$u" podman run --rm "$BUSYBOX_IMAGE" true 2>/dev/null ||
			die "rootless podman run $BUSYBOX_IMAGE as $u failed: try runuser -u $u -- podman run --rm $BUSYBOX_IMAGE true"
		log "rootless: smoke test: $u runs $BUSYBOX_IMAGE with rootless podman"
	fi
done

log "done in $((SECONDS - start)) s"
