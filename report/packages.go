package report

import "path"

// PackageFiles is what the package join needs of an installed package:
// the paths its package database says it installed.
type PackageFiles struct {
	Name  string // only for the caller; the join does not read it
	Paths []string
}

// PackageUsage is how much of one package's files the image has and the
// profiles used.
type PackageUsage struct {
	Total Counts
	Used  Counts
	// Missing counts the package's paths that name nothing in the image,
	// such as files a later layer deleted (rm -rf /usr/share/doc).
	Missing int64
	// UsedPaths are the used files' paths in the image (directories on
	// the way resolved), in the package's order: the evidence of its use.
	UsedPaths []string
}

// PackagesUsage splits a Usage by the packages that own the image's
// files. Every file of the image counts for one package at most, so the
// packages and Unowned add up to the image: see docs/accounting.md.
type PackagesUsage struct {
	Packages []PackageUsage // in the order the packages were given
	// Unowned are the image's files that no package lists: the
	// application, generated configuration, the package databases.
	Unowned     Counts
	UnownedUsed Counts
}

// Packages joins the usage with the image's packages. A file several
// packages list (hard links, names through a symbolic link, dpkg's
// shared files of Multi-Arch packages) counts for the first of them in
// pkgs' order only.
func (u *Usage) Packages(pkgs []PackageFiles) *PackagesUsage {
	pu := &PackagesUsage{Packages: make([]PackageUsage, len(pkgs))}
	owned := make(map[*Inode]bool)
	for i, pkg := range pkgs {
		usage := &pu.Packages[i]
		for _, p := range pkg.Paths {
			n := u.Image.lookupInstalled(p)
			switch {
			case n == nil:
				usage.Missing++
			case n.Kind == Dir || owned[n.Inode]:
				// a directory weighs nothing; a file counts once
			default:
				owned[n.Inode] = true
				usage.Total.add(n.Inode)
				if u.used[n.Inode] {
					usage.Used.add(n.Inode)
					usage.UsedPaths = append(usage.UsedPaths, n.Path())
				}
			}
		}
	}
	pu.Unowned, pu.UnownedUsed = u.Total(), u.Used
	for _, usage := range pu.Packages {
		pu.Unowned.Bytes -= usage.Total.Bytes
		pu.Unowned.Files -= usage.Total.Files
		pu.UnownedUsed.Bytes -= usage.Used.Bytes
		pu.UnownedUsed.Files -= usage.Used.Files
	}
	return pu
}

// lookupInstalled returns what the path a package database lists names in
// the image, or nil. The directories on the way are resolved as the kernel
// would (dpkg lists /bin/bash where /bin links to usr/bin), but not the
// last name: a package that installed a symbolic link owns the link.
func (img *Image) lookupInstalled(p string) *Node {
	dir, base := path.Split(path.Clean("/" + p))
	if base == "" {
		return img.Root // dpkg lists "/."
	}
	parent, err := img.Resolve(dir)
	if err != nil || parent.Kind != Dir {
		return nil
	}
	return parent.Child(base)
}
