package run

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/package-url/packageurl-go"
)

// The package database test images of contrib/images/packages.sh.
const (
	rpmImage = "localhost/podprof-test/rpm:latest"
	apkImage = "localhost/podprof-test/alpine:latest"
)

// packagesReport is the part of `podprof report --packages --format json`
// the tests read; see docs/packages.md.
type packagesReport struct {
	Image struct {
		ID string `json:"id"`
	} `json:"image"`
	ImageBytes int64 `json:"image_bytes"`
	ImageFiles int64 `json:"image_files"`
	UsedBytes  int64 `json:"used_bytes"`
	UsedFiles  int64 `json:"used_files"`
	Packages   []struct {
		packageCounts
		Name    string `json:"name"`
		Version string `json:"version"`
		Arch    string `json:"arch"`
		PURL    string `json:"purl"`
		Used    bool   `json:"used"`
	} `json:"packages"`
	Unowned packageCounts `json:"unowned"`
}

type packageCounts struct {
	Bytes     int64 `json:"bytes"`
	Files     int64 `json:"files"`
	UsedBytes int64 `json:"used_bytes"`
	UsedFiles int64 `json:"used_files"`
}

// profileOf runs the shell command in image, traced, and returns the
// profile's path.
func profileOf(t *testing.T, image, command string) string {
	t.Helper()
	requireRoot(t)
	requireImage(t, image)
	out := filepath.Join(t.TempDir(), "profile.json")
	if r := podprof(t, "run", "--rm", "--podprof-output="+out, image, "/bin/sh", "-c", command); r.code != 0 {
		t.Fatalf("podprof run %s: exit %d, stderr:\n%s", image, r.code, r.stderr)
	}
	return out
}

// packagesOf runs podprof report --packages --format json on the profile.
func packagesOf(t *testing.T, profile string) *packagesReport {
	t.Helper()
	r := podprof(t, "report", "--packages", "--format", "json", profile)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("podprof report --packages: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var rep packagesReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("podprof report --packages --format json: %v\n%s", err, r.stdout)
	}
	return &rep
}

// checkPackages compares the report's packages with what the package
// manager lists (lines "NAME VERSION ARCH"), checks that packages and
// unowned files add up to the image, and that exactly the packages named
// used were used.
func checkPackages(t *testing.T, rep *packagesReport, managerList string, used []string) {
	t.Helper()
	var got []string
	var sum packageCounts
	var gotUsed []string
	for _, p := range rep.Packages {
		got = append(got, p.Name+" "+p.Version+" "+p.Arch)
		sum.Bytes += p.Bytes
		sum.Files += p.Files
		sum.UsedBytes += p.UsedBytes
		sum.UsedFiles += p.UsedFiles
		if p.Used {
			gotUsed = append(gotUsed, p.Name)
		}
		if purl, err := packageurl.FromString(p.PURL); err != nil || purl.Name != p.Name || !sameVersion(purl, p.Version) {
			t.Errorf("package %s %s: purl %q (%v)", p.Name, p.Version, p.PURL, err)
		}
	}
	want := strings.Split(strings.TrimSpace(managerList), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%d packages, the package manager lists %d:\n got %q\nwant %q", len(got), len(want), got, want)
	}
	if sum.Bytes+rep.Unowned.Bytes != rep.ImageBytes || sum.Files+rep.Unowned.Files != rep.ImageFiles {
		t.Errorf("packages (%d B, %d files) and unowned (%d B, %d files) do not add up to the image (%d B, %d files)",
			sum.Bytes, sum.Files, rep.Unowned.Bytes, rep.Unowned.Files, rep.ImageBytes, rep.ImageFiles)
	}
	if sum.UsedBytes+rep.Unowned.UsedBytes != rep.UsedBytes || sum.UsedFiles+rep.Unowned.UsedFiles != rep.UsedFiles {
		t.Errorf("used packages (%d B, %d files) and unowned (%d B, %d files) do not add up to the used (%d B, %d files)",
			sum.UsedBytes, sum.UsedFiles, rep.Unowned.UsedBytes, rep.Unowned.UsedFiles, rep.UsedBytes, rep.UsedFiles)
	}
	for _, name := range used {
		if !slices.Contains(gotUsed, name) {
			t.Errorf("package %s not used; used: %q", name, gotUsed)
		}
	}
}

// sameVersion reports whether the purl has the package manager's version:
// a dpkg epoch (1:4.13...) is the purl's epoch qualifier, as Trivy writes
// it, not part of its version.
func sameVersion(purl packageurl.PackageURL, version string) bool {
	epoch, rest, ok := strings.Cut(version, ":")
	if !ok {
		return purl.Version == version && purl.Qualifiers.Map()["epoch"] == ""
	}
	return purl.Version == rest && purl.Qualifiers.Map()["epoch"] == epoch
}

// TestPackagesDebian: the demo image's packages are dpkg-query's, and a
// shell printing the date and os-release used dash, coreutils, libc6 and
// base-files but not perl.
func TestPackagesDebian(t *testing.T) {
	rep := packagesOf(t, demoProfile(t))
	dpkg := runCmd(t, "podman", "run", "--rm", demoImage, "dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture}\n")
	if dpkg.code != 0 {
		t.Fatalf("dpkg-query in %s: exit %d: %s", demoImage, dpkg.code, dpkg.stderr)
	}
	checkPackages(t, rep, dpkg.stdout, []string{"dash", "coreutils", "libc6", "base-files"})
	for _, p := range rep.Packages {
		if p.Name == "perl-base" && p.Used {
			t.Errorf("perl-base used by a shell printing the date")
		}
	}
}

// TestPackagesRpm: the rpm image's packages are those the host's rpm
// reads from the image's database.
func TestPackagesRpm(t *testing.T) {
	requireRoot(t, "rpm")
	rep := packagesOf(t, profileOf(t, rpmImage, "cat /etc/passwd"))
	mount := strings.TrimSpace(runCmd(t, "podman", "image", "mount", rpmImage).stdout)
	defer runCmd(t, "podman", "image", "unmount", rpmImage)
	if mount == "" {
		t.Fatalf("podman image mount %s gave no path", rpmImage)
	}
	rpm := runCmd(t, "rpm", "--root", mount, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME} %{VERSION}-%{RELEASE} %{ARCH}\n")
	if rpm.code != 0 || rpm.stdout == "" {
		t.Fatalf("rpm -qa on %s: exit %d: %s", rpmImage, rpm.code, rpm.stderr)
	}
	checkPackages(t, rep, rpm.stdout, []string{"busybox", "podprof-base"})
	checkUnused(t, rep, "podprof-docs")
}

// TestPackagesApk: the apk image's packages are those its database names,
// as the container's own tools read it (Debian has no apk to ask).
func TestPackagesApk(t *testing.T) {
	rep := packagesOf(t, profileOf(t, apkImage, "cat /etc/passwd"))
	db := runCmd(t, "podman", "run", "--rm", apkImage, "/bin/sh", "-c",
		`while IFS=: read -r k v; do case $k in P) p=$v;; V) ver=$v;; A) echo "$p $ver $v";; esac; done </lib/apk/db/installed`)
	if db.code != 0 || db.stdout == "" {
		t.Fatalf("reading the apk database in %s: exit %d: %s", apkImage, db.code, db.stderr)
	}
	checkPackages(t, rep, db.stdout, []string{"busybox", "podprof-base"})
	checkUnused(t, rep, "podprof-docs")
}

func checkUnused(t *testing.T, rep *packagesReport, name string) {
	t.Helper()
	for _, p := range rep.Packages {
		if p.Name == name && (p.Used || p.Files == 0) {
			t.Errorf("package %s: used %v, %d files; want unused, with files", name, p.Used, p.Files)
		}
	}
}

// TestSbomAndVex writes both SBOM formats and a VEX document of the demo
// image and checks them against the packages report.
func TestSbomAndVex(t *testing.T) {
	profile := demoProfile(t)
	rep := packagesOf(t, profile)
	used := make(map[string]bool)
	for _, p := range rep.Packages {
		used[p.PURL] = p.Used
	}

	t.Run("cyclonedx", func(t *testing.T) {
		r := podprof(t, "sbom", profile)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var bom struct {
			BOMFormat   string `json:"bomFormat"`
			SpecVersion string `json:"specVersion"`
			Components  []struct {
				PURL       string `json:"purl"`
				Properties []struct{ Name, Value string }
			} `json:"components"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &bom); err != nil {
			t.Fatal(err)
		}
		if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" || len(bom.Components) != len(rep.Packages) {
			t.Fatalf("%s %s with %d components, want CycloneDX 1.5 with %d", bom.BOMFormat, bom.SpecVersion, len(bom.Components), len(rep.Packages))
		}
		for _, c := range bom.Components {
			i := slices.IndexFunc(c.Properties, func(p struct{ Name, Value string }) bool { return p.Name == "podprof:used" })
			if i < 0 || c.Properties[i].Value != map[bool]string{true: "true", false: "false"}[used[c.PURL]] {
				t.Errorf("component %s: properties %v, used %v", c.PURL, c.Properties, used[c.PURL])
			}
		}
	})

	t.Run("spdx", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "sbom.spdx.json")
		if r := podprof(t, "sbom", "--format", "spdx", "--output", out, profile); r.code != 0 || r.stdout != "" {
			t.Fatalf("exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Packages    []struct {
				ExternalRefs []struct{ ReferenceLocator string }
				Annotations  []struct{ Comment string }
			} `json:"packages"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		// The image, then one package per installed one.
		if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) != len(rep.Packages)+1 {
			t.Fatalf("%s with %d packages, want SPDX-2.3 with %d", doc.SPDXVersion, len(doc.Packages), len(rep.Packages)+1)
		}
		for _, p := range doc.Packages[1:] {
			purl := p.ExternalRefs[0].ReferenceLocator
			if len(p.Annotations) != 1 || !strings.Contains(p.Annotations[0].Comment, "podprof:used="+map[bool]string{true: "true", false: "false"}[used[purl]]) {
				t.Errorf("package %s: annotations %v, used %v", purl, p.Annotations, used[purl])
			}
		}
	})

	t.Run("vex", func(t *testing.T) { checkVexScan(t, profile, rep) })
}

// trivyFinding is one vulnerability of a `trivy image -f json` report.
type trivyFinding struct {
	VulnerabilityID  string
	PkgName          string
	InstalledVersion string
	PkgIdentifier    struct{ PURL string } `json:",omitzero"`
}

// trivyPURL is a Debian package's purl as Trivy builds it: distro from
// /etc/debian_version, dpkg's epoch a qualifier (pkg/purl in
// github.com/aquasecurity/trivy).
func trivyPURL(name, version, arch, debianVersion string) string {
	qualifiers := packageurl.Qualifiers{{Key: "arch", Value: arch}}
	if epoch, rest, ok := strings.Cut(version, ":"); ok {
		version = rest
		qualifiers = append(qualifiers, packageurl.Qualifier{Key: "epoch", Value: epoch})
	}
	qualifiers = append(qualifiers, packageurl.Qualifier{Key: "distro", Value: "debian-" + debianVersion})
	return packageurl.NewPackageURL("deb", "debian", name, version, qualifiers, "").ToString()
}

// checkVexScan writes a Trivy report of the demo image, its real id and
// packages, and checks podprof vex --scan's statements CVE by CVE: claims
// for the unused packages only, none for a used one, one the image lacks,
// another version, or a language package; and a report of another image
// refused.
func checkVexScan(t *testing.T, profile string, rep *packagesReport) {
	debianVersion := strings.TrimSpace(runCmd(t, "podman", "run", "--rm", demoImage, "cat", "/etc/debian_version").stdout)
	byName := make(map[string]int)
	epochPackage := "" // an unused package with a dpkg epoch
	for i, p := range rep.Packages {
		byName[p.Name] = i
		if want := trivyPURL(p.Name, p.Version, p.Arch, debianVersion); p.PURL != want {
			t.Errorf("package %s: purl %s, Trivy's %s", p.Name, p.PURL, want)
		}
		if !p.Used && strings.Contains(p.Version, ":") && epochPackage == "" {
			epochPackage = p.Name
		}
	}
	if epochPackage == "" {
		t.Fatal("no unused package with an epoch in the demo image")
	}
	finding := func(id, name, version string, withPURL bool) trivyFinding {
		f := trivyFinding{VulnerabilityID: id, PkgName: name, InstalledVersion: version}
		if withPURL {
			p := rep.Packages[byName[name]]
			f.PkgIdentifier.PURL = trivyPURL(name, version, p.Arch, debianVersion)
		}
		return f
	}
	perl, libc := rep.Packages[byName["perl-base"]], rep.Packages[byName["libc6"]]
	if perl.Used || !libc.Used {
		t.Fatalf("perl-base used %v, libc6 used %v: the workload changed", perl.Used, libc.Used)
	}
	type result struct {
		Target          string
		Class           string
		Vulnerabilities []trivyFinding
	}
	writeScan := func(imageID string) string {
		scan := map[string]any{
			"SchemaVersion": 2,
			"ArtifactName":  demoImage,
			"ArtifactType":  "container_image",
			"Metadata":      map[string]any{"ImageID": "sha256:" + imageID, "OS": map[string]string{"Family": "debian", "Name": debianVersion}},
			"Results": []result{
				{Target: demoImage + " (debian " + debianVersion + ")", Class: "os-pkgs", Vulnerabilities: []trivyFinding{
					finding("CVE-2000-0001", "perl-base", perl.Version, true),
					finding("CVE-2000-0001", "libc6", libc.Version, true),
					finding("CVE-2000-0002", "libc6", libc.Version, true),
					finding("CVE-2000-0003", epochPackage, rep.Packages[byName[epochPackage]].Version, true),
					finding("CVE-2000-0004", "no-such-package", "1.0-1", false),
					finding("CVE-2000-0005", "perl-base", perl.Version+"~older", false),
				}},
				{Target: "usr/lib/python3/dist-packages", Class: "lang-pkgs", Vulnerabilities: []trivyFinding{
					finding("CVE-2000-0006", "perl-base", perl.Version, false),
				}},
			},
		}
		data, err := json.Marshal(scan)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "trivy.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	r := podprof(t, "vex", "--author", "test", "--scan", writeScan(rep.Image.ID), profile)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Author     string `json:"author"`
		Statements []struct {
			Vulnerability struct{ Name string } `json:"vulnerability"`
			Products      []struct {
				Subcomponents []struct {
					ID string `json:"@id"`
				} `json:"subcomponents"`
			} `json:"products"`
			Status          string `json:"status"`
			Justification   string `json:"justification"`
			ImpactStatement string `json:"impact_statement"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range doc.Statements {
		line := s.Vulnerability.Name + " " + s.Status + " " + s.Justification
		for _, sub := range s.Products[0].Subcomponents {
			line += " " + sub.ID
		}
		got = append(got, line)
		if !strings.Contains(s.ImpactStatement, profile) || !strings.Contains(s.ImpactStatement, "not proof") {
			t.Errorf("%s: impact statement %q does not name the profile and say it is no proof", s.Vulnerability.Name, s.ImpactStatement)
		}
	}
	want := []string{
		"CVE-2000-0001 not_affected vulnerable_code_not_in_execute_path " + perl.PURL,
		"CVE-2000-0003 not_affected vulnerable_code_not_in_execute_path " + rep.Packages[byName[epochPackage]].PURL,
	}
	if doc.Author != "test" || !slices.Equal(got, want) {
		t.Errorf("author %q, statements\n%q\nwant\n%q", doc.Author, got, want)
	}

	other := podprof(t, "vex", "--scan", writeScan(strings.Repeat("0", 64)), profile)
	if other.code != 125 || other.stdout != "" || strings.Count(other.stderr, "\n") != 1 ||
		!strings.Contains(other.stderr, "is of image sha256:000000000000") || !strings.Contains(other.stderr, "sha256:"+rep.Image.ID[:12]) {
		t.Errorf("a report of another image: exit %d, stdout %q, stderr %q; want 125 and one line naming both images", other.code, other.stdout, other.stderr)
	}
}

// TestPackagesBadInput: one "Error:" line, exit 125, no file written.
func TestPackagesBadInput(t *testing.T) {
	requireRoot(t)
	requireImage(t, busyboxImage)
	profile := profileOf(t, busyboxImage, "true")
	missingDir := filepath.Join(t.TempDir(), "missing", "sbom.json")
	notAScan := filepath.Join(t.TempDir(), "bom.json")    // a CycloneDX SBOM, not a scanner report
	emptyScan := filepath.Join(t.TempDir(), "trivy.json") // a Trivy report without findings
	for path, doc := range map[string]string{
		notAScan:  `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}`,
		emptyScan: `{"SchemaVersion":2,"ArtifactName":"x","Results":[]}`,
	} {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, args := range map[string][]string{
		"no database":      {"sbom", profile},
		"report tree":      {"report", "--packages", "--format", "tree", profile},
		"sbom format":      {"sbom", "--format", "swid", profile},
		"sbom output dir":  {"sbom", "--output", missingDir, profile},
		"vex without scan": {"vex", profile},
		"vex no scan file": {"vex", "--scan", "/nonexistent/trivy.json", profile},
		"vex not a scan":   {"vex", "--scan", notAScan, profile},
		"vex no profile":   {"vex", "--scan", emptyScan, "/nonexistent/profile.json"},
	} {
		t.Run(name, func(t *testing.T) {
			r := podprof(t, args...)
			if r.code != 125 || r.stdout != "" || !strings.HasPrefix(r.stderr, "Error: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("podprof %q: exit %d, stdout %q, stderr %q; want 125 and one Error: line", args, r.code, r.stdout, r.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Dir(missingDir)); err == nil {
		t.Errorf("podprof sbom --output made %s", filepath.Dir(missingDir))
	}
}
