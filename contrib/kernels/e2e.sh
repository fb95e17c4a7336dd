#!/bin/busybox sh
# /e2e/e2e.sh: the end-to-end container test of the kernel matrix, run by
# /init in the guest after the bpf tests (see README.md in this folder).
#
#   /e2e/e2e.sh MODES [SLIM_MODE]
#
# MODES: comma separated, e.g. lsm,fentry,tracepoint. For each mode it runs
# three or four real containers with podman 4 and runc:
#   run     podprof run --rm --network=none --podprof-tracer=MODE
#           --podprof-seccomp=... IMAGE
#           /bin/sh -c '(read a file, run the dynamic /bin/dash, exit 3)'
#   hook    plain podman with /e2e/hooks.d (contrib/hooks.d/podprof.json) and
#           the annotations io.podprof.profile and io.podprof.tracer=MODE,
#           IMAGE /bin/dash -c '(read a file, exit 4)'
#   replay  plain podman, the run's workload under the seccomp profile the
#           run recorded (--security-opt seccomp=...)
#   denied  in the first mode only, the same under a copy of that profile
#           without pipe2, which the workload's $(...) needs: the negative
#           control
# In SLIM_MODE (one of MODES, or none) it then runs podprof slim of that
# mode's run profile, with PODPROF_TRACER=SLIM_MODE so that its verifying
# runs are traced in that mode too.
# It does not judge the results: run.sh does, on the host. It prints
#   PODPROF-E2E-RESULT mode=M run_rc=N hook_rc=N hook_profile=yes|no replay_rc=N denied_rc=N secs=S run_secs=S hook_secs=S replay_secs=S wait_secs=S
#   PODPROF-E2E-SLIM mode=M rc=N secs=S
# on the console, and sends the files run.sh needs (profiles, the commands'
# output, syslog, dmesg) over the second serial port, /dev/ttyS1, framed as
#   PODPROF-FILE name=NAME
#   ...
#   PODPROF-FILE-END name=NAME
# so that kernel messages on the console can never cut into them.

modes=$(echo "${1:-lsm,fentry,tracepoint}" | tr ',' ' ')
slim_mode=${2:-}
first_mode=${modes%% *}
IMAGE=localhost/podprof-e2e/busybox-dash:latest
SLIM_IMAGE=localhost/podprof-e2e/busybox-dash:slim
CMD_TIMEOUT=180 # seconds per podman command
export PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
export HOME=/root TMPDIR=/tmp

CHAN=/dev/ttyS1
if ! { : >>"$CHAN"; } 2>/dev/null; then
	CHAN=/dev/console
	echo "PODPROF-WARN no /dev/ttyS1: e2e files go to the console"
fi
emit() { # emit NAME FILE: nothing if there is no FILE
	[ -e "$2" ] || return 0
	{
		echo "PODPROF-FILE name=$1"
		cat "$2"
		echo
		echo "PODPROF-FILE-END name=$1"
	} >>"$CHAN"
}
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# ------------------------------------------------------------------ set-up
mkdir -p /dev/pts /dev/shm /tmp/e2e /var/tmp /var/lib/containers /run/containers /root
mounted() { awk -v d="$1" '$2 == d {f = 1} END {exit !f}' /proc/mounts; } # busybox-static has no mountpoint
mounted /dev/pts || mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mounted /dev/shm || mount -t tmpfs -o mode=1777 tmpfs /dev/shm
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
[ -e /etc/mtab ] || ln -s /proc/self/mounts /etc/mtab
hostname podprof-guest
# the tracer logs its errors (a profile it could not write) to syslog
syslogd -O /tmp/e2e/syslog
# podman and runc open many files; the console's shell starts at 1024
ulimit -n 65536 2>/dev/null || true

dmesg >/tmp/e2e/dmesg.before

# tracer_procs: "PID:MODE" of each tracer process (podprof hook --daemon MODE)
tracer_procs() { ps -o pid,args | awk '/[h]ook --daemon/ {printf "%s:%s ", $1, $NF}'; }

# the tracer's life, every 0.3s when it changes: its processes, its socket
mark() { echo "$(now) --- $*" >>/tmp/e2e/tracer.log; }
(
	last=
	while :; do
		procs=$(tracer_procs)
		sock=no
		ls /run/podprof/tracer-*.sock >/dev/null 2>&1 && sock=yes
		line="tracer=[${procs% }] sock=$sock"
		[ "$line" = "$last" ] || echo "$(now) $line"
		last=$line
		sleep 0.3
	done
) >>/tmp/e2e/tracer.log 2>&1 &
monitor=$!
t0=$(now)
podman import --quiet \
	--change 'CMD=["/bin/sh"]' \
	--change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	/e2e/image.tar "$IMAGE" >/tmp/e2e/import.out 2>&1
import_rc=$?
import_secs=$(since "$t0")
podprof doctor >/tmp/e2e/doctor 2>&1
echo "PODPROF-E2E-SETUP import_rc=$import_rc import_secs=$import_secs"
emit import.out /tmp/e2e/import.out
emit doctor /tmp/e2e/doctor

# wait_tracer_gone: the tracer serves one mode; another mode waits until it
# has exited, as podprof tells a user to (busybox has no flock applet to
# test its lock: the process is what holds it)
wait_tracer_gone() {
	i=0
	while [ -n "$(tracer_procs)" ]; do
		i=$((i + 1))
		[ "$i" -ge 300 ] && return 1
		sleep 0.1
	done
	return 0
}

# The workloads. In the run: sh (busybox, static) reads a file through cat,
# then runs /bin/dash (dynamic: ELF interpreter and libc) which reads
# another, prints both, and the container exits 3.
RUN_SCRIPT='x=$(cat /etc/e2e/sh-read); /bin/dash -c "read y </etc/e2e/dash-read; echo e2e-out sh=$x dash=\$y"; exit 3'
HOOK_SCRIPT='read y </etc/e2e/dash-read; echo e2e-out dash=$y; exit 4'
# The call the negative control takes away: busybox sh makes a pipe for
# $(...) with pipe2, which no OCI runtime needs, so only the recording has it.
DENIED_SYSCALL=pipe2

# without_syscall NAME PROFILE: PROFILE (podprof's indented JSON, one name
# a line) allowing NAME nowhere; run.sh checks that nothing else changed.
without_syscall() {
	awk -v name="\"$1\"" '
		{ entry = $0; sub(/^[ \t]+/, "", entry); sub(/,$/, "", entry) }
		entry == name { if ($0 !~ /,$/) sub(/,$/, "", held); next } # the last name: the one before loses its comma
		{ if (n++) print held; held = $0 }
		END { if (n) print held }' "$2"
}

# replay PROFILE OUT: the run's workload, with plain podman, under the
# seccomp PROFILE
replay() {
	timeout "$CMD_TIMEOUT" podman run --rm --network=none --security-opt seccomp="$1" \
		"$IMAGE" /bin/sh -c "$RUN_SCRIPT" </dev/null >"$2" 2>&1
}

for mode in $modes; do
	[ "$import_rc" = 0 ] || {
		echo "PODPROF-E2E-RESULT mode=$mode run_rc=- hook_rc=- hook_profile=no secs=0 reason=podman import failed (rc $import_rc)"
		continue
	}
	echo "PODPROF-E2E-BEGIN mode=$mode"
	tw=$(now)
	wait_tracer_gone || echo "PODPROF-WARN mode=$mode: the previous tracer still runs after 30s"
	wait_secs=$(since "$tw")
	rm -f "/tmp/e2e/$mode".*

	mark "$mode: podprof run"
	t1=$(now)
	timeout "$CMD_TIMEOUT" podprof run --rm --network=none \
		--podprof-tracer="$mode" --podprof-output="/tmp/e2e/$mode.run.json" \
		--podprof-summary=always --podprof-seccomp="/tmp/e2e/$mode.seccomp.json" \
		"$IMAGE" /bin/sh -c "$RUN_SCRIPT" </dev/null >"/tmp/e2e/$mode.run.out" 2>&1
	run_rc=$?
	run_secs=$(since "$t1")

	mark "$mode: podprof run exited $run_rc"
	t2=$(now)
	timeout "$CMD_TIMEOUT" podman --hooks-dir /e2e/hooks.d run --rm --network=none \
		--annotation "io.podprof.profile=/tmp/e2e/$mode.hook.json" \
		--annotation "io.podprof.tracer=$mode" \
		"$IMAGE" /bin/dash -c "$HOOK_SCRIPT" </dev/null >"/tmp/e2e/$mode.hook.out" 2>&1
	hook_rc=$?
	# with plain podman the profile may land just after podman returns (if
	# the container ran: 125-127 are podman's own errors)
	i=0
	[ "$hook_rc" -lt 125 ] || i=300
	while [ ! -e "/tmp/e2e/$mode.hook.json" ] && [ "$i" -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	hook_secs=$(since "$t2")
	mark "$mode: podman with the hook exited $hook_rc"
	hook_profile=no
	[ -e "/tmp/e2e/$mode.hook.json" ] && hook_profile=yes

	# the run's seccomp profile, applied by plain podman to the same
	# workload; then without the call it needs (the negative control)
	mark "$mode: replays under the recorded seccomp profile"
	t3=$(now)
	replay_rc=- denied_rc=-
	if [ -s "/tmp/e2e/$mode.seccomp.json" ]; then
		replay "/tmp/e2e/$mode.seccomp.json" "/tmp/e2e/$mode.replay.out"
		replay_rc=$?
		# it shows that podman enforces the profile, which the mode does
		# not change: once a boot is enough
		if [ "$mode" = "$first_mode" ]; then
			without_syscall "$DENIED_SYSCALL" "/tmp/e2e/$mode.seccomp.json" >"/tmp/e2e/$mode.denied.json"
			replay "/tmp/e2e/$mode.denied.json" "/tmp/e2e/$mode.denied.out"
			denied_rc=$?
		fi
	fi
	replay_secs=$(since "$t3")
	mark "$mode: replays exited $replay_rc (denied $denied_rc)"

	emit "$mode.run.out" "/tmp/e2e/$mode.run.out"
	emit "$mode.run.json" "/tmp/e2e/$mode.run.json"
	emit "$mode.hook.out" "/tmp/e2e/$mode.hook.out"
	emit "$mode.hook.json" "/tmp/e2e/$mode.hook.json"
	for f in seccomp.json denied.json replay.out denied.out; do
		emit "$mode.$f" "/tmp/e2e/$mode.$f"
	done
	secs=$(awk -v a="$run_secs" -v b="$hook_secs" -v c="$replay_secs" 'BEGIN{printf "%.1f", a+b+c}')
	echo "PODPROF-E2E-END mode=$mode"
	echo "PODPROF-E2E-RESULT mode=$mode run_rc=$run_rc hook_rc=$hook_rc hook_profile=$hook_profile replay_rc=$replay_rc denied_rc=$denied_rc secs=$secs run_secs=$run_secs hook_secs=$hook_secs replay_secs=$replay_secs wait_secs=$wait_secs"

	[ "$mode" = "$slim_mode" ] || continue
	# podprof slim of the run's profile: it builds the slim image, then
	# runs the recorded run in the original and in the slim image with
	# podprof run (which takes its mode from PODPROF_TRACER), and compares
	mark "$mode: podprof slim"
	t4=$(now)
	PODPROF_TRACER=$mode timeout "$CMD_TIMEOUT" podprof slim -t "$SLIM_IMAGE" "/tmp/e2e/$mode.run.json" \
		</dev/null >"/tmp/e2e/$mode.slim.out" 2>&1
	slim_rc=$?
	mark "$mode: podprof slim exited $slim_rc"
	slim_secs=$(since "$t4")
	podman image inspect --format '{{.Id}}' "$SLIM_IMAGE" >"/tmp/e2e/$mode.slim.id" 2>&1
	emit "$mode.slim.out" "/tmp/e2e/$mode.slim.out"
	emit "$mode.slim.id" "/tmp/e2e/$mode.slim.id"
	echo "PODPROF-E2E-SLIM mode=$mode rc=$slim_rc secs=$slim_secs"
done

kill "$monitor"
emit tracer.log /tmp/e2e/tracer.log
emit syslog /tmp/e2e/syslog
dmesg | tail -n +"$(($(wc -l </tmp/e2e/dmesg.before) + 1))" | tail -n 80 >/tmp/e2e/dmesg
emit dmesg /tmp/e2e/dmesg
echo "PODPROF-E2E-DONE secs=$(since "$t0")"
