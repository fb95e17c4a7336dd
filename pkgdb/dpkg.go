package pkgdb

import (
	"path"
	"strings"

	"github.com/podprof/podprof/report"
)

// dpkg keeps its database in /var/lib/dpkg: status (one stanza per
// package) and info/NAME.list or info/NAME:ARCH.list (the package's paths).
// Distroless images have no status file but status.d/NAME, one stanza
// each, and status.d/NAME.md5sums for the files.
const (
	dpkgStatus       = "/var/lib/dpkg/status"
	dpkgInfoDir      = "/var/lib/dpkg/info"
	dpkgStatusDDir   = "/var/lib/dpkg/status.d"
	dpkgMd5sumsExt   = ".md5sums"
	dpkgNotInstalled = "not-installed"
)

func readDpkg(tree *report.Image, readFile ReadFileFunc) ([]Package, []string, error) {
	var pkgs []Package
	var dbs []string
	status, err := readIfPresent(tree, readFile, dpkgStatus)
	if err != nil {
		return nil, nil, err
	}
	if status != nil {
		dbs = append(dbs, dpkgStatus)
		for _, stanza := range parseStanzas(status) {
			pkg, ok := dpkgPackage(stanza)
			if !ok {
				continue
			}
			if pkg.Files, err = dpkgListFiles(tree, readFile, pkg); err != nil {
				return nil, nil, err
			}
			pkgs = append(pkgs, pkg)
		}
	}
	distroless, err := readDpkgStatusD(tree, readFile)
	if err != nil {
		return nil, nil, err
	}
	if distroless != nil {
		dbs = append(dbs, dpkgStatusDDir)
		pkgs = append(pkgs, distroless...)
	}
	return pkgs, dbs, nil
}

// dpkgPackage makes a Package of a status stanza; ok is false for a
// stanza of a package that is not installed (purged, or only known).
func dpkgPackage(stanza map[string]string) (pkg Package, ok bool) {
	// Status: want flag status, such as "install ok installed".
	if fields := strings.Fields(stanza["Status"]); len(fields) == 3 && fields[2] == dpkgNotInstalled {
		return Package{}, false
	}
	if stanza["Package"] == "" {
		return Package{}, false
	}
	pkg = Package{
		Type:    Deb,
		Name:    stanza["Package"],
		Version: stanza["Version"],
		Arch:    stanza["Architecture"],
		Source:  stanza["Package"],
	}
	// Source: NAME, or NAME (VERSION) when the binary's version differs.
	if source, _, _ := strings.Cut(stanza["Source"], " "); source != "" {
		pkg.Source = source
	}
	return pkg, true
}

// dpkgListFiles reads the package's info/*.list: NAME:ARCH.list for a
// Multi-Arch: same package, NAME.list for the others. A package without
// one (a dpkg database written by hand) has no files.
func dpkgListFiles(tree *report.Image, readFile ReadFileFunc, pkg Package) ([]string, error) {
	for _, name := range []string{pkg.Name + ":" + pkg.Arch + ".list", pkg.Name + ".list"} {
		data, err := readIfPresent(tree, readFile, path.Join(dpkgInfoDir, name))
		if err != nil || data != nil {
			return listLines(data, ""), err
		}
	}
	return nil, nil
}

// readDpkgStatusD reads a distroless status.d directory; nil when the
// image has none.
func readDpkgStatusD(tree *report.Image, readFile ReadFileFunc) ([]Package, error) {
	names := dirNames(tree, dpkgStatusDDir)
	if names == nil {
		return nil, nil
	}
	pkgs := []Package{}
	for _, name := range names {
		if strings.HasSuffix(name, dpkgMd5sumsExt) {
			continue
		}
		data, err := readIfPresent(tree, readFile, path.Join(dpkgStatusDDir, name))
		if err != nil {
			return nil, err
		}
		for _, stanza := range parseStanzas(data) {
			pkg, ok := dpkgPackage(stanza)
			if !ok {
				continue
			}
			// NAME.md5sums: "MD5  relative/path" per file.
			sums, err := readIfPresent(tree, readFile, path.Join(dpkgStatusDDir, name+dpkgMd5sumsExt))
			if err != nil {
				return nil, err
			}
			for _, line := range listLines(sums, "") {
				if _, file, ok := strings.Cut(line, "  "); ok {
					pkg.Files = append(pkg.Files, "/"+strings.TrimPrefix(file, "/"))
				}
			}
			pkgs = append(pkgs, pkg)
		}
	}
	return pkgs, nil
}

// parseStanzas splits a deb822 file (dpkg's status) into stanzas of
// fields. A continuation line (starting with a space or tab) belongs to
// the field above it; only the first line of each field is kept, which is
// all that the fields read here have.
func parseStanzas(data []byte) []map[string]string {
	var stanzas []map[string]string
	var current map[string]string
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			current = nil
		case line[0] == ' ' || line[0] == '\t':
			// continuation of a multi-line field
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			if current == nil {
				current = make(map[string]string)
				stanzas = append(stanzas, current)
			}
			current[name] = strings.TrimSpace(value)
		}
	}
	return stanzas
}

// listLines returns the non-empty lines of data, each with prefix.
func listLines(data []byte, prefix string) []string {
	var lines []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			lines = append(lines, prefix+line)
		}
	}
	return lines
}
