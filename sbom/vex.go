package sbom

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"

	"github.com/podprof/podprof/pkgdb"
	"github.com/podprof/podprof/report"
)

// ScanVEX makes the OpenVEX document for a scanner's report of the image:
// a statement not_affected, vulnerable_code_not_in_execute_path, for each
// vulnerability found in installed packages of which the profiled runs
// opened no file, the packages as its subcomponents. A finding in a
// package some run used, or in one the image does not have (another
// version, another architecture), is left out: podprof makes no claim
// about it, and the scanner's finding stands.
//
// The claim holds for the runs the profiles recorded: evidence, not
// proof. author is who vouches that they cover the workload.
func (r *Report) ScanVEX(scan *Scan, author string, now time.Time) (*vex.VEX, error) {
	doc := vex.New()
	doc.Author = author
	doc.Tooling = Tool + " " + report.Version
	doc.Timestamp = &now
	product := r.scanProduct(scan)
	var order []string // the vulnerabilities claimed, as the report first names them
	unused := make(map[string][]*Package)
	for _, f := range scan.Findings {
		pkgs := r.installed(f)
		if len(pkgs) == 0 || slices.ContainsFunc(pkgs, (*Package).IsUsed) {
			continue
		}
		if unused[f.Vulnerability] == nil {
			order = append(order, f.Vulnerability)
		}
		for _, p := range pkgs {
			if !slices.Contains(unused[f.Vulnerability], p) {
				unused[f.Vulnerability] = append(unused[f.Vulnerability], p)
			}
		}
	}
	for _, id := range order {
		var subcomponents []vex.Subcomponent
		var names []string
		for _, p := range unused[id] {
			subcomponents = append(subcomponents, vex.Subcomponent{Component: vex.Component{
				ID: p.PURL, Identifiers: map[vex.IdentifierType]string{vex.PURL: p.PURL},
			}})
			names = append(names, fmt.Sprintf("%s %s (%s, %d files)", p.Name, p.Version, p.Arch, p.Total.Files))
		}
		doc.Statements = append(doc.Statements, vex.Statement{
			Vulnerability: vex.Vulnerability{Name: vex.VulnerabilityID(id)},
			Products:      []vex.Product{{Component: product, Subcomponents: subcomponents}},
			Status:        vex.StatusNotAffected,
			Justification: vex.VulnerableCodeNotInExecutePath,
			ImpactStatement: fmt.Sprintf("No file of %s was opened by the runs recorded in %s (podprof %s). "+
				"This is evidence from the observed runs, not proof: code the runs did not reach was not seen, and more runs make it stronger.",
				strings.Join(names, ", "), strings.Join(r.Profiles, ", "), report.Version),
		})
	}
	if _, err := doc.GenerateCanonicalID(); err != nil {
		return nil, fmt.Errorf("making the VEX document's id: %w", err)
	}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			return nil, fmt.Errorf("VEX statement for %s: %w", report.Printable(string(doc.Statements[i].Vulnerability.Name)), err)
		}
	}
	return &doc, nil
}

// installed returns the image's packages a finding is about: same name
// and version, and where the finding has a purl, same type, name, version
// and architecture (the namespace and distro qualifier are left aside:
// Grype writes the os-release ID there, debian-12 where Trivy writes
// debian-12.5). None when the image has no such package: the report may
// be of an older build, or the finding of another kind of package.
func (r *Report) installed(f Finding) []*Package {
	var purl *packageurl.PackageURL
	if f.PURL != "" {
		p, err := packageurl.FromString(f.PURL)
		if err != nil {
			return nil // a finding podprof cannot place gets no claim
		}
		purl = &p
	}
	var pkgs []*Package
	for i := range r.Packages {
		p := &r.Packages[i]
		if p.Name != f.Package || scannerVersion(p.Package) != f.Version {
			continue
		}
		if purl != nil && !samePackage(p, purl) {
			continue
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// scannerVersion is the version as scanners show an installed package:
// with rpm's epoch in front (dpkg's has it already).
func scannerVersion(p pkgdb.Package) string {
	if p.Type == pkgdb.Rpm && p.Epoch != 0 {
		return strconv.Itoa(p.Epoch) + ":" + p.Version
	}
	return p.Version
}

// samePackage reports whether a scanner's purl names the installed
// package p: type, name, version (its epoch inline or as a qualifier) and
// architecture when the purl has one.
func samePackage(p *Package, purl *packageurl.PackageURL) bool {
	q := purl.Qualifiers.Map()
	version := purl.Version
	if epoch := q["epoch"]; epoch != "" && epoch != "0" && !strings.Contains(version, ":") {
		version = epoch + ":" + version
	}
	return purl.Type == p.Type && strings.EqualFold(purl.Name, p.Name) && version == scannerVersion(p.Package) &&
		(q["arch"] == "" || q["arch"] == p.Arch)
}

// scanProduct is the image as the statements' product: its purl as Trivy
// builds it from the report's first repository digest (so that Trivy
// applies the statements to its findings), else podprof's purl of the
// image by its id.
func (r *Report) scanProduct(scan *Scan) vex.Component {
	purl := imageURL(r.Image)
	if len(scan.RepoDigests) > 0 {
		purl = ociURL(scan.RepoDigests[0], scan.Arch)
	}
	return vex.Component{
		ID:          purl,
		Identifiers: map[vex.IdentifierType]string{vex.PURL: purl},
		Hashes:      map[vex.Algorithm]vex.Hash{vex.SHA256: vex.Hash(r.Image.ID)},
	}
}

// ociURL is an image's purl as Trivy's parseOCI (pkg/purl/purl.go) builds
// it from a repository digest: pkg:oci/NAME@sha256:HEX, NAME the
// repository's last element in lower case, repository_url the repository
// as go-containerregistry names it (index.docker.io/library/NAME for a
// Docker Hub short name), arch the config's architecture.
func ociURL(repoDigest, arch string) string {
	repository, digest, _ := strings.Cut(repoDigest, "@")
	if i := strings.LastIndexByte(repository, ':'); i > strings.LastIndexByte(repository, '/') {
		repository = repository[:i] // a tag, which some reports keep
	}
	registry, path, ok := strings.Cut(repository, "/")
	if !ok || (!strings.ContainsAny(registry, ".:") && registry != "localhost") {
		registry, path = "docker.io", repository // a Docker Hub name
	}
	if registry == "docker.io" || registry == "index.docker.io" {
		registry = "index.docker.io"
		if !strings.Contains(path, "/") {
			path = "library/" + path
		}
	}
	repository = registry + "/" + path
	name := strings.ToLower(path[strings.LastIndexByte(path, '/')+1:])
	qualifiers := packageurl.Qualifiers{{Key: "repository_url", Value: repository}}
	if arch != "" {
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "arch", Value: arch})
	}
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", name, digest, qualifiers, "").ToString()
}
