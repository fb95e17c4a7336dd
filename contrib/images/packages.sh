# contrib/images/packages.sh, sourced by contrib/setup.sh (uses its log, die,
# image_current, WORK, cleanup, RECIPE_LABEL, PATH_ENV): the package database
# test images of `podprof report --packages`, `podprof sbom` and `podprof vex`.
#
#   localhost/podprof-test/rpm:latest     busybox-static split into three rpm
#       packages built with rpmbuild and installed with `rpm --root`: a real
#       sqlite rpmdb (rpm 4.18), /etc/os-release ID=podprof-rpm
#   localhost/podprof-test/alpine:latest  the same files with an apk database
#       (lib/apk/db/installed) in apk's format, written here: Debian 12 has
#       no apk-tools and no Alpine mirror is reachable, so no real apk wrote it
#
# Both have a package the tests' command uses (busybox), one it reads
# (base files), one it never touches (docs), and a file of no package.

PKG_RPM_IMAGE=localhost/podprof-test/rpm:latest
PKG_APK_IMAGE=localhost/podprof-test/alpine:latest
PKG_RECIPE=1

# pkg_rootfs DIR: the files both images share, outside any database.
pkg_rootfs() {
	local root=$1 p
	mkdir -p "$root"/{bin,etc,usr/share/doc/podprof-docs,proc,sys,dev,tmp,root,app}
	chmod 1777 "$root/tmp"
	cp -L "$(command -v busybox)" "$root/bin/busybox"
	for p in sh cat ls; do ln -s busybox "$root/bin/$p"; done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' >"$root/etc/group"
	head -c 200000 /usr/share/common-licenses/GPL-3 >"$root/usr/share/doc/podprof-docs/README" 2>/dev/null ||
		head -c 200000 /dev/zero >"$root/usr/share/doc/podprof-docs/README"
	echo 'not in any package' >"$root/app/data"
}

# pkg_packages: NAME VERSION FILES... of the three packages, one a line.
pkg_packages() {
	echo "busybox 1.35.0 /bin/busybox /bin/sh /bin/cat /bin/ls"
	echo "podprof-base 1.0 /etc/passwd /etc/group /etc/os-release"
	echo "podprof-docs 2.1 /usr/share/doc/podprof-docs/README"
}

pkg_import() { # IMAGE ROOT
	tar --numeric-owner -C "$2" -cf - . |
		podman import --quiet --change 'CMD=["/bin/sh"]' --change "ENV=$PATH_ENV" \
			--change "LABEL=$RECIPE_LABEL=$PKG_RECIPE" - "$1" >/dev/null
}

build_pkg_rpm() {
	local root top name version files f
	WORK=$(mktemp -d /tmp/podprof-setup.XXXXXX)
	root=$WORK/rootfs top=$WORK/rpmbuild
	pkg_rootfs "$root"
	printf '%s\n' 'ID=podprof-rpm' 'VERSION_ID=1' 'NAME="podprof rpm test image"' >"$root/etc/os-release"
	mkdir -p "$top"/{SPECS,RPMS,BUILD,BUILDROOT}
	while read -r name version files; do
		{
			printf 'Name: %s\nVersion: %s\nRelease: 1\nSummary: podprof test package %s\nLicense: GPL-2.0-only\nBuildArch: x86_64\n' "$name" "$version" "$name"
			printf 'AutoReqProv: no\n%%description\n%s\n%%install\n' "$name"
			for f in $files; do printf 'mkdir -p %%{buildroot}%s && cp -a %s %%{buildroot}%s\n' "$(dirname "$f")" "$root$f" "$f"; done
			printf '%%files\n'
			printf '%s\n' $files
		} >"$top/SPECS/$name.spec"
		rpmbuild --quiet -bb --define "_topdir $top" --define '__os_install_post %{nil}' --define 'debug_package %{nil}' \
			"$top/SPECS/$name.spec" >/dev/null 2>&1 || die "rpmbuild $name failed"
	done < <(pkg_packages)
	# rpm installs the files over the copies already there, and records them.
	rpm --root "$root" --define '_db_backend sqlite' --dbpath /var/lib/rpm --initdb
	rpm --root "$root" --define '_db_backend sqlite' --dbpath /var/lib/rpm -i --nodeps --noscripts \
		--ignorearch --ignoreos "$top"/RPMS/x86_64/*.rpm 2>"$WORK/rpm.log" ||
		die "rpm -i into $root failed: $(cat "$WORK/rpm.log")" # on success it only warns that Debian prefers alien
	pkg_import "$PKG_RPM_IMAGE" "$root"
	cleanup
	WORK=""
}

build_pkg_apk() {
	local root name version files f dir
	WORK=$(mktemp -d /tmp/podprof-setup.XXXXXX)
	root=$WORK/rootfs
	pkg_rootfs "$root"
	printf '%s\n' 'ID=alpine' 'VERSION_ID=3.19.1' 'NAME="podprof test image with an apk database"' >"$root/etc/os-release"
	mkdir -p "$root/lib/apk/db"
	while read -r name version files; do
		printf 'P:%s\nV:%s-r0\nA:x86_64\nL:GPL-2.0-only\no:%s\nT:podprof test package\n' "$name" "$version" "$name"
		dir=""
		for f in $files; do
			[ "$(dirname "$f")" = "$dir" ] || { dir=$(dirname "$f"); printf 'F:%s\n' "${dir#/}"; }
			printf 'R:%s\n' "$(basename "$f")"
		done
		echo
	done < <(pkg_packages) >"$root/lib/apk/db/installed"
	pkg_import "$PKG_APK_IMAGE" "$root"
	cleanup
	WORK=""
}

if image_current "$PKG_RPM_IMAGE" "$PKG_RECIPE"; then
	log "images: $PKG_RPM_IMAGE present"
else
	log "images: building $PKG_RPM_IMAGE"
	build_pkg_rpm
fi
if image_current "$PKG_APK_IMAGE" "$PKG_RECIPE"; then
	log "images: $PKG_APK_IMAGE present"
else
	log "images: building $PKG_APK_IMAGE"
	build_pkg_apk
fi
