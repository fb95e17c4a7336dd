#!/usr/bin/env bash
# Kernel matrix for podprof's tracer: boots Debian kernels under qemu (TCG)
# with an initramfs that runs the bpf package's TestTracer* tests once per
# attach mode, and prints one line per kernel x mode:
#
#   PASS kernel=6.1.0-56-amd64 mode=lsm (4.2s)
#   FAIL kernel=6.12.118+deb13-amd64 mode=fentry (3.1s) test binary exited 1
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
#   PODPROF_QEMU_SMP      guest CPUs (default 2)
#   PODPROF_QEMU_ACCEL    qemu accelerator (default tcg)
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
QEMU_ACCEL=${PODPROF_QEMU_ACCEL:-tcg}
GUEST_LSM=${PODPROF_LSM-lockdown,capability,landlock,bpf}
MODULES=${PODPROF_MODULES:-overlay}
KEYRING=${PODPROF_APT_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

log() { echo "# $*" >&2; }
die() { echo "run.sh: $*" >&2; exit 2; }

case "$TEST_RUN$TEST_TIMEOUT" in *[[:space:]]*) die "PODPROF_TEST_RUN/PODPROF_TEST_TIMEOUT must not contain spaces (they go on the kernel command line)";; esac

# ---------------------------------------------------------------- host tools

ensure_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	command -v dpkg-deb >/dev/null || die "dpkg-deb not found: this script needs a Debian host"
	command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian host"
	command -v gzip >/dev/null || missing+=(gzip)
	command -v xz >/dev/null || missing+=(xz-utils)
	command -v timeout >/dev/null || missing+=(coreutils)
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

cpio_newc() { # cpio_newc DIR OUT.gz: archive DIR's contents, owned by root
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$CACHE/busybox/busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >"$2"
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
	# concatenated compressed cpio archives are one initramfs to the kernel
	cat "$WORK/common.cpio.gz" "$WORK/$kver/modules.cpio.gz" >"$WORK/$kver/initrd.gz"
}

# ---------------------------------------------------------------- boot & parse

boot_kernel() { # boot_kernel KVER -> $WORK/KVER/console.log, qemu.rc, wall
	local kver=$1 d=$WORK/$1
	local append="console=ttyS0${GUEST_LSM:+ lsm=$GUEST_LSM} panic=-1 quiet loglevel=4 podprof.modes=${MODES// /,} podprof.timeout=$TEST_TIMEOUT podprof.run=$TEST_RUN"
	local t0 t1 rc=0
	t0=$(date +%s.%N)
	timeout -k 10 "$QEMU_TIMEOUT" qemu-system-x86_64 \
		-accel "$QEMU_ACCEL" -cpu "$QEMU_CPU" -m "$QEMU_MEM" -smp "$QEMU_SMP" \
		-nographic -no-reboot -no-user-config -nic none \
		-kernel "$CACHE/$kver/vmlinuz" -initrd "$d/initrd.gz" \
		-append "$append" </dev/null >"$d/console.log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	echo "$rc" >"$d/qemu.rc"
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f\n", b-a}' >"$d/wall"
	# drop CRs and the firmware's terminal escapes (they can prefix a line)
	sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[A-Za-z]//g' \
		-e 's/^.\{1,\}\(PODPROF-[A-Z]\)/\1/' <"$d/console.log" >"$d/console.txt"
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
fail_modes() { # fail_modes KERNEL REASON: a FAIL line for each mode
	local mode
	for mode in $MODES; do
		NFAIL=$((NFAIL + 1))
		echo "FAIL kernel=$1 mode=$mode (0s) $2"
	done
}
report_kernel() { # report_kernel KVER: prints the PASS/FAIL lines
	local kver=$1 d=$WORK/$1 c=$WORK/$1/console.txt
	local qrc wall
	qrc=$(cat "$d/qemu.rc") wall=$(cat "$d/wall")
	[[ ${PODPROF_VERBOSE:-0} == 1 ]] && sed 's/^/    | /' "$c"
	local init lsm btf mods
	init=$(grep -m1 '^PODPROF-INIT ' "$c" || true)
	lsm=$(sed -n 's/^PODPROF-LSM //p' "$c" | head -n 1)
	btf=$(sed -n 's/^PODPROF-BTF //p' "$c" | head -n 1)
	mods=$(sed -n 's/^PODPROF-MODULE name=\([^ ]*\) status=\([^ ]*\).*/\1:\2/p' "$c" | tr '\n' ' ')
	log "kernel=$kver pkg=$(cat "$CACHE/$kver/package")=$(cat "$CACHE/$kver/version") boot=${init:+$(field uptime "$init")s} qemu-wall=${wall}s qemu-rc=$qrc lsm=${lsm:-?} btf=[${btf:-?}] modules=[${mods% }] log=$d/console.log"
	local mode line status secs reason
	for mode in $MODES; do
		line=$(grep -m1 "^PODPROF-RESULT mode=$mode " "$c" || true)
		if [[ -n $line ]]; then
			status=$(field status "$line") secs=$(field secs "$line") reason=$(field reason "$line")
		else
			status=FAIL secs='?'
			if [[ $qrc == 124 || $qrc == 137 ]]; then
				reason="qemu timed out after ${QEMU_TIMEOUT}s"
			elif grep -q 'Kernel panic' "$c"; then
				reason="kernel panic: $(grep -m1 'Kernel panic' "$c" | sed 's/^\[[^]]*\] *//')"
			elif [[ -z $init ]]; then
				reason="guest never reached /init (qemu exit $qrc)"
			else
				reason="no result for this mode (qemu exit $qrc)"
			fi
		fi
		if [[ $status == PASS ]]; then
			NPASS=$((NPASS + 1))
			echo "PASS kernel=$kver mode=$mode (${secs}s)"
		else
			NFAIL=$((NFAIL + 1))
			echo "FAIL kernel=$kver mode=$mode (${secs}s) $reason"
			# this mode's test output, else the console tail
			local out
			out=$(sed -n "/^PODPROF-BEGIN mode=$mode\$/,/^PODPROF-END mode=$mode\$/p" "$c" | sed '1d;$d')
			[[ -n $out ]] || out=$(tail -n 40 "$c")
			tail -n 60 <<<"$out" | sed 's/^/    | /'
			if grep -q '^PODPROF-DMESG-BEGIN' "$c"; then
				echo "    | --- guest dmesg (tail) ---"
				sed -n '/^PODPROF-DMESG-BEGIN/,/^PODPROF-DMESG-END/p' "$c" | sed '1d;$d' | tail -n 25 | sed 's/^/    | /' | grep . || echo "    | (none logged while the tests ran)"
			fi
		fi
	done
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

	# 3. initramfs, 4. boot, one kernel at a time (TCG wants both host cores)
	((${#kvers[@]} == 0)) || build_common_initrd
	local kver
	for kver in ${kvers[@]+"${kvers[@]}"}; do
		mkdir -p "$WORK/$kver"
		build_initrd "$kver"
		log "booting $kver ($MODES)"
		boot_kernel "$kver"
		report_kernel "$kver"
	done

	echo "$NPASS passed, $NFAIL failed"
	if ((NFAIL == 0)) && [[ ${PODPROF_KEEP:-0} != 1 && -z ${PODPROF_WORK:-} ]]; then
		rm -rf "$WORK"
	else
		log "work dir kept: $WORK"
	fi
	((NFAIL == 0))
}

main "$@"
