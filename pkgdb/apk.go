package pkgdb

import (
	"strings"

	"github.com/podprof/podprof/report"
)

// apkInstalled is apk's database: one block of "X:value" lines per
// package, blocks apart by an empty line. P name, V version, A arch,
// o origin (source package), L license; F a directory (relative to /)
// and the R lines after it the files in it.
const apkInstalled = "/lib/apk/db/installed"

func readApk(tree *report.Image, readFile ReadFileFunc) ([]Package, []string, error) {
	data, err := readIfPresent(tree, readFile, apkInstalled)
	if data == nil {
		return nil, nil, err
	}
	var pkgs []Package
	var pkg *Package
	dir := ""
	finish := func() {
		if pkg != nil && pkg.Name != "" {
			pkgs = append(pkgs, *pkg)
		}
		pkg, dir = nil, ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok || len(key) != 1 {
			if strings.TrimSpace(line) == "" {
				finish()
			}
			continue
		}
		if pkg == nil {
			pkg = &Package{Type: Apk}
		}
		switch key {
		case "P":
			pkg.Name = value
		case "V":
			pkg.Version = value
		case "A":
			pkg.Arch = value
		case "o":
			pkg.Source = value
		case "L":
			pkg.License = value
		case "F":
			dir = "/" + strings.Trim(value, "/")
			pkg.Files = append(pkg.Files, dir)
		case "R":
			pkg.Files = append(pkg.Files, strings.TrimSuffix(dir, "/")+"/"+value)
		}
	}
	finish()
	for i := range pkgs {
		if pkgs[i].Source == "" {
			pkgs[i].Source = pkgs[i].Name
		}
	}
	return pkgs, []string{apkInstalled}, nil
}
