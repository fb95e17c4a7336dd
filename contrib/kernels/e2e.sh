#!/bin/busybox sh
# /e2e/e2e.sh: the end-to-end container test of the kernel matrix, run by
# /init in the guest after the bpf tests (see README.md in this folder).
#
#   /e2e/e2e.sh MODES      MODES: comma separated, e.g. lsm,fentry,tracepoint
#
# For each mode it runs two real containers with podman 4 and runc:
#   run   podprof run --rm --network=none --podprof-tracer=MODE ... IMAGE
#         /bin/sh -c '(read a file, run the dynamic /bin/dash, exit 3)'
#   hook  plain podman with /e2e/hooks.d (contrib/hooks.d/podprof.json) and
#         the annotations io.podprof.profile and io.podprof.tracer=MODE,
#         IMAGE /bin/dash -c '(read a file, exit 4)'
# It does not judge the profiles: run.sh does, on the host. It prints
#   PODPROF-E2E-RESULT mode=M run_rc=N hook_rc=N hook_profile=yes|no secs=S run_secs=S hook_secs=S wait_secs=S
# on the console, and sends the files run.sh needs (profiles, the commands'
# output, syslog, dmesg) over the second serial port, /dev/ttyS1, framed as
#   PODPROF-FILE name=NAME
#   ...
#   PODPROF-FILE-END name=NAME
# so that kernel messages on the console can never cut into them.

modes=$(echo "${1:-lsm,fentry,tracepoint}" | tr ',' ' ')
IMAGE=localhost/podprof-e2e/busybox-dash:latest
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

for mode in $modes; do
	[ "$import_rc" = 0 ] || {
		echo "PODPROF-E2E-RESULT mode=$mode run_rc=- hook_rc=- hook_profile=no secs=0 reason=podman import failed (rc $import_rc)"
		continue
	}
	echo "PODPROF-E2E-BEGIN mode=$mode"
	tw=$(now)
	wait_tracer_gone || echo "PODPROF-WARN mode=$mode: the previous tracer still runs after 30s"
	wait_secs=$(since "$tw")
	rm -f "/tmp/e2e/$mode.run.json" "/tmp/e2e/$mode.hook.json"

	mark "$mode: podprof run"
	t1=$(now)
	timeout "$CMD_TIMEOUT" podprof run --rm --network=none \
		--podprof-tracer="$mode" --podprof-output="/tmp/e2e/$mode.run.json" \
		--podprof-summary=always \
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

	emit "$mode.run.out" "/tmp/e2e/$mode.run.out"
	emit "$mode.run.json" "/tmp/e2e/$mode.run.json"
	emit "$mode.hook.out" "/tmp/e2e/$mode.hook.out"
	emit "$mode.hook.json" "/tmp/e2e/$mode.hook.json"
	secs=$(awk -v a="$run_secs" -v b="$hook_secs" 'BEGIN{printf "%.1f", a+b}')
	echo "PODPROF-E2E-END mode=$mode"
	echo "PODPROF-E2E-RESULT mode=$mode run_rc=$run_rc hook_rc=$hook_rc hook_profile=$hook_profile secs=$secs run_secs=$run_secs hook_secs=$hook_secs wait_secs=$wait_secs"
done

kill "$monitor"
emit tracer.log /tmp/e2e/tracer.log
emit syslog /tmp/e2e/syslog
dmesg | tail -n +"$(($(wc -l </tmp/e2e/dmesg.before) + 1))" | tail -n 80 >/tmp/e2e/dmesg
emit dmesg /tmp/e2e/dmesg
echo "PODPROF-E2E-DONE secs=$(since "$t0")"
