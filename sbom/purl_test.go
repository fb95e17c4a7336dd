package sbom

import (
	"testing"

	"github.com/podprof/podprof/pkgdb"
)

// TestPackageURL checks podprof's purls against those Trivy writes for the
// same packages. The expected strings are Trivy's own, qualifiers sorted by
// key as packageurl-go v0.1.3 writes them for Trivy:
//   - rpm: the "os package" case of TestNewPackageURL in pkg/purl/purl_test.go
//     of github.com/aquasecurity/trivy (acl 1:2.2.53-1.el8 on Red Hat 8, its
//     qualifiers arch, epoch, distro), and its CycloneDX marshal test (acl on
//     CentOS 8.3.2011, no epoch); the modularity label as its
//     TestPackageURL_Package has it (nodejs on Red Hat 8);
//   - deb and apk: Trivy's JSON golden reports of its integration tests
//     (apt 1.8.2.3 on Debian 10.13, libcrypto3 3.1.6-r0 on Alpine 3.18.8),
//     a `trivy image` report of ubuntu:24.04 (coreutils 9.4-3ubuntu6), and
//     Trivy's CycloneDX SBOM of python:3.12.2 for a dpkg epoch (login
//     1:4.13+dfsg1-1+b1 on Debian 12.5: the epoch is a qualifier, not in the
//     version).
func TestPackageURL(t *testing.T) {
	for _, tc := range []struct {
		pkg    pkgdb.Package
		distro pkgdb.Distro
		want   string
	}{
		{pkgdb.Package{Type: pkgdb.Rpm, Name: "acl", Version: "2.2.53-1.el8", Epoch: 1, Arch: "aarch64"},
			pkgdb.Distro{Family: "redhat", Release: "8"},
			"pkg:rpm/redhat/acl@2.2.53-1.el8?arch=aarch64&distro=redhat-8&epoch=1"},
		{pkgdb.Package{Type: pkgdb.Rpm, Name: "acl", Version: "2.2.53-1.el8", Arch: "aarch64"},
			pkgdb.Distro{ID: "centos", VersionID: "8", Family: "centos", Release: "8.3.2011"},
			"pkg:rpm/centos/acl@2.2.53-1.el8?arch=aarch64&distro=centos-8.3.2011"},
		{pkgdb.Package{Type: pkgdb.Deb, Name: "apt", Version: "1.8.2.3", Arch: "amd64"},
			pkgdb.Distro{ID: "debian", VersionID: "10", Family: "debian", Release: "10.13"},
			"pkg:deb/debian/apt@1.8.2.3?arch=amd64&distro=debian-10.13"},
		{pkgdb.Package{Type: pkgdb.Deb, Name: "coreutils", Version: "9.4-3ubuntu6", Arch: "amd64"},
			pkgdb.Distro{ID: "ubuntu", VersionID: "24.04", Family: "ubuntu", Release: "24.04"},
			"pkg:deb/ubuntu/coreutils@9.4-3ubuntu6?arch=amd64&distro=ubuntu-24.04"},
		{pkgdb.Package{Type: pkgdb.Apk, Name: "libcrypto3", Version: "3.1.6-r0", Arch: "x86_64"},
			pkgdb.Distro{ID: "alpine", VersionID: "3.18.8", Family: "alpine", Release: "3.18.8"},
			"pkg:apk/alpine/libcrypto3@3.1.6-r0?arch=x86_64&distro=3.18.8"},
		{pkgdb.Package{Type: pkgdb.Deb, Name: "login", Version: "1:4.13+dfsg1-1+b1", Arch: "amd64"},
			pkgdb.Distro{ID: "debian", VersionID: "12", Family: "debian", Release: "12.5"},
			"pkg:deb/debian/login@4.13%2Bdfsg1-1%2Bb1?arch=amd64&distro=debian-12.5&epoch=1"},
		{pkgdb.Package{Type: pkgdb.Rpm, Name: "nodejs", Version: "10.21.0-3.module_el8.2.0+391+8da3adc6", Epoch: 1, Arch: "x86_64",
			Modularity: "nodejs:10:8020020200707141642:6a468ee4"},
			pkgdb.Distro{Family: "redhat", Release: "8"},
			"pkg:rpm/redhat/nodejs@10.21.0-3.module_el8.2.0%2B391%2B8da3adc6?arch=x86_64&distro=redhat-8&epoch=1&modularitylabel=nodejs%3A10%3A8020020200707141642%3A6a468ee4"},
		{pkgdb.Package{Type: pkgdb.Apk, Name: "busybox", Version: "1.36.1-r15", Arch: "x86_64"}, pkgdb.Distro{},
			"pkg:apk/busybox@1.36.1-r15?arch=x86_64"},
	} {
		if got := packageURL(tc.pkg, tc.distro); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.pkg.Name, tc.pkg.Version, got, tc.want)
		}
	}
}
