#!/usr/bin/env bash
# Kernel matrix for podprof's tracer: boots Debian kernels under qemu (TCG)
# with an initramfs that runs the bpf package's TestTracer* tests once per
# attach mode, and prints one line per kernel x mode:
#
#   PASS kernel=6.1.0-56-amd64 mode=lsm (4.2s)
#   FAIL kernel=6.12.118+deb13-amd64 mode=fentry (3.1s) test binary exited 1
#
# and, in the same boot, the end-to-end container test (e2e.sh): podman 4,
# runc and conmon from this host run real containers under `podprof run`
# and under plain podman with podprof's OCI hook, once per mode:
#
#   PASS kernel=6.1.0-56-amd64 mode=lsm e2e (15.7s)
#
# The run also records a seccomp profile, which plain podman then enforces
# on the same workload (and, once a boot, a copy without one of its calls:
# the negative control); in lsm mode, podprof slim of the run's profile,
# verified by running it again in both images:
#
#   PASS kernel=6.1.0-56-amd64 mode=lsm slim (17.4s)
#
# With --bench it runs neither: each boot runs the bpf package's
# BenchmarkOpenClose in every mode, in rounds, and prints per kernel what a
# traced container's dedup hit and an untraced host process pay per
# open()+close() in each mode, and those costs relative to tracepoint mode's:
#
#   PASS kernel=6.1.0-56-amd64 mode=lsm bench (5/5 rounds, 6.7s)
#   (then the kernel's table; times are the guest's clock's)
#
# Exit status is non-zero if any line is FAIL. See README.md beside this file.
#
# Environment (all optional):
#   PODPROF_KERNEL_CACHE  cache dir for kernels, busybox and apt lists
#                         (default /var/cache/podprof/kernels)
#   PODPROF_KERNELS       kernels to test, space separated; each is a Debian
#                         suite (its linux-image-amd64 is resolved to the latest
#                         ABI package) or SUITE:PACKAGE for a pinned package
#                         (default "bookworm trixie")
#   PODPROF_MODES         modes, space or comma separated (default "lsm fentry tracepoint")
#   PODPROF_OFFLINE=1     do not touch the network: use what the cache holds
#   PODPROF_TEST_BIN      use this prebuilt static test binary instead of
#                         building ./bpf (CGO_ENABLED=0 go test -c)
#   PODPROF_TEST_PKG      package to build the test binary from (default ./bpf)
#   PODPROF_TEST_RUN      -test.run regexp in the guest (default ^TestTracer)
#   PODPROF_TEST_TIMEOUT  -test.timeout per mode in the guest (default 120s)
#   PODPROF_QEMU_TIMEOUT  wall-clock limit per kernel boot, seconds (default 600)
#   PODPROF_QEMU_CPU      qemu -cpu model (default max)
#   PODPROF_QEMU_MEM      guest memory (default 2G)
#   PODPROF_QEMU_SMP      guest CPUs (default 2; 1 with --bench)
#   PODPROF_QEMU_ICOUNT   qemu -icount option (default none; shift=0 with --bench:
#                         the guest's clock then counts its instructions, 1 ns
#                         each, whatever the host's load; it does not boot with
#                         2 CPUs)
#   PODPROF_QEMU_ACCEL    qemu accelerator (default tcg,thread=single: qemu 7.2's
#                         multi-threaded TCG sometimes runs an int3 the kernel
#                         has already patched away; see README.md)
#   PODPROF_LSM           guest lsm= (default lockdown,capability,landlock,bpf;
#                         set to empty to boot with the kernel's built-in list)
#   PODPROF_MODULES       modules to insmod in the guest, dependencies are
#                         added automatically (default "overlay")
#   PODPROF_DEBIAN_MIRROR / PODPROF_DEBIAN_SECURITY_MIRROR
#                         override the mirrors taken from this host's apt sources
#   PODPROF_APT_KEYRING   keyring for the private apt configuration
#                         (default /usr/share/keyrings/debian-archive-keyring.gpg)
#   PODPROF_WORK          work dir (default: a new /tmp/podprof-kernels.XXXXXX;
#                         removed after an all-PASS run unless PODPROF_KEEP=1)
#   PODPROF_VERBOSE=1     also print each guest's console as it is parsed
#   PODPROF_E2E=0         skip the end-to-end container test
#   PODPROF_E2E_MODES     its modes (default: PODPROF_MODES)
#   PODPROF_BIN           the podprof binary it runs (default: built from the
#                         repository with the Makefile's tags into the work dir)
#   PODPROF_E2E_PODMAN    the podman 4 binary copied into the guest, with runc
#                         and conmon from PATH (default: podman on PATH)
# With --bench (PODPROF_MODES are the modes benchmarked):
#   PODPROF_BENCH_ROUNDS  rounds, each runs every mode once (default 5)
#   PODPROF_BENCH_PAIRS   open()+close() pairs per sub-benchmark (default 10000)
#   PODPROF_BENCH_JSON    also write every kernel's summary and runs to this file

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${PODPROF_REPO:-$(cd "$HERE/../.." && pwd)}
CACHE=${PODPROF_KERNEL_CACHE:-/var/cache/podprof/kernels}
KERNELS=${PODPROF_KERNELS:-bookworm trixie}
MODES=$(echo "${PODPROF_MODES:-lsm fentry tracepoint}" | tr ',' ' ' | xargs) # single spaces
OFFLINE=${PODPROF_OFFLINE:-0}
TEST_PKG=${PODPROF_TEST_PKG:-./bpf}
TEST_RUN=${PODPROF_TEST_RUN:-^TestTracer}
TEST_TIMEOUT=${PODPROF_TEST_TIMEOUT:-120s}
QEMU_TIMEOUT=${PODPROF_QEMU_TIMEOUT:-600}
QEMU_CPU=${PODPROF_QEMU_CPU:-max}
QEMU_MEM=${PODPROF_QEMU_MEM:-2G}
QEMU_SMP=${PODPROF_QEMU_SMP:-2}
QEMU_ICOUNT=${PODPROF_QEMU_ICOUNT:-}
QEMU_ACCEL=${PODPROF_QEMU_ACCEL:-tcg,thread=single}
GUEST_LSM=${PODPROF_LSM-lockdown,capability,landlock,bpf}
MODULES=${PODPROF_MODULES:-overlay}
KEYRING=${PODPROF_APT_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
E2E=${PODPROF_E2E:-1}
E2E_MODES=$(echo "${PODPROF_E2E_MODES:-$MODES}" | tr ',' ' ' | xargs)
E2E_IMAGE=localhost/podprof-e2e/busybox-dash:latest
E2E_SLIM_IMAGE=localhost/podprof-e2e/busybox-dash:slim # as e2e.sh names it
[[ -n $E2E_MODES ]] || E2E=0
# podprof slim is tested in lsm mode, if that is one of the e2e modes: its
# verifying runs are traced in that mode too (one mode keeps the boot short)
E2E_SLIM_MODE=
[[ " $E2E_MODES " == *" lsm "* ]] && E2E_SLIM_MODE=lsm
BENCH_ROUNDS=${PODPROF_BENCH_ROUNDS:-5}
BENCH_PAIRS=${PODPROF_BENCH_PAIRS:-10000}
BENCH=0
KIND= # what the PASS/FAIL lines say after mode=M: "", or " bench"

log() { echo "# $*" >&2; }
die() { echo "run.sh: $*" >&2; exit 2; }

case "$TEST_RUN$TEST_TIMEOUT" in *[[:space:]]*) die "PODPROF_TEST_RUN/PODPROF_TEST_TIMEOUT must not contain spaces (they go on the kernel command line)";; esac

case "$*" in
"") ;;
--bench)
	BENCH=1 KIND=" bench"
	E2E=0 # the small initrd: no podman in a benchmark boot
	# TCG's speed follows the host's load: within one boot here the same
	# figure varied by 2x. With -icount the guest's clock counts
	# instructions, and a figure varies by 0.2% at most between rounds.
	# With 2 CPUs and -icount the guest hangs bringing up the second one.
	QEMU_ICOUNT=${PODPROF_QEMU_ICOUNT-shift=0} QEMU_SMP=${PODPROF_QEMU_SMP:-1}
	[[ $BENCH_ROUNDS =~ ^[1-9][0-9]*$ && $BENCH_PAIRS =~ ^[1-9][0-9]*$ ]] || die "PODPROF_BENCH_ROUNDS and PODPROF_BENCH_PAIRS must be positive numbers"
	;;
*) die "usage: run.sh [--bench]" ;;
esac

# ---------------------------------------------------------------- host tools

ensure_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	command -v dpkg-deb >/dev/null || die "dpkg-deb not found: this script needs a Debian host"
	command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian host"
	command -v gzip >/dev/null || missing+=(gzip)
	command -v xz >/dev/null || missing+=(xz-utils)
	command -v timeout >/dev/null || missing+=(coreutils)
	if [[ $E2E == 1 || $BENCH == 1 ]]; then
		command -v jq >/dev/null || missing+=(jq)
	fi
	if [[ $E2E == 1 ]]; then
		command -v ldd >/dev/null || missing+=(libc-bin)
	fi
	if ((${#missing[@]})); then
		[[ $OFFLINE == 1 ]] && die "missing tools (${missing[*]}) and PODPROF_OFFLINE=1"
		[[ $(id -u) == 0 ]] || die "missing tools, install: apt-get install ${missing[*]}"
		log "installing ${missing[*]}"
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	if [[ -z ${PODPROF_TEST_BIN:-} ]]; then
		command -v go >/dev/null || die "go not found (needed to build the test binary)"
	fi
}

# ------------------------------------------------------- private apt per suite

# Mirrors: the same hosts as this machine's apt sources. apt-get indextargets
# lists the configured Debian targets whether or not their lists were fetched.
MAIN_MIRROR=${PODPROF_DEBIAN_MIRROR:-}
SEC_MIRROR=${PODPROF_DEBIAN_SECURITY_MIRROR:-}
discover_mirrors() {
	local codes='(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)'
	local targets
	# shellcheck disable=SC2016 # $(FIELD) is apt's template syntax
	targets=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null | sort -u || true)
	if [[ -z $MAIN_MIRROR ]]; then
		MAIN_MIRROR=$(awk -v re="^$codes(-updates)?\$" '$2 ~ re && $3 == "main" {print $1; exit}' <<<"$targets")
	fi
	if [[ -z $SEC_MIRROR ]]; then
		SEC_MIRROR=$(awk -v re="^$codes(-security|/updates)\$" '$2 ~ re && $3 == "main" {print $1; exit}' <<<"$targets")
	fi
	[[ -n $MAIN_MIRROR ]] || MAIN_MIRROR=http://deb.debian.org/debian/
	if [[ -z $SEC_MIRROR ]]; then # same host as the main mirror
		SEC_MIRROR="$(sed -E 's#^([a-z+]+://[^/]+)/.*#\1#' <<<"$MAIN_MIRROR")/debian-security/"
	fi
	MAIN_MIRROR=${MAIN_MIRROR%/}
	SEC_MIRROR=${SEC_MIRROR%/}
}

# apt_opts SUITE: prints the -o options of the private configuration for SUITE
apt_dir() { echo "$CACHE/apt/$1"; }
apt_opts() {
	local d
	d=$(apt_dir "$1")
	printf '%s\n' \
		-o "Dir::Etc::SourceList=$d/sources.list" \
		-o "Dir::Etc::SourceParts=/dev/null" \
		-o "Dir::Etc::Preferences=/dev/null" \
		-o "Dir::Etc::PreferencesParts=/dev/null" \
		-o "Dir::State::Lists=$d/lists" \
		-o "Dir::State::status=/dev/null" \
		-o "Dir::Cache=$d/cache" \
		-o "APT::Sandbox::User=root" \
		-o "Acquire::Languages=none"
}
APT_UPDATED=" "
apt_suite() { # apt_suite SUITE: writes sources.list and runs apt-get update once per run
	local suite=$1 d
	d=$(apt_dir "$suite")
	[[ $APT_UPDATED == *" $suite "* ]] && return 0
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	{
		echo "deb [signed-by=$KEYRING target=Packages] $MAIN_MIRROR $suite main"
		case $suite in sid | unstable | experimental) ;; *)
			echo "deb [signed-by=$KEYRING target=Packages] $MAIN_MIRROR $suite-updates main"
			echo "deb [signed-by=$KEYRING target=Packages] $SEC_MIRROR $suite-security main"
			;;
		esac
	} >"$d/sources.list"
	local -a o
	mapfile -t o < <(apt_opts "$suite")
	if ! apt-get "${o[@]}" -qq update >"$d/update.log" 2>&1; then
		cat "$d/update.log" >&2
		return 1
	fi
	APT_UPDATED+="$suite "
}
apt_in() { # apt_in SUITE apt-get|apt-cache ARGS...
	local suite=$1 tool=$2
	shift 2
	local -a o
	mapfile -t o < <(apt_opts "$suite")
	"$tool" "${o[@]}" "$@"
}

# ------------------------------------------------------------- kernel fetching

# resolve SPEC -> prints "SUITE PACKAGE" (PACKAGE = linux-image-KVER)
resolve_kernel() {
	local spec=$1 suite pkg
	if [[ $spec == *:* ]]; then
		suite=${spec%%:*} pkg=${spec#*:}
	else
		suite=$spec
		pkg=$(apt_in "$suite" apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
		[[ -n $pkg ]] || { log "cannot resolve linux-image-amd64 in $suite"; return 1; }
	fi
	echo "$suite $pkg"
}

# modinfo_depends FILE.ko -> comma separated dependency names
modinfo_depends() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1; }

decompress_ko() { # decompress_ko SRC DST
	case $1 in
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -qdc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*.ko) cp "$1" "$2" ;;
	*) return 1 ;;
	esac
}

# fetch_kernel SUITE PACKAGE: fills $CACHE/KVER/ with vmlinuz, config,
# modules/*.ko and modules/load-order. Idempotent: a complete entry whose
# module list matches is left alone.
fetch_kernel() {
	local suite=$1 pkg=$2 kver=${2#linux-image-}
	local dir=$CACHE/$kver stamp="modules=$MODULES"
	if [[ -f $dir/.complete ]] && [[ $(cat "$dir/.complete") == "$stamp" ]]; then
		return 0
	fi
	[[ $OFFLINE == 1 ]] && { log "$kver not in cache and PODPROF_OFFLINE=1"; return 1; }
	local tmp
	tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
	log "downloading $pkg from $suite"
	(cd "$tmp" && apt_in "$suite" apt-get -qq download "$pkg" >/dev/null) || { rm -rf "$tmp"; return 1; }
	local deb
	deb=$(ls "$tmp"/*.deb)
	# (errexit does not apply in a function called from a || list: check each step)
	dpkg-deb -x "$deb" "$tmp/root" || { log "cannot unpack $deb"; rm -rf "$tmp"; return 1; }
	local mroot
	mroot=$(ls -d "$tmp"/root/usr/lib/modules/"$kver" "$tmp"/root/lib/modules/"$kver" 2>/dev/null | head -n 1)
	[[ -f $tmp/root/boot/vmlinuz-$kver && -n $mroot ]] || { log "$deb: no /boot/vmlinuz-$kver or modules dir"; rm -rf "$tmp"; return 1; }

	rm -rf "$dir.new"
	mkdir -p "$dir.new/modules"
	cp "$tmp/root/boot/vmlinuz-$kver" "$dir.new/vmlinuz" || { rm -rf "$tmp" "$dir.new"; return 1; }
	cp "$tmp/root/boot/config-$kver" "$dir.new/config" 2>/dev/null || true
	# name -> file index (module names treat - and _ alike)
	declare -A kofile=()
	local f n
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%%.ko*}
		kofile[${n//-/_}]=$f
	done < <(find "$mroot" -name '*.ko*')
	# the deb ships no modules.dep (depmod runs in postinst), so follow
	# each module's modinfo depends= instead; load-order is dependencies first
	declare -A seen=()
	local order=()
	add_mod() {
		local name=${1//-/_} src dst d
		[[ -n ${seen[$name]:-} ]] && return 0
		seen[$name]=1
		if grep -qE "/${name//_/[-_]}\.ko" "$mroot/modules.builtin" 2>/dev/null; then
			log "$kver: $name is built in"
			return 0
		fi
		src=${kofile[$name]:-}
		[[ -n $src ]] || { log "$kver: module $name not found"; return 1; }
		dst=$dir.new/modules/$name.ko
		decompress_ko "$src" "$dst" || { log "$kver: cannot decompress $src"; return 1; }
		for d in $(modinfo_depends "$dst" | tr ',' ' '); do
			add_mod "$d" || return 1
		done
		order+=("$name")
	}
	for n in $MODULES; do
		add_mod "$n" || { rm -rf "$tmp" "$dir.new"; return 1; }
	done
	printf '%s\n' "${order[@]}" >"$dir.new/modules/load-order"
	dpkg-deb -f "$deb" Version >"$dir.new/version" || { rm -rf "$tmp" "$dir.new"; return 1; }
	echo "$pkg" >"$dir.new/package"
	echo "$suite" >"$dir.new/suite"
	echo "$stamp" >"$dir.new/.complete"
	rm -rf "$dir" "$tmp"
	mv "$dir.new" "$dir"
}

# newest cached kernel of SUITE (offline fallback)
cached_kernel_of_suite() {
	local d best=
	for d in "$CACHE"/*/; do
		[[ -f $d/.complete && $(cat "$d/suite" 2>/dev/null) == "$1" ]] || continue
		best+="$(cat "$d/package")"$'\n'
	done
	sort -V <<<"$best" | sed '/^$/d' | tail -n 1
}

# busybox-static from the first suite, unpacked into the cache (the host's
# /bin/busybox may be the dynamic build or absent)
fetch_busybox() {
	local suite=$1 d=$CACHE/busybox
	[[ -x $d/busybox ]] && return 0
	[[ $OFFLINE == 1 ]] && { log "busybox not in cache and PODPROF_OFFLINE=1"; return 1; }
	local tmp
	tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
	(cd "$tmp" && apt_in "$suite" apt-get -qq download busybox-static >/dev/null) || { rm -rf "$tmp"; return 1; }
	dpkg-deb -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; return 1; }
	mkdir -p "$d"
	cp "$tmp/root/bin/busybox" "$d/busybox.new" 2>/dev/null || cp "$tmp/root/usr/bin/busybox" "$d/busybox.new" || { rm -rf "$tmp"; return 1; }
	dpkg-deb -f "$tmp"/*.deb Version >"$d/version"
	mv "$d/busybox.new" "$d/busybox"
	rm -rf "$tmp"
}

# ----------------------------------------------------------------- initramfs

cpio_newc() { # cpio_newc DIR OUT [COMPRESSOR ARGS]: archive DIR's contents, owned by root (default gzip -1)
	local dir=$1 out=$2
	shift 2
	(($#)) || set -- gzip -1
	(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | "$CACHE/busybox/busybox" cpio -o -H newc -R 0:0 2>/dev/null) | "$@" >"$out"
}

build_common_initrd() { # busybox, /init, test binary, testdata
	local s=$WORK/common
	rm -rf "$s"
	mkdir -p "$s"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,pkg,lib/modules}
	cp "$CACHE/busybox/busybox" "$s/bin/busybox"
	cp "$HERE/init" "$s/init"
	chmod 0755 "$s/init" "$s/bin/busybox"
	cp "$TEST_BIN" "$s/bpf.test"
	chmod 0755 "$s/bpf.test"
	if [[ -z ${PODPROF_TEST_BIN:-} && -d $REPO/$TEST_PKG/testdata ]]; then
		cp -a "$REPO/$TEST_PKG/testdata" "$s/pkg/testdata"
	fi
	# the kernel's built-in initramfs already has /dev/console; add it anyway
	# when we may (root), so the early console never depends on that
	mknod -m 600 "$s/dev/console" c 5 1 2>/dev/null || true
	cpio_newc "$s" "$WORK/common.cpio.gz"
}

build_initrd() { # build_initrd KVER: common archive + this kernel's modules
	local kver=$1 s=$WORK/$1/mods
	rm -rf "$s"
	mkdir -p "$s/lib/modules"
	cp "$CACHE/$kver"/modules/* "$s/lib/modules/"
	cpio_newc "$s" "$WORK/$kver/modules.cpio.gz"
	local e2e=
	if [[ -n $E2E_READY ]]; then
		e2e=$(e2e_archive "$kver") || return 1
	fi
	# concatenated compressed cpio archives are one initramfs to the kernel
	# (each may have its own compression)
	cat "$WORK/common.cpio.gz" ${e2e:+"$e2e"} "$WORK/$kver/modules.cpio.gz" >"$WORK/$kver/initrd.gz"
}

# ------------------------------------------------- end-to-end container test

# The guest root gets podman, runc and conmon from this host with their
# shared libraries, a containers configuration for a VM without systemd,
# podprof, the OCI hook file, e2e.sh and the test image as a tarball. It is
# the same for every kernel: one more archive in each initrd.

# copy_elf ROOT FILE [DEST]: FILE (as DEST, default its own path) and the
# shared libraries ldd names, at the paths ldd names them
copy_elf() {
	local root=$1 src=$2 dst=${3:-$2} lib
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst" || return 1
	while read -r lib; do
		[[ -e $root$lib ]] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib" || return 1
	done < <(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

# the podprof binary for the guest: PODPROF_BIN, else built like `make build`
build_podprof() {
	if [[ -n ${PODPROF_BIN:-} ]]; then
		[[ -x $PODPROF_BIN ]] || { echo "PODPROF_BIN=$PODPROF_BIN is not an executable"; return 1; }
		PODPROF=$PODPROF_BIN
		PODPROF_PODMAN=$(dirname "$PODPROF_BIN")/podprof-podman
		PODPROF_HOOK=$(dirname "$PODPROF_BIN")/podprof-hook
		[[ -x $PODPROF_PODMAN ]] || { echo "$PODPROF_PODMAN, which podprof execs for run, is not an executable"; return 1; }
		[[ -x $PODPROF_HOOK ]] || { echo "$PODPROF_HOOK, podprof's OCI hook, is not an executable"; return 1; }
		return 0
	fi
	local tags
	# the Makefile's build tags, so that this is the binary `make build` makes
	tags=$(make -s --no-print-directory -C "$REPO" --eval 'podprof-print-tags: ; @echo $(GO_TAGS)' podprof-print-tags 2>/dev/null) || tags=
	[[ -n $tags ]] || { echo "cannot read GO_TAGS from $REPO/Makefile"; return 1; }
	PODPROF=$WORK/podprof PODPROF_PODMAN=$WORK/podprof-podman PODPROF_HOOK=$WORK/podprof-hook
	log "building podprof (tags: $tags)"
	if ! (cd "$REPO" && CGO_ENABLED=0 go build -tags "$tags" -o "$PODPROF" . &&
		CGO_ENABLED=0 go build -tags "$tags" -o "$PODPROF_PODMAN" ./run/podprof-podman &&
		CGO_ENABLED=0 go build -o "$PODPROF_HOOK" ./tracerd/podprof-hook) >"$WORK/build-podprof.log" 2>&1; then
		tail -n 20 "$WORK/build-podprof.log" | sed 's/^/    | /' >&2
		echo "CGO_ENABLED=0 go build -tags '$tags' . failed"
		return 1
	fi
}

# build_e2e_image DIR: the test image's root in DIR/rootfs, its tarball in
# DIR/image.tar and its file list in DIR/image-files.json. busybox-static
# with its applet links (as contrib/setup.sh builds podprof-test/busybox),
# plus the host's dash, which is dynamic: its ELF interpreter (at the
# Debian path, /lib64/ld-linux-x86-64.so.2, a link into the multiarch dir)
# and libc; and an unused file for podprof slim to leave out.
build_e2e_image() {
	local dir=$1 r=$1/rootfs p dash interp libc multiarch
	rm -rf "$r"
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc/e2e,root,proc,sys,dev,tmp,var/tmp}
	chmod 1777 "$r/tmp" "$r/var/tmp"
	chmod 0700 "$r/root"
	cp "$CACHE/busybox/busybox" "$r/bin/busybox"
	chmod 0755 "$r/bin/busybox"
	for p in $("$r/bin/busybox" --list-full); do
		[[ -e $r/$p || -L $r/$p ]] || ln -s /bin/busybox "$r/$p"
	done
	dash=$(command -v dash) || { echo "no dash on this host"; return 1; }
	interp=$(ldd "$dash" | awk '$1 ~ /^\/.*ld-linux/ {print $1; exit}')
	libc=$(ldd "$dash" | awk '$1 == "libc.so.6" {print $3; exit}')
	[[ -n $interp && -n $libc ]] || { echo "cannot find dash's interpreter and libc with ldd"; return 1; }
	multiarch=$(dirname "$libc") # /lib/x86_64-linux-gnu
	cp -L "$dash" "$r/bin/dash"
	mkdir -p "$r$multiarch" "$r$(dirname "$interp")"
	cp -L "$libc" "$r$libc"
	cp -L "$interp" "$r$multiarch/$(basename "$interp")"
	if [[ $interp != "$multiarch/$(basename "$interp")" ]]; then
		ln -s "$multiarch/$(basename "$interp")" "$r$interp"
	fi
	# what the profiles must show (e2e-check.jq); files, since this runs in a subshell
	echo "$multiarch/$(basename "$interp")" >"$dir/interp"
	echo "$interp" >"$dir/interp_link"
	echo "$libc" >"$dir/libc"
	echo sh >"$r/etc/e2e/sh-read"
	echo dash >"$r/etc/e2e/dash-read"
	# what no workload uses: podprof slim must leave it out (everything
	# else in this image is used or a link to what is)
	mkdir -p "$r/opt/e2e-unused"
	cp "$CACHE/busybox/busybox" "$r/opt/e2e-unused/busybox"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$r/etc/group"
	tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$dir/image.tar" . || return 1
	(cd "$r" && find . -mindepth 1 | sed 's/^\.//') | jq -R -s 'split("\n") | map(select(length > 0))' >"$dir/image-files.json"
}

build_e2e_root() { # -> $WORK/e2e.cpio.gz, or prints why not and fails
	local s=$WORK/e2e-root podman runc conmon b
	podman=${PODPROF_E2E_PODMAN:-$(command -v podman)} || podman=
	runc=$(command -v runc) || runc=
	conmon=$(command -v conmon) || conmon=
	for b in podman runc conmon; do
		[[ -n ${!b} ]] || { echo "no $b on this host (make setup installs it)"; return 1; }
	done
	build_podprof || return 1
	rm -rf "$s" "$WORK"/e2e.cpio.*
	mkdir -p "$s"/{e2e/hooks.d,etc/containers,usr/share/containers,var/tmp,var/lib/containers,root}
	chmod 1777 "$s/var/tmp"
	copy_elf "$s" "$podman" /usr/bin/podman || { echo "cannot copy $podman"; return 1; }
	copy_elf "$s" "$runc" /usr/sbin/runc || { echo "cannot copy $runc"; return 1; }
	copy_elf "$s" "$conmon" /usr/bin/conmon || { echo "cannot copy $conmon"; return 1; }
	# the hook file names /usr/local/bin/podprof-hook, as `make install` puts it
	install -D -m 0755 "$PODPROF" "$s/usr/local/bin/podprof" &&
		install -m 0755 "$PODPROF_PODMAN" "$s/usr/local/bin/podprof-podman" &&
		install -m 0755 "$PODPROF_HOOK" "$s/usr/local/bin/podprof-hook" &&
		cp "$REPO/contrib/hooks.d/podprof.json" "$s/e2e/hooks.d/podprof.json" &&
		install -m 0755 "$HERE/e2e.sh" "$s/e2e/e2e.sh" || { echo "cannot copy podprof, its hook file or e2e.sh"; return 1; }
	if [[ -f /usr/share/containers/seccomp.json ]]; then
		cp /usr/share/containers/seccomp.json "$s/usr/share/containers/seccomp.json"
	fi
	cat >"$s/etc/containers/containers.conf" <<-'CONF'
		# podprof kernel matrix guest: no systemd, no journald, no network
		[containers]
		default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
		log_driver = "k8s-file"

		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		conmon_path = ["/usr/bin/conmon"]

		[engine.runtimes]
		runc = ["/usr/sbin/runc"]
	CONF
	cat >"$s/etc/containers/storage.conf" <<-'CONF'
		# the guest's root is a tmpfs, so is the graph root
		[storage]
		driver = "overlay"
		runroot = "/run/containers/storage"
		graphroot = "/var/lib/containers/storage"
	CONF
	cat >"$s/etc/containers/policy.json" <<-'CONF'
		{"default": [{"type": "insecureAcceptAnything"}]}
	CONF
	echo 'unqualified-search-registries = []' >"$s/etc/containers/registries.conf"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' >"$s/etc/passwd"
	printf '%s\n' 'root:x:0:' >"$s/etc/group"
	printf '%s\n' '127.0.0.1 localhost' >"$s/etc/hosts"
	: >"$s/etc/resolv.conf"
	build_e2e_image "$WORK/e2e-image" || return 1
	cp "$WORK/e2e-image/image.tar" "$s/e2e/image.tar" || { echo "cannot copy the test image"; return 1; }
	log "e2e: podman $("$podman" --version | awk '{print $NF}') runc $("$runc" --version | awk 'NR==1{print $NF}') conmon $("$conmon" --version | awk 'NR==1{print $NF}'), guest root $(du -sm "$s" | cut -f1) MB"
}

# e2e_archive KVER: prints the e2e guest root's archive for KVER, made once
# per compression: zstd where the kernel unpacks it (4-5 times faster than
# gzip under TCG, for ~100 MB), else gzip
e2e_archive() {
	local out=$WORK/e2e.cpio.gz
	local -a comp=(gzip -1)
	if grep -qx 'CONFIG_RD_ZSTD=y' "$CACHE/$1/config" 2>/dev/null && command -v zstd >/dev/null; then
		out=$WORK/e2e.cpio.zst comp=(zstd -q -T0 -3)
	fi
	if [[ ! -s $out ]]; then
		cpio_newc "$WORK/e2e-root" "$out.tmp" "${comp[@]}" && mv "$out.tmp" "$out" || {
			log "cannot archive the e2e guest root"
			return 1
		}
	fi
	echo "$out"
}

# ---------------------------------------------------------------- boot & parse

# guest_params: the podprof.* kernel parameters that /init reads
guest_params() {
	if [[ $BENCH == 1 ]]; then
		echo "podprof.bench=${MODES// /,} podprof.rounds=$BENCH_ROUNDS podprof.benchtime=${BENCH_PAIRS}x podprof.timeout=$TEST_TIMEOUT"
	else
		echo "podprof.modes=${MODES// /,} podprof.timeout=$TEST_TIMEOUT podprof.run=$TEST_RUN${E2E_READY:+ podprof.e2e=${E2E_MODES// /,}${E2E_SLIM_MODE:+ podprof.slim=$E2E_SLIM_MODE}}"
	fi
}

boot_kernel() { # boot_kernel KVER -> $WORK/KVER/console.log, qemu.rc, wall
	local kver=$1 d=$WORK/$1
	local append
	append="console=ttyS0${GUEST_LSM:+ lsm=$GUEST_LSM} panic=-1 quiet loglevel=4 $(guest_params)"
	local t0 t1 rc=0
	t0=$(date +%s.%N)
	timeout -k 10 "$QEMU_TIMEOUT" qemu-system-x86_64 \
		-accel "$QEMU_ACCEL" ${QEMU_ICOUNT:+-icount "$QEMU_ICOUNT"} -cpu "$QEMU_CPU" -m "$QEMU_MEM" -smp "$QEMU_SMP" \
		-nographic -no-reboot -no-user-config -nic none \
		-serial mon:stdio -serial "file:$d/data.log" \
		-kernel "$CACHE/$kver/vmlinuz" -initrd "$d/initrd.gz" \
		-append "$append" </dev/null >"$d/console.log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	echo "$rc" >"$d/qemu.rc"
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f\n", b-a}' >"$d/wall"
	# drop CRs and the firmware's terminal escapes (they can prefix a line)
	sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[A-Za-z]//g' \
		-e 's/^.\{1,\}\(PODPROF-[A-Z]\)/\1/' <"$d/console.log" >"$d/console.txt"
	# the files e2e.sh sent over ttyS1, one per PODPROF-FILE frame
	rm -rf "$d/e2e"
	mkdir -p "$d/e2e"
	[[ -f $d/data.log ]] && sed 's/\r$//' "$d/data.log" | awk -v dir="$d/e2e" '
		/^PODPROF-FILE name=/ { name = substr($0, 19); gsub(/[^A-Za-z0-9._-]/, "_", name); out = dir "/" name; printf "" >out; next }
		/^PODPROF-FILE-END name=/ { close(out); out = ""; next }
		out != "" { print >>out }'
	return 0
}

# field KEY LINE -> value of KEY=value in a PODPROF- line (reason= runs to EOL)
field() {
	if [[ $1 == reason ]]; then
		sed -n 's/.* reason=//p' <<<"$2"
	else
		tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -n 1
	fi
}

NPASS=0 NFAIL=0
fail_modes() { # fail_modes KERNEL REASON: a FAIL line for each mode (and e2e)
	local mode
	for mode in $MODES; do
		NFAIL=$((NFAIL + 1))
		echo "FAIL kernel=$1 mode=$mode$KIND (0s) $2"
	done
	[[ $E2E == 1 ]] && fail_e2e "$1" "$2"
	return 0
}
fail_e2e() { # fail_e2e KERNEL REASON: an e2e FAIL line for each mode, and for slim
	local mode
	for mode in $E2E_MODES; do
		NFAIL=$((NFAIL + 1))
		echo "FAIL kernel=$1 mode=$mode e2e (0s) $2"
	done
	if [[ -n $E2E_SLIM_MODE ]]; then
		NFAIL=$((NFAIL + 1))
		echo "FAIL kernel=$1 mode=$E2E_SLIM_MODE slim (0s) $2"
	fi
}
log_boot() { # log_boot KVER: the boot's facts, as a # line (and its console, verbose)
	local kver=$1 d=$WORK/$1 c=$WORK/$1/console.txt
	[[ ${PODPROF_VERBOSE:-0} == 1 ]] && sed 's/^/    | /' "$c"
	local init lsm btf mods
	init=$(grep -m1 '^PODPROF-INIT ' "$c" || true)
	lsm=$(sed -n 's/^PODPROF-LSM //p' "$c" | head -n 1)
	btf=$(sed -n 's/^PODPROF-BTF //p' "$c" | head -n 1)
	mods=$(sed -n 's/^PODPROF-MODULE name=\([^ ]*\) status=\([^ ]*\).*/\1:\2/p' "$c" | tr '\n' ' ')
	log "kernel=$kver pkg=$(cat "$CACHE/$kver/package")=$(cat "$CACHE/$kver/version") boot=${init:+$(field uptime "$init")s} qemu-wall=$(cat "$d/wall")s qemu-rc=$(cat "$d/qemu.rc") lsm=${lsm:-?} btf=[${btf:-?}] modules=[${mods% }] log=$d/console.log"
}

# no_result KVER WHAT: why the guest printed no result line for WHAT
no_result() {
	local c=$WORK/$1/console.txt qrc
	qrc=$(cat "$WORK/$1/qemu.rc")
	if [[ $qrc == 124 || $qrc == 137 ]]; then
		echo "qemu timed out after ${QEMU_TIMEOUT}s"
	elif grep -q 'Kernel panic' "$c"; then
		echo "kernel panic: $(grep -m1 'Kernel panic' "$c" | sed 's/^\[[^]]*\] *//')"
	elif ! grep -q '^PODPROF-INIT ' "$c"; then
		echo "guest never reached /init (qemu exit $qrc)"
	else
		echo "no $2 (qemu exit $qrc)"
	fi
}

report_kernel() { # report_kernel KVER: prints the PASS/FAIL lines
	local kver=$1 c=$WORK/$1/console.txt
	local mode line status secs reason
	for mode in $MODES; do
		line=$(grep -m1 "^PODPROF-RESULT mode=$mode " "$c" || true)
		if [[ -n $line ]]; then
			status=$(field status "$line") secs=$(field secs "$line") reason=$(field reason "$line")
		else
			status=FAIL secs='?'
			reason=$(no_result "$kver" "result for this mode")
		fi
		if [[ $status == PASS ]]; then
			NPASS=$((NPASS + 1))
			echo "PASS kernel=$kver mode=$mode (${secs}s)"
		else
			NFAIL=$((NFAIL + 1))
			echo "FAIL kernel=$kver mode=$mode (${secs}s) $reason"
			show_section "$kver" "PODPROF-BEGIN mode=$mode" "PODPROF-END mode=$mode"
			show_dmesg "$kver"
		fi
	done
}

# show_section KVER BEGIN END: the console between the lines BEGIN and END,
# else its tail, indented (a FAIL's details)
show_section() {
	local out
	out=$(sed -n "/^$2\$/,/^$3\$/p" "$WORK/$1/console.txt" | sed '1d;$d')
	if [[ -n $out ]]; then
		tail -n 60 <<<"$out" | sed 's/^/    | /'
	else
		show_tail "$1"
	fi
}
show_tail() { tail -n 40 "$WORK/$1/console.txt" | sed 's/^/    | /'; } # show_tail KVER

show_dmesg() { # show_dmesg KVER: the kernel messages /init printed after a failure
	local c=$WORK/$1/console.txt
	if grep -q '^PODPROF-DMESG-BEGIN' "$c"; then
		echo "    | --- guest dmesg (tail) ---"
		sed -n '/^PODPROF-DMESG-BEGIN/,/^PODPROF-DMESG-END/p' "$c" | sed '1d;$d' | tail -n 25 | sed 's/^/    | /' | grep . || echo "    | (none logged while the tests ran)"
	fi
}

# report_bench KVER: a PASS/FAIL line per mode (a mode passes when every
# round of it did), a FAIL followed by its failed runs' output, then the
# kernel's table; the summary (bench.jq) goes to $WORK/KVER/bench.json
report_bench() {
	local kver=$1 c=$WORK/$1/console.txt j=$WORK/$1/bench.json
	jq -R -n -f "$HERE/bench.jq" --arg kernel "$kver" --arg modes "$MODES" \
		--arg package "$(cat "$CACHE/$kver/package")=$(cat "$CACHE/$kver/version")" \
		--argjson rounds "$BENCH_ROUNDS" --argjson pairs "$BENCH_PAIRS" --arg icount "$QEMU_ICOUNT" \
		--argjson qemu_wall_s "$(cat "$WORK/$kver/wall")" <"$c" >"$j"
	log "kernel=$kver bench: $(jq -r '.bench_s // "?"' "$j")s in the guest for $BENCH_ROUNDS rounds of $MODES, $BENCH_PAIRS pairs each"
	local mode runs passed secs round reasons
	for mode in $MODES; do
		read -r runs passed secs < <(jq -r --arg m "$mode" '.modes[] | select(.mode == $m) | "\(.runs) \(.passed) \(.secs)"' "$j")
		if ((passed == BENCH_ROUNDS)); then
			NPASS=$((NPASS + 1))
			echo "PASS kernel=$kver mode=$mode bench ($passed/$BENCH_ROUNDS rounds, ${secs}s)"
			continue
		fi
		NFAIL=$((NFAIL + 1))
		mapfile -t reasons < <(jq -r --arg m "$mode" '.runs[] | select(.mode == $m and .status != "PASS") | "round \(.round): \(.reason)"' "$j")
		((runs == BENCH_ROUNDS)) || reasons+=("rounds $((runs + 1))-$BENCH_ROUNDS: $(no_result "$kver" "result")")
		echo "FAIL kernel=$kver mode=$mode bench ($passed/$BENCH_ROUNDS rounds, ${secs}s) $(printf '%s; ' "${reasons[@]}" | sed 's/; $//')"
		# each failed run's output; the console's tail if a run never ended
		for round in $(jq -r --arg m "$mode" '.runs[] | select(.mode == $m and .status != "PASS") | .round' "$j"); do
			show_section "$kver" "PODPROF-BENCH-BEGIN round=$round mode=$mode" "PODPROF-BENCH-END round=$round mode=$mode"
		done
		((runs == BENCH_ROUNDS)) || show_tail "$kver"
		show_dmesg "$kver"
	done
	bench_table "$j"
}

# write_bench_json FILE KVER...: the kernels' summaries, and how they were made
write_bench_json() {
	local out=$1 kver files=()
	shift
	for kver in "$@"; do
		[[ -s $WORK/$kver/bench.json ]] && files+=("$WORK/$kver/bench.json")
	done
	jq -n --arg accel "$QEMU_ACCEL" --arg icount "$QEMU_ICOUNT" --arg cpu "$QEMU_CPU" --arg mem "$QEMU_MEM" --argjson smp "$QEMU_SMP" \
		--argjson rounds "$BENCH_ROUNDS" --argjson pairs "$BENCH_PAIRS" --argjson failed "$NFAIL" --argjson secs "$SECONDS" \
		'{qemu: {accel: $accel, icount: $icount, cpu: $cpu, mem: $mem, smp: $smp}, rounds: $rounds, pairs: $pairs,
		  failed: $failed, duration_s: $secs, kernels: [inputs]}' ${files[@]+"${files[@]}"} >"$out"
}

# bench_table JSON: one kernel's table, from its bench.jq summary
bench_table() {
	jq -r '"\nopen()+close() on \(.kernel), CPU ns per pair: medians [min..max] of \(.rounds) rounds x \(.pairs) pairs",
		if .icount == "shift=0" then "(qemu -icount shift=0: the guest clock counts instructions, 1 ns each; only the ratios carry over to hardware)"
		else "(qemu \(if .icount == "" then "TCG" else "-icount " + .icount end): only the ratios carry over to hardware)" end' "$1"
	jq -r '.modes[] | [.mode, .container_untraced_ns, .container_added_ns.median, .container_added_ns.min, .container_added_ns.max,
		.container_vs_tracepoint, .host_no_tracer_ns, .host_added_ns.median, .host_added_ns.min, .host_added_ns.max,
		.host_vs_tracepoint, .passed] | @tsv' "$1" | awk -F '\t' '
		function n(v) { return v == "" ? "-" : sprintf("%.0f", v) }
		function d(v, lo, hi) { return v == "" ? "-" : sprintf("%+.0f [%+.0f..%+.0f]", v, lo, hi) }
		function x(v) { return v == "" ? "-" : sprintf("%.2fx", v) }
		BEGIN {
			fmt = "%-10s  %9s  %-22s  %13s  |  %9s  %-22s  %13s  %6s\n"
			printf "%-10s  %-48s  |  %s\n", "", "in a traced container (dedup hits)", "in a host process (tracer loaded)"
			printf fmt, "mode", "untraced", "traced - untraced", "vs tracepoint", "no tracer", "loaded - no tracer", "vs tracepoint", "rounds"
		}
		{ printf fmt, $1, n($2), d($3, $4, $5), x($6), n($7), d($8, $9, $10), x($11), $12 "/" rounds }' rounds="$(jq .rounds "$1")"
	echo
}

# show_file TITLE FILE [MAXLINES]: indented, for a FAIL's details
show_file() {
	echo "    | --- $1 ---"
	if [[ -s $2 ]]; then
		head -n "${3:-200}" "$2" | sed 's/^/    | /'
	else
		echo "    | (nothing)"
	fi
}

# e2e_check KVER MODE KIND: the problems of one profile, one per line
e2e_check() {
	local kver=$1 mode=$2 kind=$3 f=$WORK/$1/e2e/$2.$3.json
	if [[ ! -s $f ]]; then
		echo "no $kind profile"
		return
	fi
	jq -r -f "$HERE/e2e-check.jq" --arg kind "$kind" --arg mode "$mode" --arg kernel "$kver" \
		--arg image "$E2E_IMAGE" --arg interp "$E2E_INTERP" --arg interp_link "$E2E_INTERP_LINK" \
		--arg libc "$E2E_LIBC" --slurpfile imagefiles "$WORK/e2e-image/image-files.json" "$f" 2>&1 ||
		echo "the $kind profile is not valid JSON"
}

# e2e_seccomp_check KVER MODE: the problems of the seccomp profile MODE's
# run recorded, and of the negative control's copy (if this mode ran it)
e2e_seccomp_check() {
	local e=$WORK/$1/e2e f=$WORK/$1/e2e/$2.seccomp.json denied
	if [[ ! -s $f ]]; then
		echo "no seccomp profile"
		return
	fi
	denied=$e/$2.denied.json
	[[ -e $denied ]] || denied=/dev/null
	jq -r -f "$HERE/e2e-seccomp.jq" --slurpfile denied "$denied" "$f" 2>&1 ||
		echo "the seccomp profile or the negative control's copy is not valid JSON"
}

# tracer_modes_during LOG FROM TO: the modes of the tracer processes that ran
# between the mark FROM and the first mark starting with TO in e2e.sh's
# tracer.log, one per line (the state in effect at FROM counts: the log has
# a line per change)
tracer_modes_during() {
	awk -v from="$2" -v to="$3" '
		function modes(line,   n, i, f) {
			sub(/.*tracer=\[/, "", line); sub(/\].*/, "", line)
			n = split(line, f, " ")
			for (i = 1; i <= n; i++) { sub(/^[0-9]+:/, "", f[i]); seen[f[i]] = 1 }
		}
		/ --- / {
			mark = $0; sub(/^[^ ]* --- /, "", mark)
			if (mark == from) { inside = 1; if (state != "") modes(state) }
			else if (inside && index(mark, to) == 1) inside = 0
			next
		}
		/ tracer=\[/ { state = $0; if (inside) modes($0) }
		END { for (m in seen) print m }' "$1"
}

# report_slim KVER: the PASS/FAIL line of podprof slim in E2E_SLIM_MODE
report_slim() {
	local kver=$1 mode=$E2E_SLIM_MODE c=$WORK/$1/console.txt e=$WORK/$1/e2e
	local line rc secs out reasons=() smaller factor files id modes
	line=$(grep -m1 "^PODPROF-E2E-SLIM mode=$mode " "$c" || true)
	secs='?'
	out=$e/$mode.slim.out
	if [[ -z $line ]]; then
		reasons+=("$(no_result "$kver" "slim result")")
	else
		rc=$(field rc "$line") secs=$(field secs "$line")
		[[ $rc == 0 ]] || reasons+=("podprof slim exited $rc, want 0")
		# "1.5x smaller: NAME (ID12) from IMAGE (ID12)", and the table's
		# "files  ORIGINAL  SLIM": the unused file is left out
		smaller=$(grep -E "^[0-9.]+x smaller: " "$out" 2>/dev/null || true)
		factor=$(sed -n 's/^\([0-9.]*\)x smaller: .*/\1/p' <<<"$smaller")
		files=$(awk '$1 == "files" {print $2, $3; exit}' "$out" 2>/dev/null)
		if [[ -z $smaller ]]; then
			reasons+=("podprof slim printed no \"...x smaller:\" line")
		elif ! awk -v f="$factor" 'BEGIN { exit !(f > 1) }'; then
			reasons+=("the slim image is not smaller (${factor}x), though the image holds an unused file")
		elif [[ $smaller != *" smaller: $E2E_SLIM_IMAGE ("*") from $E2E_IMAGE ("* ]]; then
			reasons+=("podprof slim's result names other images: $smaller")
		fi
		if ! awk -v f="$files" 'BEGIN { split(f, n, " "); exit !(n[2] > 0 && n[2] < n[1]) }'; then
			reasons+=("files (original slim): \"$files\", want fewer in the slim image")
		fi
		# the image is in the store under that name, with the id it printed
		id=$(sed -n 's/^\([0-9a-f]\{64\}\)$/\1/p' "$e/$mode.slim.id" 2>/dev/null)
		if [[ -z $id ]]; then
			reasons+=("podman image inspect $E2E_SLIM_IMAGE: $(head -n 1 "$e/$mode.slim.id" 2>/dev/null)")
		elif [[ $smaller != *" smaller: $E2E_SLIM_IMAGE (${id:0:12})"* ]]; then
			reasons+=("$E2E_SLIM_IMAGE is image $id in the store, not the one podprof slim printed")
		fi
		# the one recorded run, verified: exit 3 in both images, same output
		if [[ $(grep -c '^verified ' "$out" 2>/dev/null) != 1 ]]; then
			reasons+=("podprof slim verified $(grep -c '^verified ' "$out" 2>/dev/null) runs, want the one recorded")
		elif ! grep -qE '^verified \["/bin/sh" "-c" ".+"\] \(exit 3\): same exit code, output and errors, no file missing$' "$out"; then
			reasons+=("podprof slim: $(grep '^verified ' "$out"), want the run's /bin/sh -c, exit 3, the same in both images")
		fi
		modes=$(tracer_modes_during "$e/tracer.log" "$mode: podprof slim" "$mode: podprof slim exited" | sort | xargs)
		[[ $modes == "$mode" ]] || reasons+=("the verifying runs were traced in mode(s) \"$modes\", want $mode")
	fi
	if ((${#reasons[@]} == 0)); then
		NPASS=$((NPASS + 1))
		echo "PASS kernel=$kver mode=$mode slim (${secs}s)"
		return
	fi
	NFAIL=$((NFAIL + 1))
	local joined
	joined=$(printf '%s; ' "${reasons[@]}")
	echo "FAIL kernel=$kver mode=$mode slim (${secs}s) ${joined%; }"
	[[ -n $line ]] && echo "    | $line"
	show_file "podprof slim output" "$out"
	show_file "podman image inspect $E2E_SLIM_IMAGE" "$e/$mode.slim.id"
	show_file "the run profile it slimmed ($mode.run.json)" "$e/$mode.run.json" 400
	show_file "tracer processes (tracer.log)" "$e/tracer.log"
	if [[ -s $e/syslog ]]; then show_file "guest syslog (podprof tracer)" "$e/syslog"; fi
}

report_e2e() { # report_e2e KVER: the e2e PASS/FAIL lines
	local kver=$1 c=$WORK/$1/console.txt e=$WORK/$1/e2e
	local setup line mode secs reasons r
	setup=$(grep -m1 '^PODPROF-E2E-SETUP ' "$c" || true)
	[[ -n $setup ]] && log "kernel=$kver e2e: podman import $(field import_secs "$setup")s (rc $(field import_rc "$setup")), guest e2e total $(sed -n 's/^PODPROF-E2E-DONE secs=//p' "$c" | head -n 1)s"
	for mode in $E2E_MODES; do
		line=$(grep -m1 "^PODPROF-E2E-RESULT mode=$mode " "$c" || true)
		reasons=()
		secs='?'
		if [[ -z $line ]]; then
			reasons+=("$(no_result "$kver" "e2e result for this mode")")
		elif [[ -n $(field reason "$line") ]]; then
			secs=$(field secs "$line")
			reasons+=("$(field reason "$line")")
		else
			secs=$(field secs "$line")
			local run_rc hook_rc
			run_rc=$(field run_rc "$line") hook_rc=$(field hook_rc "$line")
			# the container exits 3; podprof run must pass that through
			[[ $run_rc == 3 ]] || reasons+=("podprof run exited $run_rc, want the container's 3")
			grep -q '^e2e-out sh=sh dash=dash$' "$e/$mode.run.out" 2>/dev/null || reasons+=("podprof run: the container's output did not come through")
			grep -q "traced with $mode\$" "$e/$mode.run.out" 2>/dev/null || reasons+=("podprof run: no summary saying \"traced with $mode\"")
			while IFS= read -r r; do [[ -n $r ]] && reasons+=("run profile: $r"); done < <(e2e_check "$kver" "$mode" run)
			[[ $hook_rc == 4 ]] || reasons+=("podman with the hook exited $hook_rc, want the container's 4")
			while IFS= read -r r; do [[ -n $r ]] && reasons+=("hook profile: $r"); done < <(e2e_check "$kver" "$mode" hook)
			while IFS= read -r r; do [[ -n $r ]] && reasons+=("seccomp profile: $r"); done < <(e2e_seccomp_check "$kver" "$mode")
			# under the recorded profile, the workload runs as it did traced
			local replay_rc denied_rc
			replay_rc=$(field replay_rc "$line") denied_rc=$(field denied_rc "$line")
			[[ $replay_rc == 3 ]] || reasons+=("podman under the recorded seccomp profile exited $replay_rc, want the container's 3")
			grep -q '^e2e-out sh=sh dash=dash$' "$e/$mode.replay.out" 2>/dev/null || reasons+=("podman under the recorded seccomp profile: the container's output did not come through")
			# the negative control, in the first mode: without one of its
			# calls, the workload does not run as it did
			if [[ $mode == "${E2E_MODES%% *}" ]]; then
				if [[ $denied_rc == - ]]; then
					reasons+=("no negative control ran")
				elif [[ $denied_rc == 3 ]] && grep -q '^e2e-out sh=sh dash=dash$' "$e/$mode.denied.out"; then
					reasons+=("under the recorded seccomp profile without one of the workload's calls ($mode.denied.json), it still ran as traced: the profile does not restrict it")
				fi
			fi
		fi
		if ((${#reasons[@]} == 0)); then
			NPASS=$((NPASS + 1))
			echo "PASS kernel=$kver mode=$mode e2e (${secs}s)"
			continue
		fi
		NFAIL=$((NFAIL + 1))
		local joined
		joined=$(printf '%s; ' "${reasons[@]}")
		echo "FAIL kernel=$kver mode=$mode e2e (${secs}s) ${joined%; }"
		if [[ -n $line ]]; then
			echo "    | $line"
		else
			# the console from this mode's start: a lockup's backtraces
			sed -n "/^PODPROF-E2E-BEGIN mode=$mode\$/,\$p" "$c" | head -n 250 | sed 's/^/    | /'
		fi
		show_file "podprof run output" "$e/$mode.run.out"
		show_file "podprof run profile ($mode.run.json)" "$e/$mode.run.json" 400
		show_file "podman --hooks-dir output" "$e/$mode.hook.out"
		show_file "hook profile ($mode.hook.json)" "$e/$mode.hook.json" 400
		show_file "seccomp profile ($mode.seccomp.json)" "$e/$mode.seccomp.json" 400
		show_file "podman under the seccomp profile" "$e/$mode.replay.out"
		if [[ -e $e/$mode.denied.out ]]; then show_file "podman under the profile without one call (negative control)" "$e/$mode.denied.out"; fi
		show_file "tracer processes (tracer.log)" "$e/tracer.log"
		if [[ -s $e/syslog ]]; then show_file "guest syslog (podprof tracer)" "$e/syslog"; fi
		if [[ -s $e/dmesg ]]; then
			tail -n 25 "$e/dmesg" >"$e/dmesg.tail"
			show_file "guest dmesg during e2e (tail)" "$e/dmesg.tail"
		fi
		if [[ -z $line || -n $(field reason "$line") ]]; then show_file "podman import" "$e/import.out"; fi
	done
	return 0
}

# ---------------------------------------------------------------------- main

main() {
	ensure_tools
	mkdir -p "$CACHE"
	rm -rf "$CACHE"/.fetch.* 2>/dev/null || true
	if [[ -n ${PODPROF_WORK:-} ]]; then
		WORK=$PODPROF_WORK
		mkdir -p "$WORK"
	else
		WORK=$(mktemp -d /tmp/podprof-kernels.XXXXXX)
	fi
	discover_mirrors
	[[ $OFFLINE == 1 ]] || log "mirrors: $MAIN_MIRROR $SEC_MIRROR"

	# 1. kernels; one that cannot be had fails its modes, the others still run
	local spec suite pkg kvers=() first_suite='' unavailable=()
	for spec in $KERNELS; do
		suite=${spec%%:*}
		[[ -n $first_suite ]] || first_suite=$suite
		pkg=
		if [[ $OFFLINE != 1 ]] && apt_suite "$suite"; then
			pkg=$(resolve_kernel "$spec" | awk '{print $2}') || pkg=
		fi
		if [[ -z $pkg ]]; then
			if [[ $spec == *:* ]]; then pkg=${spec#*:}; else pkg=$(cached_kernel_of_suite "$suite"); fi
			if [[ -z $pkg ]]; then
				unavailable+=("$spec|cannot resolve a kernel for $spec (offline or apt failure, nothing cached)")
				continue
			fi
			log "using cached $pkg for $spec"
		fi
		if fetch_kernel "$suite" "$pkg"; then
			kvers+=("${pkg#linux-image-}")
		else
			unavailable+=("${pkg#linux-image-}|cannot fetch $pkg from $suite")
		fi
	done
	if [[ ! -x $CACHE/busybox/busybox ]]; then
		[[ $OFFLINE == 1 ]] || apt_suite "$first_suite" || die "apt update for $first_suite failed"
		fetch_busybox "$first_suite" || die "cannot fetch busybox-static"
	fi
	local u
	for u in ${unavailable[@]+"${unavailable[@]}"}; do
		fail_modes "${u%%|*}" "${u#*|}"
	done

	# 2. test binary
	local build_err=
	if [[ -n ${PODPROF_TEST_BIN:-} ]]; then
		TEST_BIN=$PODPROF_TEST_BIN
	else
		TEST_BIN=$WORK/bpf.test
		rm -f "$TEST_BIN"
		log "building test binary from $TEST_PKG"
		if ! (cd "$REPO" && CGO_ENABLED=0 go test -c -o "$TEST_BIN" "$TEST_PKG") >"$WORK/build.log" 2>&1; then
			build_err="CGO_ENABLED=0 go test -c $TEST_PKG failed"
		fi
	fi
	if [[ -z $build_err && ! -s $TEST_BIN ]]; then
		build_err="no test binary at $TEST_BIN (does $TEST_PKG have test files?)"
	fi
	if [[ -n $build_err ]]; then
		for kver in ${kvers[@]+"${kvers[@]}"}; do
			fail_modes "$kver" "$build_err"
		done
		[[ -s $WORK/build.log ]] && tail -n 40 "$WORK/build.log" | sed 's/^/    | /'
		kvers=()
	fi

	# 2b. the end-to-end test's guest root (podman, runc, conmon, podprof,
	# the test image); if it can't be had, its lines fail and the bpf tests
	# still run
	E2E_READY=
	local e2e_err=
	if [[ $E2E == 1 ]] && ((${#kvers[@]} > 0)); then
		# build_e2e_root prints why it failed; it runs in a subshell
		if e2e_err=$(build_e2e_root); then
			E2E_READY=1
			E2E_INTERP=$(cat "$WORK/e2e-image/interp") E2E_INTERP_LINK=$(cat "$WORK/e2e-image/interp_link") E2E_LIBC=$(cat "$WORK/e2e-image/libc")
		else
			e2e_err=$(tail -n 1 <<<"$e2e_err")
			log "e2e: cannot build the guest root: $e2e_err"
		fi
	fi

	# 3. initramfs, 4. boot, one kernel at a time (TCG wants both host cores)
	((${#kvers[@]} == 0)) || build_common_initrd
	local kver what
	for kver in ${kvers[@]+"${kvers[@]}"}; do
		mkdir -p "$WORK/$kver"
		if ! build_initrd "$kver"; then
			fail_modes "$kver" "cannot build the initramfs"
			continue
		fi
		what="$MODES${E2E_READY:+; e2e $E2E_MODES}"
		[[ $BENCH == 0 ]] || what="bench $MODES: $BENCH_ROUNDS rounds x $BENCH_PAIRS pairs"
		log "booting $kver ($what) initrd $(($(stat -c %s "$WORK/$kver/initrd.gz") / 1048576)) MB"
		boot_kernel "$kver"
		log_boot "$kver"
		if [[ $BENCH == 1 ]]; then
			report_bench "$kver"
			continue
		fi
		report_kernel "$kver"
		if [[ -n $E2E_READY ]]; then
			report_e2e "$kver"
			[[ -z $E2E_SLIM_MODE ]] || report_slim "$kver"
		elif [[ $E2E == 1 ]]; then
			fail_e2e "$kver" "cannot build the e2e guest root: $e2e_err"
		fi
	done

	echo "$NPASS passed, $NFAIL failed"
	if [[ $BENCH == 1 && -n ${PODPROF_BENCH_JSON:-} ]]; then
		write_bench_json "$PODPROF_BENCH_JSON" ${kvers[@]+"${kvers[@]}"}
	fi
	log "run.sh took $SECONDS s"
	if ((NFAIL == 0)) && [[ ${PODPROF_KEEP:-0} != 1 && -z ${PODPROF_WORK:-} ]]; then
		rm -rf "$WORK"
	else
		log "work dir kept: $WORK"
	fi
	((NFAIL == 0))
}

main "$@"
