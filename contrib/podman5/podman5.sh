#!/usr/bin/env bash
# contrib/podman5/podman5.sh: podprof's end-to-end tests (./run) against
# Podman 5 from Debian trixie, in a cached debootstrap chroot on this
# Debian 12 host. See README.md beside this file.
#
#   podman5.sh test [TEST FLAGS...]  build, prepare the chroot, run the suite
#                                    inside it, then the seccomp replay tests
#                                    under crun, print a summary (default)
#   podman5.sh prepare               only create/refresh the chroot and images
#   podman5.sh enter [CMD...]        run CMD (default: bash) in the chroot,
#                                    as the tests run: in REPO/run, with
#                                    PODPROF_TEST_BIN set
#   podman5.sh bench [N]             median wall time of N (default 10)
#                                    `podprof run --rm BUSYBOX true` and
#                                    `podman run --rm BUSYBOX true` in the chroot
#
# TEST FLAGS are the test binary's (-test.run REGEXP, -test.v...).
#
# Environment (all optional):
#   PODPROF_CACHE         cache dir (default /var/cache/podprof); the chroot is
#                         $PODPROF_CACHE/trixie-podman5
#   PODPROF_PODMAN5_ROOT  the chroot dir itself
#   PODPROF_DEBIAN_MIRROR Debian mirror for debootstrap (default: the host of
#                         this machine's apt sources, else deb.debian.org)
#   PODPROF_PODMAN5_REBUILD=1  throw the cached chroot away and bootstrap anew
#   PODPROF_TEST_TIMEOUT  -test.timeout (default 30m)
#   GO, GO_TAGS           the toolchain and build tags (the Makefile passes its
#                         own; standalone, go from PATH or /usr/local/go and the
#                         Makefile's GO_TAGS)
#   PODPROF_BIN           use this podprof instead of building one
#   PODMAN_IGNORE_CGROUPSV1_WARNING  passed into the chroot; default 1. This
#                         host has hybrid cgroups, and every podman 5 command
#                         warns that cgroups v1 is deprecated on stderr, which
#                         the tests compare; set it empty to see the warning.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${PODPROF_CACHE:-/var/cache/podprof}
ROOT=${PODPROF_PODMAN5_ROOT:-$CACHE/trixie-podman5}
SUITE=trixie
# podman, runc (the suite's runtime, as on the host) and crun (the seccomp
# replay tests run again under it); what the tests run besides podman: tmux
# (terminal tests), make and man-db (make install and its man pages),
# bash-completion (completion tests, with podman 5's own script). Go is the
# host's, bound in (tests build helpers, and make install builds podprof).
PACKAGES=podman,runc,crun,ca-certificates,tmux,make,bash-completion,man-db
# Bump when the chroot's recipe below changes: the cached chroot is rebuilt.
RECIPE=2
STAMP=/etc/podprof-podman5.recipe
STAMP_CONTENT="recipe=$RECIPE suite=$SUITE packages=$PACKAGES"
# The host images the tests use (made by contrib/setup.sh), copied into the
# chroot's own store.
IMAGES=(localhost/podprof-test/busybox:latest localhost/podprof-demo/debian:bookworm
	localhost/podprof-test/workloads:bookworm localhost/podprof-test/nginx:bookworm)
BUSYBOX=${IMAGES[0]}
# Where podprof and the test binary go inside the chroot. The repository
# itself is bound at its own path, and the tests run in REPO/run, as go test
# runs them: their ../contrib/..., `make -C ..` work as on the host.
OPT=/opt/podprof
CHROOT_PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

export PODMAN_IGNORE_CGROUPSV1_WARNING=${PODMAN_IGNORE_CGROUPSV1_WARNING-1}

log() { printf '[podman5] %s\n' "$*" >&2; }
die() { printf '[podman5] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

# --- entering the chroot -----------------------------------------------------
# A private mount namespace per entry: nothing is mounted on the host, and
# the mounts go away with the last process inside. The chroot dir is bound
# onto itself first, so that it is a mount point (podman's image import
# remounts the root: "remount /, flags: 0x44000: invalid argument" without
# it). /sys comes recursively (cgroups, BTF, bpffs, tracefs, securityfs), as
# does /dev (pts, shm, mqueue), but for the cgroup v2 mount of this host's
# hybrid layout (below); /run and /tmp are fresh each time, as after a
# reboot. Then the BINDS (below), and chroot with a clean environment.
#
# Why no /sys/fs/cgroup/unified: crun refuses hybrid cgroups whose v2
# hierarchy has a controller ("cgroups in hybrid mode not supported, drop
# all controllers from cgroupv2"), and here it has hugetlb, which no v1
# hierarchy takes. Without that mount both crun and runc see the v1
# hierarchies alone, a layout they both support. Only this mount namespace
# loses it: the host's cgroups stay as they are.
#
# Arguments: ROOT NSFILE DIR, then SRC DST ro|rw triples, --, NAME=VALUE
# settings, --, the command.
# shellcheck disable=SC2016 # expanded by the inner bash
ENTER='
set -e
R=$1 NSFILE=$2 DIR=$3; shift 3
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
if awk -v m="$R/sys/fs/cgroup/unified" '\''$5 == m {f = 1} END {exit !f}'\'' /proc/self/mountinfo; then
	umount "$R/sys/fs/cgroup/unified"
fi
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
while [ "$1" != -- ]; do
	mkdir -p "$R$2"
	mount --bind "$1" "$R$2"
	[ "$3" = rw ] || mount -o remount,bind,ro "$R$2"
	shift 3
done
shift
env=()
while [ "$1" != -- ]; do env+=("$1"); shift; done
shift
[ -z "$NSFILE" ] || readlink /proc/self/ns/mnt >"$NSFILE"
cd "$R"
exec chroot "$R" /usr/bin/env -i -C "$DIR" "${env[@]}" "$@"
'

# The host's Go: the toolchain at /usr/local/go (read-only), its module and
# build caches at their own paths (shared: the same toolchain, and the
# host's go test has filled them).
GOROOT_HOST=/usr/local/go GOCACHE_HOST="" GOMODCACHE_HOST=""
go_env() {
	local v
	if v=$("$(go_cmd)" env GOROOT GOCACHE GOMODCACHE 2>/dev/null); then
		{ read -r GOROOT_HOST; read -r GOCACHE_HOST; read -r GOMODCACHE_HOST; } <<<"$v"
	fi
}

# in_chroot [--ns FILE] [--dir DIR] CMD...: runs CMD in the chroot.
in_chroot() {
	local nsfile="" dir=/ binds=() env=()
	while :; do
		case $1 in
		--ns) nsfile=$2; shift 2 ;;
		--dir) dir=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[ -d "$GOROOT_HOST" ] && binds+=("$GOROOT_HOST" /usr/local/go ro)
	[ -d "$REPO" ] && binds+=("$REPO" "$REPO" rw)
	env=(HOME=/root "PATH=$CHROOT_PATH" LANG=C.UTF-8 CGO_ENABLED=0)
	if [ -n "$GOMODCACHE_HOST" ]; then
		mkdir -p "$GOMODCACHE_HOST"
		binds+=("$GOMODCACHE_HOST" "$GOMODCACHE_HOST" rw)
		env+=("GOMODCACHE=$GOMODCACHE_HOST")
	fi
	if [ -n "$GOCACHE_HOST" ] && [ "$GOCACHE_HOST" != off ]; then
		mkdir -p "$GOCACHE_HOST"
		binds+=("$GOCACHE_HOST" "$GOCACHE_HOST" rw)
		env+=("GOCACHE=$GOCACHE_HOST")
	fi
	[ -z "${TERM:-}" ] || env+=("TERM=$TERM")
	[ -z "${PODMAN_IGNORE_CGROUPSV1_WARNING:-}" ] || env+=("PODMAN_IGNORE_CGROUPSV1_WARNING=$PODMAN_IGNORE_CGROUPSV1_WARNING")
	[ -z "${PODPROF_TEST_BIN:-}" ] || env+=("PODPROF_TEST_BIN=$PODPROF_TEST_BIN")
	[ -z "${CONTAINERS_CONF_OVERRIDE:-}" ] || env+=("CONTAINERS_CONF_OVERRIDE=$CONTAINERS_CONF_OVERRIDE")
	unshare --mount --propagation private -- bash -c "$ENTER" enter \
		"$ROOT" "$nsfile" "$dir" "${binds[@]}" -- "${env[@]}" -- "$@"
}

# ns_pids NS: the processes in mount namespace NS ("mnt:[N]").
ns_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
	return 0
}

# reap NSFILE: waits for what is left in the namespace the last in_chroot
# --ns NSFILE made (the tracer exits by itself once nothing is traced), and
# ends it, by pid, if it lingers.
reap() {
	local ns pids
	[ -s "$1" ] || return 0
	ns=$(cat "$1")
	rm -f "$1"
	for _ in $(seq 1 150); do
		pids=$(ns_pids "$ns")
		[ -z "$pids" ] && return 0
		sleep 0.1
	done
	log "processes still in the chroot after 15 s, ending them: $(tr '\n' ' ' <<<"$pids")"
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	sleep 2
	pids=$(ns_pids "$ns")
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

# --- the chroot ----------------------------------------------------------------
debian_mirror() {
	if [ -n "${PODPROF_DEBIAN_MIRROR:-}" ]; then
		echo "${PODPROF_DEBIAN_MIRROR%/}"
		return
	fi
	local m
	# The host this machine's apt uses for Debian's main archive.
	# shellcheck disable=SC2016 # apt's own $(...) fields
	m=$(apt-get indextargets --format '$(REPO_URI) $(LABEL) $(COMPONENT)' 2>/dev/null |
		awk '$2 == "Debian" && $3 == "main" {print $1; exit}' || true)
	m=${m:-http://deb.debian.org/debian/}
	echo "${m%/}"
}

# Configuration files written into the chroot (and kept in step on every run).
#
# The containers.conf drop-in is the one contrib/setup.sh writes on the host
# (runc, as the host's podman runs; the default nofile/nproc are above the
# hard limits), plus no firewall rules for netavark: the chroot shares the
# host's network namespace and netfilter, which the host's podman uses too.
# The crun pass adds CRUN_CONF with CONTAINERS_CONF_OVERRIDE, for podman and
# for podprof's podman service alike (it inherits the environment).
CONF_DROPIN=/etc/containers/containers.conf.d/50-podprof.conf
CONF_CONTENT='# Written by podprof contrib/podman5/podman5.sh. Like contrib/setup.sh on the
# host, plus no firewall rules: this chroot shares the host network.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"

[network]
firewall_driver = "none"
'
CRUN_CONF=/etc/containers/podprof-crun.conf
CRUN_CONF_CONTENT='# Written by podprof contrib/podman5/podman5.sh: the crun pass.
[engine]
runtime = "crun"
'
# podman's default network "podman", with a bridge and subnet of its own:
# the host's podman 4 has podman0 on 10.88.0.0/16 in the same network
# namespace, and the two IPAMs do not know each other.
NET_FILE=/etc/containers/networks/podman.json
NET_CONTENT='{
     "name": "podman",
     "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
     "driver": "bridge",
     "network_interface": "podprof5",
     "created": "2025-01-01T00:00:00Z",
     "subnets": [
          {
               "subnet": "10.255.5.0/24",
               "gateway": "10.255.5.1"
          }
     ],
     "ipv6_enabled": false,
     "internal": false,
     "dns_enabled": false,
     "ipam_options": {
          "driver": "host-local"
     }
}
'

# write_file ROOT PATH CONTENT: writes PATH under ROOT if it differs.
write_file() {
	if [ "$(cat "$1$2" 2>/dev/null)" != "$(printf '%s' "$3")" ]; then
		mkdir -p "$(dirname "$1$2")"
		printf '%s' "$3" >"$1$2.tmp"
		mv "$1$2.tmp" "$1$2"
	fi
}

chroot_current() {
	[ -x "$ROOT/usr/bin/podman" ] && [ -f "$ROOT$STAMP" ] && [ "$(cat "$ROOT$STAMP")" = "$STAMP_CONTENT" ]
}

bootstrap() {
	local new=$ROOT.new mirror t0=$SECONDS
	mirror=$(debian_mirror)
	rm -rf --one-file-system "$new"
	log "debootstrap --variant=minbase --include=$PACKAGES $SUITE $mirror (about a minute)"
	# In a mount namespace of its own: the proc/sys debootstrap mounts in the
	# target vanish with it, even if it fails.
	if ! unshare --mount --propagation private -- \
		debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$new" "$mirror" >"$CACHE/podman5-debootstrap.log" 2>&1; then
		tail -n 30 "$CACHE/podman5-debootstrap.log" >&2
		rm -rf --one-file-system "$new"
		die "debootstrap failed (log: $CACHE/podman5-debootstrap.log)"
	fi
	rm -rf "${new:?}"/var/cache/apt/archives/*.deb
	printf 'deb %s %s main\n' "$mirror" "$SUITE" >"$new/etc/apt/sources.list"
	mkdir -p "$new$OPT" "$new/usr/local/go"
	printf '%s' "$STAMP_CONTENT" >"$new$STAMP"
	rm -rf --one-file-system "$ROOT"
	mv "$new" "$ROOT"
	log "chroot ready in $((SECONDS - t0)) s: $ROOT ($(du -sh --one-file-system "$ROOT" | cut -f1))"
}

ensure_chroot() {
	if [ "${PODPROF_PODMAN5_REBUILD:-0}" = 1 ] || ! chroot_current; then
		bootstrap
	else
		log "chroot: $ROOT is current"
	fi
	write_file "$ROOT" "$CONF_DROPIN" "$CONF_CONTENT"
	write_file "$ROOT" "$NET_FILE" "$NET_CONTENT"
	write_file "$ROOT" "$CRUN_CONF" "$CRUN_CONF_CONTENT"
}

# ensure_images: the chroot's store holds the host's test images (same ids:
# podman save on the host, podman load in the chroot), and no containers or
# other images left by an earlier run. Few podman calls: each costs a start.
ensure_images() {
	local img host_ids state id extra=() i=0
	host_ids=$(podman image inspect --format '{{.Id}}' "${IMAGES[@]}" 2>/dev/null) ||
		die "host images ${IMAGES[*]} are missing: run contrib/setup.sh (make setup) first"
	mapfile -t host_ids <<<"$host_ids"
	# shellcheck disable=SC2016 # expanded in the chroot
	state=$(in_chroot sh -c '
		podman rm --all --force --time 0 >/dev/null 2>&1 || true
		for img in "$@"; do echo "image $img $(podman image inspect --format "{{.Id}}" "$img" 2>/dev/null)"; done
		podman images --all --quiet --no-trunc | sed "s/^sha256:/any /"' sh "${IMAGES[@]}")
	for img in "${IMAGES[@]}"; do
		id=${host_ids[$i]}
		i=$((i + 1))
		if grep -qxF "image $img $id" <<<"$state"; then
			log "images: $img present (${id:0:12})"
			continue
		fi
		log "images: copying $img (${id:0:12}) into the chroot's store"
		podman save --quiet --format docker-archive "$img" | in_chroot podman load --quiet >/dev/null
		[ "$(in_chroot podman image inspect --format '{{.Id}}' "$img")" = "$id" ] ||
			die "loading $img into the chroot did not give image $id"
	done
	# Anything else is a leftover of an earlier run (tests remove their own
	# images when they end normally).
	while read -r id; do
		[[ " ${host_ids[*]} " == *" $id "* ]] || extra+=("$id")
	done < <(awk '$1 == "any" {print $2}' <<<"$state" | sort -u)
	if [ ${#extra[@]} -gt 0 ]; then
		log "images: removing ${#extra[@]} left over from an earlier run"
		in_chroot podman rmi --force "${extra[@]}" >/dev/null 2>&1 || true
	fi
}

# --- binaries ------------------------------------------------------------------
go_cmd() {
	if [ -n "${GO:-}" ]; then echo "$GO"; return; fi
	command -v go 2>/dev/null || echo "$GOROOT_HOST/bin/go"
}
go_tags() {
	if [ -n "${GO_TAGS:-}" ]; then echo "$GO_TAGS"; return; fi
	sed -n 's/^GO_TAGS[[:space:]]*:*=[[:space:]]*//p' "$REPO/Makefile" | head -n1
}

# install_binaries: podprof, podprof-podman, podprof-hook and the run package's test binary into the
# chroot's $OPT.
install_binaries() {
	local go tags t0=$SECONDS
	go=$(go_cmd)
	tags=$(go_tags)
	mkdir -p "$ROOT$OPT"
	# podprof, and beside it podprof-podman (podprof execs it for run and
	# slim) and podprof-hook (the hook podprof run installs)
	if [ -n "${PODPROF_BIN:-}" ]; then
		install -m 0755 "$PODPROF_BIN" "$ROOT$OPT/podprof.new"
		install -m 0755 "$(dirname "$PODPROF_BIN")/podprof-podman" "$ROOT$OPT/podprof-podman.new"
		install -m 0755 "$(dirname "$PODPROF_BIN")/podprof-hook" "$ROOT$OPT/podprof-hook.new"
	else
		(cd "$REPO" && CGO_ENABLED=0 "$go" build -tags "$tags" -o "$ROOT$OPT/podprof.new" . &&
			CGO_ENABLED=0 "$go" build -tags "$tags" -o "$ROOT$OPT/podprof-podman.new" ./run/podprof-podman &&
			CGO_ENABLED=0 "$go" build -o "$ROOT$OPT/podprof-hook.new" ./tracerd/podprof-hook)
	fi
	mv "$ROOT$OPT/podprof.new" "$ROOT$OPT/podprof"
	mv "$ROOT$OPT/podprof-podman.new" "$ROOT$OPT/podprof-podman"
	mv "$ROOT$OPT/podprof-hook.new" "$ROOT$OPT/podprof-hook"
	(cd "$REPO" && CGO_ENABLED=0 "$go" test -c -tags "$tags" -o "$ROOT$OPT/run.test.new" ./run)
	mv "$ROOT$OPT/run.test.new" "$ROOT$OPT/run.test"
	log "binaries: podprof and run.test in $ROOT$OPT ($((SECONDS - t0)) s)"
}

# --- commands --------------------------------------------------------------------
mkdir -p "$CACHE"
exec 9>"$CACHE/podman5.lock"
# One user of the chroot at a time: it has one store and one /run/podprof.
flock 9

NSFILE=$CACHE/podman5.mntns
go_env

cmd_prepare() {
	ensure_chroot
	ensure_images
	log "podman in the chroot: $(in_chroot podman --version)"
}

cmd_enter() {
	ensure_chroot
	[ $# -gt 0 ] || set -- bash
	local rc=0
	PODPROF_TEST_BIN=$OPT/podprof in_chroot --ns "$NSFILE" --dir "$REPO/run" "$@" || rc=$?
	reap "$NSFILE"
	return $rc
}

# Tests that need what only the host's setup makes, not the chroot: the
# rootless test users and their stores, the rpm tool and the package
# tests' rpm and Alpine-style images. They run on the host (make test-go).
HOST_ONLY_TESTS='^(TestRootless.*|TestPackagesRpm|TestPackagesApk)$'

# The seccomp replay test again with crun as the runtime, for podman and
# podprof's service alike: crun installs the filter at another point than
# runc (right before it execs the workload), so a recorded profile must
# replay under it too.
CRUN_TESTS='^TestSeccompProfileReplaysWorkloads$'

cmd_test() {
	local t0=$SECONDS rc=0 version runtime
	ensure_chroot
	install_binaries
	ensure_images
	version=$(in_chroot podman --version)
	# Profiles an earlier run (or enter, bench) left in podprof's default dir.
	rm -rf "${ROOT:?}/var/lib/podprof"
	suite "$version" "$CACHE/podman5-test.log" -test.skip "$HOST_ONLY_TESTS" "$@" || rc=1

	# The crun pass: podman must say that crun is its runtime, or the
	# pass would prove nothing.
	runtime=$(CONTAINERS_CONF_OVERRIDE=$CRUN_CONF in_chroot podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}' 2>&1 | tail -n 1)
	if [ "${runtime%% *}" != crun ]; then
		printf '\nFAIL: with %s podman'"'"'s runtime is not crun: %s\n' "$CRUN_CONF" "$runtime"
		rc=1
	else
		CONTAINERS_CONF_OVERRIDE=$CRUN_CONF suite "$version, runtime $runtime" "$CACHE/podman5-crun-test.log" -test.run "$CRUN_TESTS" || rc=1
	fi
	log "total $((SECONDS - t0)) s"
	return $rc
}

# suite WHAT LOG [TEST FLAGS...]: runs the run package's tests in the chroot,
# their output to the terminal and LOG, then one line per top-level test and
# the counts. Fails if the test binary or a test does, or none passed.
suite() {
	local what=$1 logf=$2 t1=$SECONDS rc=0 pass fail skip
	shift 2
	log "running the run package's tests against $what (log: $logf)"
	set +e
	PODPROF_TEST_BIN=$OPT/podprof in_chroot --ns "$NSFILE" --dir "$REPO/run" \
		"$OPT/run.test" -test.v -test.count=1 -test.timeout "${PODPROF_TEST_TIMEOUT:-30m}" \
		"$@" 2>&1 | tee "$logf"
	rc=${PIPESTATUS[0]}
	set -e
	reap "$NSFILE"

	# Summary: one line per top-level test, then the counts.
	pass=$(grep -c '^--- PASS' "$logf" || true)
	fail=$(grep -c '^--- FAIL' "$logf" || true)
	skip=$(grep -c '^--- SKIP' "$logf" || true)
	printf '\n==== podprof e2e tests against %s (%s, chroot %s) ====\n' "$what" "$SUITE" "$ROOT"
	# A failed test's line also shows its last message (t.Fatal's, usually).
	awk '
		/^=== RUN   [^\/]+$/ { msg = "" }
		/^ +[A-Za-z0-9_]+_test\.go:[0-9]+: / { msg = $0; sub(/^ +/, "", msg) }
		/^--- (PASS|SKIP): / { sub(/:$/, "", $2); print $2 " " $3 " " $4 }
		/^--- FAIL: / { print "FAIL " $3 " " $4 (msg != "" ? "  " substr(msg, 1, 160) : "") }
	' "$logf"
	printf '%d passed, %d failed, %d skipped; test binary exit %d; tests %d s\n' \
		"$pass" "$fail" "$skip" "$rc" "$((SECONDS - t1))"
	if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then
		echo "FAIL: podprof against $what"
		return 1
	fi
	echo "OK: podprof against $what"
}

# median of the numbers on stdin
median() { sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

cmd_bench() {
	local n=${1:-10} out
	[ -x "$ROOT$OPT/podprof" ] || die "no podprof in the chroot yet: run $0 test (or prepare after a build) first"
	ensure_chroot
	ensure_images
	# Both commands alternate, after one warm-up run each; times in ms.
	# shellcheck disable=SC2016
	out=$(in_chroot --ns "$NSFILE" bash -c '
		n=$1 img=$2
		ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
		ms /opt/podprof/podprof run --rm --podprof-output=/tmp/bench.json "$img" true >/dev/null
		ms podman run --rm "$img" true >/dev/null
		for i in $(seq "$n"); do
			echo "podprof $(ms /opt/podprof/podprof run --rm --podprof-output=/tmp/bench.json "$img" true)"
			echo "podman $(ms podman run --rm "$img" true)"
		done' bench "$n" "$BUSYBOX")
	reap "$NSFILE"
	echo "$(in_chroot podman --version), $n runs each, wall time in ms:"
	for what in podprof podman; do
		printf '%-8s median %s  (all: %s)\n' "$what" \
			"$(awk -v w=$what '$1 == w {print $2}' <<<"$out" | median)" \
			"$(awk -v w=$what '$1 == w {print $2}' <<<"$out" | xargs)"
	done
}

case ${1:-test} in
test) shift || true; cmd_test "$@" ;;
prepare) cmd_prepare ;;
enter) shift; cmd_enter "$@" ;;
bench) shift; cmd_bench "$@" ;;
*) die "unknown command $1: use test, prepare, enter or bench" ;;
esac
