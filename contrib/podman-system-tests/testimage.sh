#!/usr/bin/env bash
# contrib/podman-system-tests/testimage.sh: build a local stand-in for podman's
# system-test image, quay.io/libpod/testimage:TAG, without a registry.
#
#   testimage.sh [-p PODMAN] IMAGE TAG
#
# imports IMAGE (e.g. quay.io/libpod/testimage:20220615) into the storage the
# podman command (default: podman) uses, from local files only.
#
# The real image is built by test/system/build-testimage in podman's tree:
# alpine + busybox-extras, /home/podman/{testimage-id,pause}, labels
# created_by/created_at, WORKDIR /home/podman and an echo CMD. This one has
# the same layout and metadata; its userland is Debian's busybox-static (a
# static binary, so no libc is needed) with one link per applet where alpine
# puts them, plus shell stand-ins for the applets alpine's busybox has and
# Debian's lacks (printenv, nohup), and alpine 3.16's /etc/passwd, /etc/group
# and os-release.
set -euo pipefail

PODMAN=podman
if [ "${1:-}" = -p ]; then PODMAN=$2; shift 2; fi
[ $# -eq 2 ] || { echo "usage: $0 [-p PODMAN] IMAGE TAG" >&2; exit 2; }
IMAGE=$1 TAG=$2

bb=$(command -v busybox) || { echo "$0: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$bb" 2>&1 | grep -q 'not a dynamic executable' ||
	{ echo "$0: $bb is not static (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d /tmp/podprof-testimage.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,proc,sys,dev,run,tmp,var/tmp,var/log,var/empty,home/podman,mnt,media,opt,srv,lib}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 0700 "$root/root"
cp -L "$bb" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for p in $("$root/bin/busybox" --list-full); do
	[ -e "$root/$p" ] || [ -L "$root/$p" ] || ln -s /bin/busybox "$root/$p"
done

# Applets alpine's busybox has that Debian's busybox-static lacks. printenv
# prints the environment it was given (/proc/$$/environ), not the shell's,
# which adds PATH, PWD and SHLVL.
cat >"$root/bin/printenv" <<'SH'
#!/bin/sh
# printenv [NAME...]: stand-in for busybox's printenv applet
env=$(/bin/busybox tr '\0' '\n' </proc/$$/environ)
if [ $# -eq 0 ]; then
	[ -z "$env" ] || printf '%s\n' "$env"
	exit 0
fi
rc=0
for name in "$@"; do
	case $name in
	*[!A-Za-z0-9_]* | '') rc=1; continue ;;
	esac
	if printf '%s\n' "$env" | /bin/busybox grep -q "^$name="; then
		printf '%s\n' "$env" | /bin/busybox sed -n "s/^$name=//p" | /bin/busybox head -n 1
	else
		rc=1
	fi
done
exit $rc
SH
ln -s ../../bin/printenv "$root/usr/bin/printenv"
cat >"$root/usr/bin/nohup" <<'SH'
#!/bin/sh
# nohup COMMAND [ARG...]: stand-in for busybox's nohup applet
trap '' HUP
exec "$@"
SH
chmod 0755 "$root/bin/printenv" "$root/usr/bin/nohup"

# alpine 3.16's accounts: tests refer to some of these users and groups.
cat >"$root/etc/passwd" <<'EOT'
root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
man:x:13:15:man:/usr/man:/sbin/nologin
postmaster:x:14:12:postmaster:/var/mail:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
at:x:25:25:at:/var/spool/cron/atjobs:/sbin/nologin
squid:x:31:31:Squid:/var/cache/squid:/sbin/nologin
xfs:x:33:33:X Font Server:/etc/X11/fs:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
cyrus:x:85:12::/usr/cyrus:/sbin/nologin
vpopmail:x:89:89::/var/vpopmail:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
smmsp:x:209:209:smmsp:/var/spool/mqueue:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
EOT
cat >"$root/etc/group" <<'EOT'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
mem:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
man:x:15:man
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
at:x:25:at
tape:x:26:root
video:x:27:root
netdev:x:28:
readproc:x:30:
squid:x:31:squid
xfs:x:33:xfs
kvm:x:34:kvm
games:x:35:
shadow:x:42:
cdrw:x:80:
www-data:x:82:
usb:x:85:
vpopmail:x:89:
users:x:100:games
ntp:x:123:
nofiles:x:200:
smmsp:x:209:smmsp
locate:x:245:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
EOT
sed 's/:.*//; s/$/:!::0:::::/' "$root/etc/passwd" >"$root/etc/shadow"
chmod 0640 "$root/etc/shadow"
cat >"$root/etc/os-release" <<'EOT'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.16.0
PRETTY_NAME="Alpine Linux v3.16"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
EOT
echo 3.16.0 >"$root/etc/alpine-release"
echo /bin/ash >"$root/etc/shells"
ln -s ../proc/mounts "$root/etc/mtab"

# As build-testimage: 'image mount' checks the tag in testimage-id, 'run
# --tz' its mtime; 'pod' tests use pause as an infra command.
echo "$TAG" >"$root/home/podman/testimage-id"
touch --date=@1600000000 "$root/home/podman/testimage-id"
cat >"$root/home/podman/pause" <<'SH'
#!/bin/sh
#
# Trivial little pause script, used in one of the pod tests
#
echo Confirmed: testimage pause invoked as $0
while :; do
    sleep 0.1
done
SH
chmod 0755 "$root/home/podman/pause"

created_at=$(date -u --date="${TAG:0:4}-${TAG:4:2}-${TAG:6:2}" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
tar --numeric-owner -C "$root" -cf - . |
	"$PODMAN" import --quiet \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'LABEL created_by=test/system/build-testimage' \
		--change "LABEL created_at=$created_at" \
		--change 'WORKDIR /home/podman' \
		--change 'CMD ["/bin/echo", "This container is intended for podman CI testing"]' \
		- "$IMAGE" >/dev/null
