// Package pkgdb reads the package databases of a container image (dpkg,
// apk, rpm) from the image's files: which packages are installed and which
// files each one put in the image. It never runs a package manager, so an
// image of any distribution can be read on any host.
package pkgdb

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/podprof/podprof/report"
)

// The package types, named as in package URLs (purl).
const (
	Deb = "deb"
	Apk = "apk"
	Rpm = "rpm"
)

// A Package is one installed package, as its package manager records it.
type Package struct {
	Type string // Deb, Apk or Rpm
	Name string
	// Version is what the package manager shows: dpkg's
	// [epoch:]upstream[-revision], apk's version-rN, rpm's version-release
	// (its epoch is apart, in Epoch).
	Version string
	Epoch   int // rpm only; 0 when the package has none
	// Modularity is an rpm's modularity label (RHEL 8's modules,
	// "nodejs:10:8020020200707141642:6a468ee4"), else "".
	Modularity string
	Arch       string
	Source     string // source package: dpkg's Source, apk's origin, rpm's source rpm name
	License    string // apk and rpm; dpkg does not record one
	// Files are the absolute paths the package installed, as its database
	// lists them: directories included, symbolic links in the path not
	// resolved (dpkg lists /bin/sh even where /bin links to usr/bin).
	Files []string
}

// Distro is what the image says of its distribution.
type Distro struct {
	ID        string // os-release's: "debian", "alpine", "fedora"...
	VersionID string // os-release's: "12", "3.19.1"...
	// Family and Release are the distribution as Trivy finds it, from
	// the release files it reads (/etc/debian_version,
	// /etc/alpine-release, /etc/redhat-release...): "debian" "12.5",
	// "alpine" "3.19.1", "redhat" "9.3". Package URLs carry them.
	Family  string
	Release string
}

// Inventory is what an image's package databases list.
type Inventory struct {
	Distro    Distro
	Databases []string  // the databases read, as paths in the image
	Packages  []Package // by type, name, arch, version
}

// ErrNoDatabase is returned by Read for an image without a package
// database it knows.
var ErrNoDatabase = errors.New("no package database (dpkg, apk or rpm)")

// A ReadFileFunc returns the contents of a file of the image, following
// symbolic links as a container of the image would
// (imagestore.Image.ReadFile).
type ReadFileFunc func(path string) ([]byte, error)

// Read finds the package databases in the image whose tree is given, and
// reads them through readFile.
func Read(tree *report.Image, readFile ReadFileFunc) (*Inventory, error) {
	inv := &Inventory{}
	readers := []func(*report.Image, ReadFileFunc) ([]Package, []string, error){readDpkg, readApk, readRpm}
	for _, read := range readers {
		pkgs, dbs, err := read(tree, readFile)
		if err != nil {
			return nil, err
		}
		inv.Packages = append(inv.Packages, pkgs...)
		inv.Databases = append(inv.Databases, dbs...)
	}
	if len(inv.Databases) == 0 {
		return nil, ErrNoDatabase
	}
	slices.SortFunc(inv.Packages, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version))
	})
	distro, err := readDistro(tree, readFile)
	if err != nil {
		return nil, err
	}
	inv.Distro = distro
	return inv, nil
}

// regularFile reports whether p names a regular file in the image, after
// symbolic links.
func regularFile(tree *report.Image, p string) bool {
	n, err := tree.Resolve(p)
	return err == nil && n.Kind == report.Regular
}

// readIfPresent returns the contents of the file p, or nil when the image
// has no regular file there.
func readIfPresent(tree *report.Image, readFile ReadFileFunc, p string) ([]byte, error) {
	if !regularFile(tree, p) {
		return nil, nil
	}
	data, err := readFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", report.Printable(p), err)
	}
	return data, nil
}

// dirNames returns the names in the directory p of the image, after
// symbolic links; none when there is no such directory.
func dirNames(tree *report.Image, p string) []string {
	n, err := tree.Resolve(p)
	if err != nil || n.Kind != report.Dir {
		return nil
	}
	names := make([]string, 0, len(n.Children))
	for _, c := range n.Children {
		names = append(names, c.Name)
	}
	return names
}
