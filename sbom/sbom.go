// Package sbom writes what an image's packages are and which of them the
// profiled runs used: podprof's own table and JSON, CycloneDX 1.5 and
// SPDX 2.3 SBOMs, and OpenVEX statements. It only formats: the packages
// come from pkgdb, their use from report.Usage.Packages.
package sbom

import (
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/podprof/podprof/pkgdb"
	"github.com/podprof/podprof/report"
)

// Tool is how the documents name their author tool.
const Tool = "podprof"

// A Package is an installed package and how much of it was used.
type Package struct {
	pkgdb.Package
	report.PackageUsage
	PURL string
}

// IsUsed reports whether a profiled run used any file of the package.
func (p *Package) IsUsed() bool { return p.Used.Files > 0 }

// Report is an image's packages joined with the usage of profiled runs.
type Report struct {
	Image     report.ImageRef
	Distro    pkgdb.Distro
	Databases []string
	Profiles  []string // the profile files, merged
	Packages  []Package
	Total     report.Counts // the image's files, as report.Usage.Total
	Used      report.Counts
	// Unowned are the files no package lists.
	Unowned     report.Counts
	UnownedUsed report.Counts
}

// New joins the inventory's packages with the usage.
func New(u *report.Usage, inv *pkgdb.Inventory, profiles []string) *Report {
	owners := make([]report.PackageFiles, len(inv.Packages))
	for i, p := range inv.Packages {
		owners[i] = report.PackageFiles{Name: p.Name, Paths: p.Files}
	}
	pu := u.Packages(owners)
	r := &Report{
		Image:       u.Profile.Image,
		Distro:      inv.Distro,
		Databases:   inv.Databases,
		Profiles:    profiles,
		Packages:    make([]Package, len(inv.Packages)),
		Total:       u.Total(),
		Used:        u.Used,
		Unowned:     pu.Unowned,
		UnownedUsed: pu.UnownedUsed,
	}
	for i, p := range inv.Packages {
		r.Packages[i] = Package{Package: p, PackageUsage: pu.Packages[i], PURL: packageURL(p, inv.Distro)}
	}
	return r
}

// Counts returns how many packages were used and how many not.
func (r *Report) Counts() (used, unused int) {
	for i := range r.Packages {
		if r.Packages[i].IsUsed() {
			used++
		}
	}
	return used, len(r.Packages) - used
}

// packageURL is the package's purl built as Trivy builds it (New in
// pkg/purl/purl.go of github.com/aquasecurity/trivy), which is what
// scanners' reports and VEX consumers match:
//   - pkg:TYPE/FAMILY/NAME@VERSION, FAMILY the distribution as Trivy finds
//     it (Distro.Family: debian, ubuntu, alpine, redhat, centos...);
//     apk names in lower case;
//   - VERSION without an epoch: dpkg's [epoch:]upstream-revision loses its
//     epoch (Trivy's dpkg analyzer keeps it apart), rpm's is version-release;
//   - qualifiers arch; epoch when not 0 (deb, rpm); distro, FAMILY-RELEASE
//     for deb and rpm, RELEASE alone for apk; rpm's modularitylabel:
//     written sorted by key, as packageurl-go writes them for Trivy.
//
// An image whose distribution nobody knows has neither namespace nor distro,
// as with Trivy.
func packageURL(p pkgdb.Package, d pkgdb.Distro) string {
	name, version, epoch := p.Name, p.Version, p.Epoch
	if p.Type == pkgdb.Deb {
		if e, rest, ok := strings.Cut(version, ":"); ok {
			if n, err := strconv.Atoi(e); err == nil {
				epoch, version = n, rest
			}
		}
	}
	var qualifiers packageurl.Qualifiers
	if p.Arch != "" {
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "arch", Value: p.Arch})
	}
	if epoch != 0 {
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "epoch", Value: strconv.Itoa(epoch)})
	}
	namespace := strings.ToLower(d.Family)
	if namespace != "" {
		distro := namespace + "-" + d.Release
		if p.Type == pkgdb.Apk {
			name, distro = strings.ToLower(name), d.Release
		}
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "distro", Value: distro})
	}
	if p.Modularity != "" {
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "modularitylabel", Value: p.Modularity})
	}
	return packageurl.NewPackageURL(p.Type, namespace, name, version, qualifiers, "").ToString()
}

// imageURL is the image's purl: pkg:oci/NAME@sha256:ID with the
// repository it was named by. The digest is podman's image id (the
// config's digest), which is what a local image has for sure.
func imageURL(image report.ImageRef) string {
	name, repository := image.Name, ""
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name, repository = name[i+1:], name[:i]
	}
	name, _, _ = strings.Cut(name, ":") // the tag
	var qualifiers packageurl.Qualifiers
	if repository != "" {
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "repository_url", Value: repository})
	}
	if name == "" {
		name = shortID(image.ID)
	}
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", name, "sha256:"+image.ID, qualifiers, "").ToString()
}

func shortID(id string) string { return id[:min(12, len(id))] }

// imageName is the image as documents title it: its name, else its id.
func imageName(image report.ImageRef) string {
	if image.Name != "" {
		return image.Name
	}
	return "sha256:" + image.ID
}
