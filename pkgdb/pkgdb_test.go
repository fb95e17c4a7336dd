package pkgdb

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/podprof/podprof/report"
)

// testImage is a one-layer image of files (path: contents) and symbolic
// links (path: "-> target"), with a ReadFileFunc that serves the contents
// the way imagestore.Image.ReadFile does: after symbolic links.
func testImage(t *testing.T, entries map[string]string) (*report.Image, ReadFileFunc) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(entries[name])), Mode: 0o644}
		if target, ok := strings.CutPrefix(entries[name], "-> "); ok {
			hdr = &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write([]byte(entries[name]))
		}
	}
	tw.Close()
	tree, err := report.BuildImage([]report.Layer{{ID: "test", Open: func() (report.HeaderReader, io.Closer, error) {
		return tar.NewReader(bytes.NewReader(buf.Bytes())), io.NopCloser(nil), nil
	}}})
	if err != nil {
		t.Fatal(err)
	}
	readFile := func(p string) ([]byte, error) {
		n, err := tree.Resolve(p)
		if err != nil {
			return nil, err
		}
		contents, ok := entries[strings.TrimPrefix(n.Path(), "/")]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(contents), nil
	}
	return tree, readFile
}

func readOrFail(t *testing.T, entries map[string]string) *Inventory {
	t.Helper()
	inv, err := Read(testImage(t, entries))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return inv
}

func TestReadDpkg(t *testing.T) {
	inv := readOrFail(t, map[string]string{
		"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
		"var/lib/dpkg/status": `Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 .
 More text: with a colon.

Package: purged
Status: purge ok not-installed
Architecture: amd64

Package: bash
Status: install ok installed
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b2
Conffiles:
 /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d

Package: removed
Status: deinstall ok config-files
Architecture: all
Version: 1:1.0
`,
		"var/lib/dpkg/info/libc6:amd64.list": "/.\n/usr\n/usr/lib/x86_64-linux-gnu/libc.so.6\n",
		"var/lib/dpkg/info/bash.list":        "/.\n/bin\n/bin/bash\n/etc/bash.bashrc\n",
		"var/lib/dpkg/info/removed.list":     "/etc/removed.conf\n",
	})
	want := []Package{
		{Type: Deb, Name: "bash", Version: "5.2.15-2+b2", Arch: "amd64", Source: "bash", Files: []string{"/.", "/bin", "/bin/bash", "/etc/bash.bashrc"}},
		{Type: Deb, Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Source: "glibc", Files: []string{"/.", "/usr", "/usr/lib/x86_64-linux-gnu/libc.so.6"}},
		{Type: Deb, Name: "removed", Version: "1:1.0", Arch: "all", Source: "removed", Files: []string{"/etc/removed.conf"}},
	}
	checkPackages(t, inv, want)
	if inv.Distro != (Distro{ID: "debian", VersionID: "12", Family: "debian", Release: "12"}) {
		t.Errorf("distro %+v", inv.Distro)
	}
	if !slices.Equal(inv.Databases, []string{"/var/lib/dpkg/status"}) {
		t.Errorf("databases %q", inv.Databases)
	}
}

// TestReadDpkgDistroless reads the status.d layout of distroless images,
// reached through a symbolic link on the way.
func TestReadDpkgDistroless(t *testing.T) {
	inv := readOrFail(t, map[string]string{
		"var/lib/dpkg":                     "-> /dpkg",
		"dpkg/status.d/base-files":         "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
		"dpkg/status.d/base-files.md5sums": "1a2b  etc/debian_version\n3c4d  usr/lib/os-release\n",
		"dpkg/status.d/tzdata":             "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
		"usr/lib/os-release":               "ID=debian\nVERSION_ID='12'\n",
	})
	checkPackages(t, inv, []Package{
		{Type: Deb, Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", Source: "base-files", Files: []string{"/etc/debian_version", "/usr/lib/os-release"}},
		{Type: Deb, Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all", Source: "tzdata"},
	})
	if inv.Distro != (Distro{ID: "debian", VersionID: "12", Family: "debian", Release: "12"}) {
		t.Errorf("distro from /usr/lib/os-release %+v", inv.Distro)
	}
}

func TestReadApk(t *testing.T) {
	inv := readOrFail(t, map[string]string{
		"etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n",
		"lib/apk/db/installed": `C:Q1mbwZbDJ2wTcHqBc4K7BoRRtO9wI=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1n0AdNDu+cQbyh8XEzW0L2fy0uU0=
R:libc.musl-x86_64.so.1
a:0:0:777

P:busybox-binsh
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
F:bin
R:sh
`,
	})
	checkPackages(t, inv, []Package{
		{Type: Apk, Name: "busybox-binsh", Version: "1.36.1-r15", Arch: "x86_64", Source: "busybox", License: "GPL-2.0-only", Files: []string{"/bin", "/bin/sh"}},
		{Type: Apk, Name: "musl", Version: "1.2.4_git20230717-r4", Arch: "x86_64", Source: "musl", License: "MIT", Files: []string{"/lib", "/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"}},
	})
}

// TestScannerOS checks the family and release found as Trivy's OS
// analyzers find them (pkg/fanal/analyzer/os in aquasecurity/trivy); the
// release files are those of its analyzers' testdata and of the images
// named.
func TestScannerOS(t *testing.T) {
	for _, tc := range []struct {
		name            string
		files           map[string]string
		family, release string
	}{
		{"debian:12", map[string]string{"etc/os-release": "ID=debian\nVERSION_ID=\"12\"\n", "etc/debian_version": "12.5\n"}, "debian", "12.5"},
		{"debian sid", map[string]string{"etc/os-release": "ID=debian\n", "etc/debian_version": "trixie/sid\n"}, "debian", "trixie/sid"},
		{"ubuntu:22.04", map[string]string{
			"etc/os-release":     "ID=ubuntu\nVERSION_ID=\"22.04\"\n",
			"etc/debian_version": "bookworm/sid\n",
			"etc/lsb-release":    "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n",
		}, "ubuntu", "22.04"},
		{"alpine:3.19", map[string]string{"etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n", "etc/alpine-release": "3.19.1\n"}, "alpine", "3.19.1"},
		{"alpine without alpine-release", map[string]string{"etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n"}, "alpine", "3.19.1"},
		{"ubi9", map[string]string{"etc/os-release": "ID=\"rhel\"\nVERSION_ID=\"9.3\"\n", "etc/redhat-release": "Red Hat Enterprise Linux release 9.3 (Plow)\n"}, "redhat", "9.3"},
		{"centos:7", map[string]string{
			"etc/redhat-release": "CentOS Linux release 7.6.1810 (Core)\n",
			"etc/centos-release": "CentOS Linux release 7.6.1810 (Core)\n",
		}, "centos", "7.6.1810"},
		{"oraclelinux:8", map[string]string{
			"etc/redhat-release": "Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
			"etc/oracle-release": "Oracle Linux Server release 8.9\n",
		}, "oracle", "8.9"},
		{"fedora:39", map[string]string{"etc/redhat-release": "-> fedora-release", "etc/fedora-release": "Fedora release 39 (Thirty Nine)\n"}, "fedora", "39"},
		{"rockylinux:9", map[string]string{"etc/redhat-release": "Rocky Linux release 9.3 (Blue Onyx)\n"}, "rocky", "9.3"},
		{"unknown", map[string]string{"etc/os-release": "ID=arch\nVERSION_ID=20240101\n"}, "arch", "20240101"},
		{"none", map[string]string{"app": "x"}, "", ""},
	} {
		tree, readFile := testImage(t, tc.files)
		d, err := readDistro(tree, readFile)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d.Family != tc.family || d.Release != tc.release {
			t.Errorf("%s: family %q release %q, want %q %q", tc.name, d.Family, d.Release, tc.family, tc.release)
		}
	}
}

func TestReadNoDatabase(t *testing.T) {
	_, err := Read(testImage(t, map[string]string{"etc/os-release": "ID=scratch\n", "app": "x"}))
	if !errors.Is(err, ErrNoDatabase) {
		t.Errorf("an image without a package database: %v, want ErrNoDatabase", err)
	}
}

func TestSourceRpmName(t *testing.T) {
	for in, want := range map[string]string{
		"glibc-2.34-100.el9.src.rpm":              "glibc",
		"python-setuptools-53.0.0-12.el9.src.rpm": "python-setuptools",
		"(none)": "",
		"":       "",
	} {
		if got := sourceRpmName(in); got != want {
			t.Errorf("sourceRpmName(%q) = %q, want %q", in, got, want)
		}
	}
}

func checkPackages(t *testing.T, inv *Inventory, want []Package) {
	t.Helper()
	if len(inv.Packages) != len(want) {
		t.Fatalf("%d packages %+v, want %d", len(inv.Packages), inv.Packages, len(want))
	}
	for i := range want {
		got := inv.Packages[i]
		if got.Type != want[i].Type || got.Name != want[i].Name || got.Version != want[i].Version || got.Arch != want[i].Arch ||
			got.Source != want[i].Source || got.License != want[i].License || !slices.Equal(got.Files, want[i].Files) {
			t.Errorf("package %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
}
