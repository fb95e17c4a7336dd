#!/usr/bin/env bash
# contrib/podman-system-tests/run.sh: podman's own system tests as podprof's
# yardstick. Runs the chosen test/system/*.bats suites of the installed
# podman's version with PODMAN=podman, then with PODMAN=podprof, and fails
# listing every test that passes with podman but not with podprof.
#
#   run.sh [options] [SUITE...]
#     SUITE            030, 030-run or 030-run.bats (default: $DEFAULT_SUITES)
#     --podprof PATH   podprof binary (default: ./podprof)
#     --podman PATH    the real podman (default: /usr/bin/podman)
#     --only podman|podprof   run one side only (no comparison)
#     --clean          first remove the isolated storage, the copies of the
#                      tests and binary, the test image (not the results of
#                      earlier runs); only that if no suite is given
#
# Environment:
#   PODPROF_SYSTEST_DIR      work dir: test copies, results, storage
#                            (default /var/tmp/podprof-system-tests)
#   PODPROF_SYSTEST_RUNDIR   runroot and libpod tmp dir (default /run/podprof-system-tests)
#   PODPROF_SYSTEST_SUITES   suites to run when none are given
#   PODPROF_SYSTEST_TIMEOUT  seconds one suite may take with one binary (default 900)
#   PODPROF_SYSTEST_RETRIES  times a regression is run again alone with podprof
#                            (default 2); one that passes then counts as flaky
#
# Isolation: the suites remove every container, pod and image they did not
# create (helpers.bash basic_setup/teardown). They run against a private
# storage (CONTAINERS_STORAGE_CONF: graphroot and runroot below the dirs
# above) whose libpod database also records a private tmp dir (events, exit
# files, alive file), so containers and images of other podman users on this
# machine are never touched. containers.conf stays the machine's own.
# Networks (/etc/containers/networks) are shared: the suites' `network prune`
# only removes networks no container uses.
set -uo pipefail

DEFAULT_SUITES="001-basic 030-run 032-sig-proxy 035-logs 040-ps 045-start 050-stop 055-rm 060-mount 075-exec 080-pause 130-kill 160-volumes 190-run-ipcns 200-pod 220-healthcheck 300-cli-parsing 450-interactive"

here=$(cd "$(dirname "$0")" && pwd)
DIR=${PODPROF_SYSTEST_DIR:-/var/tmp/podprof-system-tests}
RUNDIR=${PODPROF_SYSTEST_RUNDIR:-/run/podprof-system-tests}
SUITE_TIMEOUT=${PODPROF_SYSTEST_TIMEOUT:-900}
PODMAN_BIN=/usr/bin/podman
PODPROF_BIN=./podprof
ONLY=
CLEAN=
suites=()

log() { printf '[podman-system-tests] %s\n' "$*" >&2; }
die() { printf '[podman-system-tests] ERROR: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--podprof) PODPROF_BIN=$2; shift 2 ;;
	--podprof=*) PODPROF_BIN=${1#*=}; shift ;;
	--podman) PODMAN_BIN=$2; shift 2 ;;
	--podman=*) PODMAN_BIN=${1#*=}; shift ;;
	--only) ONLY=$2; shift 2 ;;
	--only=*) ONLY=${1#*=}; shift ;;
	--clean) CLEAN=1; shift ;;
	-h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) suites+=("$1"); shift ;;
	esac
done
[ ${#suites[@]} -gt 0 ] || [ -n "$CLEAN" ] || read -r -a suites <<<"${PODPROF_SYSTEST_SUITES:-$DEFAULT_SUITES}"
case $ONLY in "" | podman | podprof) ;; *) die "--only takes podman or podprof" ;; esac

[ "$(id -u)" -eq 0 ] || die "must run as root (podprof run needs root)"

export CONTAINERS_STORAGE_CONF=$DIR/storage.conf

clean_storage() {
	if [ -f "$CONTAINERS_STORAGE_CONF" ]; then
		"$PODMAN_BIN" pod rm -a -f -t 0 >/dev/null 2>&1
		"$PODMAN_BIN" rm -a -f -t 0 >/dev/null 2>&1
		"$PODMAN_BIN" volume rm -a -f >/dev/null 2>&1
	fi
	local m d
	for d in "$DIR" "$RUNDIR"; do
		awk -v w="$d/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r |
			while read -r m; do umount -l "$m" || true; done
	done
	rm -rf --one-file-system "$RUNDIR"
	# Everything but the results of earlier runs.
	[ -d "$DIR" ] && find "$DIR" -mindepth 1 -maxdepth 1 ! -name results -exec rm -rf --one-file-system {} +
}
if [ -n "$CLEAN" ]; then
	log "removing $RUNDIR and $DIR (but $DIR/results)"
	clean_storage
	[ ${#suites[@]} -gt 0 ] || exit 0
fi

# --- tools -----------------------------------------------------------------
need_pkgs=()
command -v bats >/dev/null || need_pkgs+=(bats)
command -v socat >/dev/null || need_pkgs+=(socat) # 450-interactive's pty
command -v busybox >/dev/null || need_pkgs+=(busybox-static)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null ||
		die "apt-get install ${need_pkgs[*]} failed"
fi
[ -x "$PODMAN_BIN" ] || die "$PODMAN_BIN not found"
[ -n "$ONLY" ] && [ "$ONLY" = podman ] || [ -x "$PODPROF_BIN" ] || die "$PODPROF_BIN not found: run make build"

# --- the tests of the installed podman's own version ------------------------
version=$(env -u CONTAINERS_STORAGE_CONF "$PODMAN_BIN" version --format '{{.Client.Version}}') ||
	die "$PODMAN_BIN version failed"
major=${version%%.*}
module=github.com/containers/podman
[ "$major" -ge 2 ] && module=$module/v$major
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
modcache=$("$GO" env GOMODCACHE 2>/dev/null)
src=$modcache/$module@v$version/test/system
if [ ! -d "$src" ]; then
	log "downloading $module@v$version (Go module cache)"
	(cd /tmp && GOFLAGS=-mod=mod "$GO" mod download "$module@v$version") ||
		die "go mod download $module@v$version failed"
fi
[ -f "$src/helpers.bash" ] || die "$src/helpers.bash not found"
mkdir -p "$DIR" "$RUNDIR"
tests=$DIR/test-v$version
if [ ! -f "$tests/system/helpers.bash" ]; then
	rm -rf "$tests"
	mkdir -p "$tests"
	cp -r "$src" "$tests/system" && chmod -R u+w "$tests" || die "copying $src"
fi

# --- isolated storage ------------------------------------------------------
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
# podprof system tests: private storage (see contrib/podman-system-tests/run.sh)
[storage]
driver = "overlay"
graphroot = "$DIR/storage"
runroot = "$RUNDIR/storage"
EOF
if [ ! -f "$DIR/storage/libpod/bolt_state.db" ]; then
	# The first command creates the libpod database, which records the tmp
	# dir: later commands without --tmpdir use it.
	"$PODMAN_BIN" --tmpdir "$RUNDIR/libpod" info >/dev/null || die "initialising $DIR/storage"
fi
# Check that the isolation holds before any suite removes anything.
"$PODMAN_BIN" info --format '{{.Store.GraphRoot}}' | grep -qx "$DIR/storage" ||
	die "podman does not use $DIR/storage: isolation failed"

# --- the test image --------------------------------------------------------
eval "$(grep -E '^PODMAN_TEST_IMAGE_(REGISTRY|USER|NAME|TAG)=' "$tests/system/helpers.bash")"
IMAGE=$PODMAN_TEST_IMAGE_REGISTRY/$PODMAN_TEST_IMAGE_USER/$PODMAN_TEST_IMAGE_NAME:$PODMAN_TEST_IMAGE_TAG
archive=$DIR/testimage-$PODMAN_TEST_IMAGE_TAG.tar
recipe_sum=$(sha256sum "$here/testimage.sh" | cut -c1-16)
if [ ! -f "$archive" ] || [ "$(cat "$archive.recipe" 2>/dev/null)" != "$recipe_sum" ]; then
	log "building $IMAGE (local stand-in, $here/testimage.sh)"
	"$PODMAN_BIN" rmi -f "$IMAGE" >/dev/null 2>&1
	"$here/testimage.sh" -p "$PODMAN_BIN" "$IMAGE" "$PODMAN_TEST_IMAGE_TAG" || die "building $IMAGE"
	rm -f "$archive"
	"$PODMAN_BIN" save -q -o "$archive" "$IMAGE" || die "saving $IMAGE"
	echo "$recipe_sum" >"$archive.recipe"
fi
ensure_image() {
	"$PODMAN_BIN" image exists "$IMAGE" && return
	log "restoring $IMAGE (a test removed it)"
	"$PODMAN_BIN" load -q -i "$archive" >/dev/null || die "loading $archive"
}

# --- binaries --------------------------------------------------------------
# A private copy of podprof: a concurrent `make build` must not swap it in
# the middle of a run.
if [ "$ONLY" != podman ]; then
	mkdir -p "$DIR/bin"
	install -m 0755 "$PODPROF_BIN" "$DIR/bin/podprof" || die "copying $PODPROF_BIN"
	install -m 0755 "$(dirname "$PODPROF_BIN")/podprof-podman" "$DIR/bin/podprof-podman" || die "copying podprof-podman, which podprof execs for run"
	install -m 0755 "$(dirname "$PODPROF_BIN")/podprof-hook" "$DIR/bin/podprof-hook" || die "copying podprof-hook, the OCI hook podprof run installs"
	PODPROF_COPY=$DIR/bin/podprof
fi

# --- run -------------------------------------------------------------------
# The suites' and podman's temporary files (image copies, build dirs, bats'
# PODMAN_TMPDIR) go to a private TMPDIR, emptied after each suite: some are
# left behind when a test fails.
export TMPDIR=$DIR/tmp
mkdir -p "$TMPDIR"
clean_tmp() {
	local m
	awk -v w="$TMPDIR/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	find "$TMPDIR" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
	# 030-run's --runtime test copies runc to /var/tmp/myruntimeXXXXXXXXXXXX
	# and removes it only when it passes.
	find /var/tmp -maxdepth 1 -name 'myruntime????????????' -cnewer "$DIR/run.started" -delete 2>/dev/null
}
touch "$DIR/run.started"

results=$DIR/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
ln -sfn "$results" "$DIR/results/latest"
sides=(podman podprof)
[ -n "$ONLY" ] && sides=("$ONLY")

# suite_file NAME: test/system/NNN-name.bats for 030, 030-run or 030-run.bats
suite_file() {
	local s=${1%.bats} f
	f=$(ls "$tests/system/$s"*.bats 2>/dev/null | head -n1)
	[ -n "$f" ] || die "no suite $1 in $tests/system"
	echo "$f"
}

run_suite() { # SIDE BINARY FILE
	local side=$1 bin=$2 file=$3 name start rc
	name=$(basename "$file" .bats)
	ensure_image
	"$PODMAN_BIN" pod rm -a -f -t 0 >/dev/null 2>&1
	"$PODMAN_BIN" rm -a -f -t 0 >/dev/null 2>&1
	start=$SECONDS
	(cd "$tests" && PODMAN=$bin timeout -k 30 "$SUITE_TIMEOUT" bats --tap "system/$name.bats") \
		>"$results/$side/$name.tap" 2>"$results/$side/$name.stderr" </dev/null
	rc=$?
	echo $((SECONDS - start)) >"$results/$side/$name.seconds"
	clean_tmp
	[ $rc -eq 124 ] && echo "# TIMEOUT after ${SUITE_TIMEOUT}s" >>"$results/$side/$name.tap"
	log "$(printf '%-8s %-22s %4ss  %s' "$side" "$name" $((SECONDS - start)) \
		"$(tap_counts "$results/$side/$name.tap")")"
}

# tap_results TAPFILE: one line per test, "NUMBER<TAB>ok|fail|skip<TAB>NAME".
tap_results() {
	sed -nE '
		s/^ok ([0-9]+) (.*) # [sS][kK][iI][pP]( .*)?$/\1\tskip\t\2/p; t
		s/^ok ([0-9]+) (.*)$/\1\tok\t\2/p; t
		s/^not ok ([0-9]+) (.*)$/\1\tfail\t\2/p' "$1"
}
tap_counts() {
	tap_results "$1" | awk -F'\t' '{n[$2]++} END {printf "pass %d, fail %d, skip %d", n["ok"], n["fail"], n["skip"]}'
}

for s in "${suites[@]}"; do suite_file "$s" >/dev/null; done
for side in "${sides[@]}"; do mkdir -p "$results/$side"; done
log "podman $version, tests from $src"
log "suites: ${suites[*]}"
log "results in $results"
total_start=$SECONDS
for s in "${suites[@]}"; do
	file=$(suite_file "$s")
	for side in "${sides[@]}"; do
		if [ "$side" = podman ]; then bin=$PODMAN_BIN; else bin=$PODPROF_COPY; fi
		run_suite "$side" "$bin" "$file"
	done
done
"$PODMAN_BIN" pod rm -a -f -t 0 >/dev/null 2>&1
"$PODMAN_BIN" rm -a -f -t 0 >/dev/null 2>&1
elapsed=$((SECONDS - total_start))

# --- report ----------------------------------------------------------------
# The number of tests a suite has (1..N): tests a killed run never reached
# count as failed.
planned() { sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$1" | head -n1; }
# counts TAPFILE: "pass fail skip"
counts() {
	local n
	n=$(planned "$1")
	tap_results "$1" | awk -F'\t' -v n="${n:-0}" '
		{c[$2]++; seen++}
		END {printf "%d %d %d", c["ok"], c["fail"] + (n > seen ? n - seen : 0), c["skip"]}'
}

# Regressions: a test that passed with podman and did not with podprof.
regressions=$results/regressions.txt
: >"$regressions"
if [ -z "$ONLY" ]; then
	for s in "${suites[@]}"; do
		name=$(basename "$(suite_file "$s")" .bats)
		LC_ALL=C join -t $'\t' -a 1 -e 'not run' -o '1.1,1.2,2.2,1.3' \
			<(tap_results "$results/podman/$name.tap" | LC_ALL=C sort -t $'\t' -k1,1) \
			<(tap_results "$results/podprof/$name.tap" | LC_ALL=C sort -t $'\t' -k1,1) |
			awk -F'\t' -v s="$name" '$2 == "ok" && $3 != "ok" {print s "\t" $1 "\t" $3 "\t" $4}' |
			sort -t $'\t' -k2,2n >>"$regressions"
	done
fi

# Each regression is run again alone with podprof, up to RETRIES times: one
# that passes then is reported as flaky, not as a regression.
RETRIES=${PODPROF_SYSTEST_RETRIES:-2}
retried=$results/retried.txt
: >"$retried"
while IFS=$'\t' read -r suite num st tname; do
	verdict=regression
	for ((r = 1; r <= RETRIES; r++)); do
		ensure_image
		"$PODMAN_BIN" pod rm -a -f -t 0 >/dev/null 2>&1
		"$PODMAN_BIN" rm -a -f -t 0 >/dev/null 2>&1
		re="^$(printf '%s' "$tname" | sed 's/[][\.*^$+?(){}|/]/\\&/g')\$"
		(cd "$tests" && PODMAN=$PODPROF_COPY timeout -k 30 "$SUITE_TIMEOUT" \
			bats --tap --filter "$re" "system/$suite.bats") \
			>"$results/podprof/$suite.retry$r.$num.tap" 2>&1 </dev/null
		clean_tmp
		if grep -qE "^ok 1 " "$results/podprof/$suite.retry$r.$num.tap" &&
			! grep -qiE "^ok 1 .* # skip" "$results/podprof/$suite.retry$r.$num.tap"; then
			verdict="flaky (passed on retry $r)"
			break
		fi
	done
	printf '%s\t%s\t%s\t%s\t%s\n' "$suite" "$num" "$st" "$verdict" "$tname" >>"$retried"
done <"$regressions"
"$PODMAN_BIN" pod rm -a -f -t 0 >/dev/null 2>&1
"$PODMAN_BIN" rm -a -f -t 0 >/dev/null 2>&1

line='-----------------------+------------------------+------------------------+----------------+----------'
rowfmt='%-22s | %-22s | %-22s | %-14s | %s\n'
{
	printf "\n$rowfmt" suite "podman pass/fail/skip" "podprof pass/fail/skip" regressions seconds
	echo "$line"
} | tee "$results/summary.txt"
tot=(0 0 0 0 0 0 0 0)
for s in "${suites[@]}"; do
	name=$(basename "$(suite_file "$s")" .bats)
	cells=() secs=()
	for side in 0 1; do
		[ $side = 1 ] && tap=$results/podprof/$name.tap || tap=$results/podman/$name.tap
		if [ ! -f "$tap" ]; then cells+=("-"); continue; fi
		set -- $(counts "$tap")
		cells+=("$1 / $2 / $3")
		tot[side * 3]=$((tot[side * 3] + $1))
		tot[side * 3 + 1]=$((tot[side * 3 + 1] + $2))
		tot[side * 3 + 2]=$((tot[side * 3 + 2] + $3))
		secs+=("$(cat "${tap%.tap}.seconds")")
	done
	reg=-
	if [ -z "$ONLY" ]; then
		nreg=$(awk -F'\t' -v s="$name" '$1 == s && $4 == "regression"' "$retried" | wc -l)
		nflaky=$(awk -F'\t' -v s="$name" '$1 == s && $4 != "regression"' "$retried" | wc -l)
		reg=$nreg
		[ "$nflaky" -gt 0 ] && reg="$nreg (+$nflaky flaky)"
		tot[6]=$((tot[6] + nreg))
		tot[7]=$((tot[7] + nflaky))
	fi
	printf "$rowfmt" "$name" "${cells[0]}" "${cells[1]}" "$reg" "${secs[*]}" | tee -a "$results/summary.txt"
done
{
	echo "$line"
	reg=-
	[ -z "$ONLY" ] && reg=${tot[6]} && [ "${tot[7]}" -gt 0 ] && reg="${tot[6]} (+${tot[7]} flaky)"
	printf "$rowfmt" TOTAL "${tot[0]} / ${tot[1]} / ${tot[2]}" "${tot[3]} / ${tot[4]} / ${tot[5]}" \
		"$reg" "${elapsed}s"
} | tee -a "$results/summary.txt"

if [ -s "$retried" ]; then
	{
		echo
		echo "Tests that pass with $PODMAN_BIN but not with podprof ($PODPROF_BIN),"
		echo "each run again alone with podprof up to $RETRIES times:"
		while IFS=$'\t' read -r suite num st verdict tname; do
			printf '  %-12s %s #%s [%s] %s\n' "${verdict%% *}" "$suite" "$num" "$st" "$tname"
			[ "$verdict" = regression ] || printf '  %-12s   %s\n' "" "$verdict"
		done <"$retried"
		echo
		echo "TAP output and diagnostics: $results/{podman,podprof}/SUITE.tap"
	} | tee -a "$results/summary.txt"
fi
if [ "${tot[6]}" -gt 0 ]; then
	echo "FAIL: ${tot[6]} regression(s)" | tee -a "$results/summary.txt"
	exit 1
fi
echo
echo "no regressions (results: $results)"
exit 0
