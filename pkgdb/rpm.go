package pkgdb

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	// go-rpmdb reads sqlite databases through database/sql, as driver "sqlite".
	_ "github.com/glebarez/go-sqlite"
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/podprof/podprof/report"
)

// rpmDatabases are where rpm keeps its database, newest layout first:
// sqlite (rpm 4.16+, Fedora 33+, RHEL 9), ndb (SUSE), Berkeley DB (RHEL 8
// and older). /usr/lib/sysimage/rpm is where Fedora and SUSE moved it;
// /var/lib/rpm then links there, and each database is read once.
var rpmDatabases = []string{
	"/var/lib/rpm/rpmdb.sqlite",
	"/usr/lib/sysimage/rpm/rpmdb.sqlite",
	"/var/lib/rpm/Packages.db",
	"/usr/lib/sysimage/rpm/Packages.db",
	"/var/lib/rpm/Packages",
	"/usr/lib/sysimage/rpm/Packages",
}

// sqliteJournalSuffix names the write-ahead log beside an sqlite
// database: transactions not yet written back into the database itself.
const sqliteJournalSuffix = "-wal"

func readRpm(tree *report.Image, readFile ReadFileFunc) ([]Package, []string, error) {
	var pkgs []Package
	var dbs []string
	seen := make(map[*report.Inode]bool)
	for _, p := range rpmDatabases {
		n, err := tree.Resolve(p)
		if err != nil || n.Kind != report.Regular || seen[n.Inode] {
			continue
		}
		seen[n.Inode] = true
		found, err := readRpmDatabase(tree, readFile, p)
		if err != nil {
			return nil, nil, fmt.Errorf("reading rpm database %s: %w", report.Printable(p), err)
		}
		pkgs = append(pkgs, found...)
		dbs = append(dbs, p)
	}
	return pkgs, dbs, nil
}

// readRpmDatabase copies the database at p (and its sqlite journal) to a
// temporary directory, since go-rpmdb reads files by path, and lists its
// packages. The copy is removed before it returns.
func readRpmDatabase(tree *report.Image, readFile ReadFileFunc, p string) ([]Package, error) {
	dir, err := os.MkdirTemp("", "podprof-rpmdb-")
	if err != nil {
		return nil, fmt.Errorf("making a directory for a copy of the database: %w", err)
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, path.Base(p))
	for _, suffix := range []string{"", sqliteJournalSuffix} {
		data, err := readIfPresent(tree, readFile, p+suffix)
		if err != nil {
			return nil, err
		}
		if data == nil {
			continue
		}
		if err := os.WriteFile(local+suffix, data, 0o600); err != nil {
			return nil, fmt.Errorf("copying the database: %w", err)
		}
	}
	db, err := rpmdb.Open(local)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	infos, err := db.ListPackages()
	if err != nil {
		return nil, err
	}
	pkgs := make([]Package, 0, len(infos))
	for _, info := range infos {
		// gpg-pubkey entries are the keys rpm imported, not software.
		if info.Name == "gpg-pubkey" {
			continue
		}
		files, err := info.InstalledFileNames()
		if err != nil {
			return nil, fmt.Errorf("files of package %s: %w", report.Printable(info.Name), err)
		}
		pkgs = append(pkgs, Package{
			Type:       Rpm,
			Name:       info.Name,
			Version:    info.Version + "-" + info.Release,
			Epoch:      info.EpochNum(),
			Modularity: info.Modularitylabel,
			Arch:       info.Arch,
			Source:     sourceRpmName(info.SourceRpm),
			License:    info.License,
			Files:      files,
		})
	}
	return pkgs, nil
}

// sourceRpmName turns a source rpm's file name, NAME-VERSION-RELEASE.src.rpm,
// into NAME; "(none)" and "" (a source rpm itself) give "".
func sourceRpmName(sourceRpm string) string {
	base, ok := strings.CutSuffix(sourceRpm, ".src.rpm")
	if !ok {
		return ""
	}
	// NAME may hold dashes; VERSION and RELEASE may not.
	for range 2 {
		i := strings.LastIndexByte(base, '-')
		if i < 0 {
			return ""
		}
		base = base[:i]
	}
	return base
}
