package sbom

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/podprof/podprof/pkgdb"
	"github.com/podprof/podprof/report"
)

var testImageID = strings.Repeat("ab", 32)

// testReport is the Debian image the scanner fixtures in testdata are
// reports of: libc6, openssl and the i386 libgcc-s1 used by the profiled
// runs, the other packages not.
func testReport() *Report {
	distro := pkgdb.Distro{ID: "debian", VersionID: "12", Family: "debian", Release: "12.5"}
	r := &Report{
		Image:    report.ImageRef{Name: "localhost/podprof-demo/debian:bookworm", ID: testImageID},
		Distro:   distro,
		Profiles: []string{"/profiles/a.json", "/profiles/b.json"},
	}
	for _, p := range []struct {
		name, version, arch string
		files, used         int64
	}{
		{"libc6", "2.36-9+deb12u4", "amd64", 287, 4},
		{"libgcc-s1", "12.2.0-14", "amd64", 3, 0},
		{"libgcc-s1", "12.2.0-14", "i386", 3, 1},
		{"libssl3", "3.0.11-1~deb12u2", "amd64", 12, 0},
		{"login", "1:4.13+dfsg1-1+b1", "amd64", 40, 0},
		{"openssl", "3.0.11-1~deb12u2", "amd64", 20, 1},
		{"perl-base", "5.36.0-7+deb12u1", "amd64", 620, 0},
		{"tzdata", "2024a-0+deb12u1", "all", 600, 0},
	} {
		pkg := pkgdb.Package{Type: pkgdb.Deb, Name: p.name, Version: p.version, Arch: p.arch, Source: p.name}
		r.Packages = append(r.Packages, Package{
			Package: pkg,
			PackageUsage: report.PackageUsage{
				Total: report.Counts{Files: p.files, Bytes: 1000 * p.files},
				Used:  report.Counts{Files: p.used, Bytes: 1000 * p.used},
			},
			PURL: packageURL(pkg, distro),
		})
	}
	return r
}

func (r *Report) purlOf(name, arch string) string {
	for _, p := range r.Packages {
		if p.Name == name && p.Arch == arch {
			return p.PURL
		}
	}
	panic("no package " + name)
}

// scanVEX parses a scanner fixture and returns the VEX document as
// written and parsed back by go-vex.
func scanVEX(t *testing.T, r *Report, fixture string) (*Scan, *vex.VEX) {
	t.Helper()
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := ParseScan(data)
	if err != nil {
		t.Fatalf("ParseScan: %v", err)
	}
	if err := scan.CheckImage(r.Image); err != nil {
		t.Fatalf("CheckImage: %v", err)
	}
	doc, err := r.ScanVEX(scan, "Test Author", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("ScanVEX: %v", err)
	}
	var buf bytes.Buffer
	if err := doc.ToJSON(&buf); err != nil {
		t.Fatal(err)
	}
	parsed, err := vex.Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("go-vex does not parse the document: %v\n%s", err, buf.Bytes())
	}
	return scan, parsed
}

// checkStatements checks the document CVE by CVE: one statement for each
// vulnerability of want, not_affected, vulnerable_code_not_in_execute_path,
// for exactly the subcomponents (purls) want gives, for the product; none
// for any other vulnerability.
func checkStatements(t *testing.T, r *Report, doc *vex.VEX, product string, want map[string][]string) {
	t.Helper()
	got := make(map[string]bool)
	for _, s := range doc.Statements {
		id := string(s.Vulnerability.Name)
		if got[id] {
			t.Errorf("%s: two statements", id)
		}
		got[id] = true
		purls, ok := want[id]
		if !ok {
			t.Errorf("%s: a statement, want none (a used package, or one the image lacks)", id)
			continue
		}
		if s.Status != vex.StatusNotAffected || s.Justification != vex.VulnerableCodeNotInExecutePath {
			t.Errorf("%s: %s %s, want not_affected vulnerable_code_not_in_execute_path", id, s.Status, s.Justification)
		}
		if len(s.Products) != 1 || s.Products[0].ID != product {
			t.Errorf("%s: products %+v, want %s", id, s.Products, product)
			continue
		}
		var subs []string
		for _, sub := range s.Products[0].Subcomponents {
			subs = append(subs, sub.ID)
		}
		if !slices.Equal(subs, purls) {
			t.Errorf("%s: subcomponents\n %q\nwant %q", id, subs, purls)
		}
		for _, part := range append(slices.Clone(r.Profiles), "podprof "+report.Version, "not proof", "more runs make it stronger") {
			if !strings.Contains(s.ImpactStatement, part) {
				t.Errorf("%s: the impact statement does not say %q: %s", id, part, s.ImpactStatement)
			}
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("%s: no statement, want one", id)
		}
	}
}

// TestScanVEXTrivy: testdata/trivy-debian.json is a hand-made `trivy image
// -f json` report of testReport's image. Its findings, CVE by CVE:
//
//	CVE-2024-0001 libssl3 (unused) and openssl (used): libssl3 only
//	CVE-2024-0002 libc6, used: none
//	CVE-2024-0003 login, unused, dpkg epoch in the purl's qualifier: login
//	CVE-2024-0004 perl-base of another version than the image's: none
//	CVE-2024-0005 bash, not in the image: none
//	CVE-2024-0006 libgcc-s1 i386, used: none
//	CVE-2024-0007 libgcc-s1 amd64, unused: that one
//	TEMP-0841856-B18BAF tzdata, no purl (an older Trivy), unused: tzdata
//	CVE-2024-0008 a Python package named as an OS package: none
func TestScanVEXTrivy(t *testing.T) {
	r := testReport()
	scan, doc := scanVEX(t, r, "testdata/trivy-debian.json")
	if scan.Scanner != Trivy || len(scan.Findings) != 9 {
		t.Errorf("scanner %s, %d findings; want Trivy, 9 (the Python one left out)", scan.Scanner, len(scan.Findings))
	}
	if doc.Author != "Test Author" || doc.Tooling != "podprof "+report.Version {
		t.Errorf("author %q tooling %q", doc.Author, doc.Tooling)
	}
	// The product is the image as Trivy names it, from its repository digest.
	product := "pkg:oci/debian@sha256%3A" + strings.Repeat("cd", 32) + "?arch=amd64&repository_url=localhost%2Fpodprof-demo%2Fdebian"
	checkStatements(t, r, doc, product, map[string][]string{
		"CVE-2024-0001":       {r.purlOf("libssl3", "amd64")},
		"CVE-2024-0003":       {r.purlOf("login", "amd64")},
		"CVE-2024-0007":       {r.purlOf("libgcc-s1", "amd64")},
		"TEMP-0841856-B18BAF": {r.purlOf("tzdata", "all")},
	})
}

// TestScanVEXGrype: testdata/grype-debian.json is a hand-made `grype -o
// json` report of the same image, with Grype's purls (distro=debian-12,
// upstream, a dpkg epoch inline) and no repository digest:
//
//	CVE-2024-0001 libssl3 (unused) and openssl (used): libssl3 only
//	CVE-2024-0002 libc6, used: none
//	CVE-2024-0003 login, unused: login
//	CVE-2024-0004 perl-base of another version: none
//	CVE-2024-0006 libgcc-s1 i386, used: none
//	CVE-2024-0007 libgcc-s1 amd64, unused: that one
//	GHSA-0000-0000-0001 a Python package: none
func TestScanVEXGrype(t *testing.T) {
	r := testReport()
	scan, doc := scanVEX(t, r, "testdata/grype-debian.json")
	if scan.Scanner != Grype || len(scan.Findings) != 7 || scan.ImageID != testImageID {
		t.Errorf("scanner %s, %d findings, image %s; want Grype, 7, %s", scan.Scanner, len(scan.Findings), scan.ImageID, testImageID)
	}
	checkStatements(t, r, doc, imageURL(r.Image), map[string][]string{
		"CVE-2024-0001": {r.purlOf("libssl3", "amd64")},
		"CVE-2024-0003": {r.purlOf("login", "amd64")},
		"CVE-2024-0007": {r.purlOf("libgcc-s1", "amd64")},
	})
}

func TestParseScanUnknown(t *testing.T) {
	for _, doc := range []string{
		``, `not json`, `[]`, `{}`, `{"bomFormat":"CycloneDX","specVersion":"1.5"}`,
		`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[]}`,
		`{"matches":[]}`, // Grype's without its source
	} {
		if _, err := ParseScan([]byte(doc)); !errors.Is(err, ErrUnknownScan) {
			t.Errorf("ParseScan(%q): %v, want ErrUnknownScan", doc, err)
		}
	}
}

func TestCheckImage(t *testing.T) {
	image := report.ImageRef{Name: "localhost/podprof-demo/debian:bookworm", ID: testImageID}
	for _, tc := range []struct {
		name string
		scan Scan
		want string // "" for no error, else the error
	}{
		{"same id", Scan{Scanner: Trivy, ImageID: testImageID}, ""},
		{"other id", Scan{Scanner: Trivy, Target: "debian:12", ImageID: strings.Repeat("01", 32)},
			"the Trivy report is of image sha256:010101010101 (debian:12), the profiles of sha256:abababababab (localhost/podprof-demo/debian:bookworm): scan the image the profiles ran"},
		{"other id, odd name", Scan{Scanner: Grype, Target: "x\x1b[2J", ImageID: strings.Repeat("01", 32)},
			`the Grype report is of image sha256:010101010101 ("x\x1b[2J"), the profiles of sha256:abababababab (localhost/podprof-demo/debian:bookworm): scan the image the profiles ran`},
		{"no id", Scan{Scanner: Trivy, Target: "/rootfs"},
			"the Trivy report of /rootfs names no image id: scan the image the profiles ran, sha256:abababababab (localhost/podprof-demo/debian:bookworm), as an image"},
	} {
		err := tc.scan.CheckImage(image)
		if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestOCIURL(t *testing.T) {
	hex := strings.Repeat("8f", 32)
	for in, want := range map[string]string{
		// Trivy's TestNewPackageURL, "container" and "container with
		// implicit registry"; the digest's colon escaped as Trivy's SBOMs
		// have it (pkg:oci/alpine@sha256%3A...).
		"cblmariner2preview.azurecr.io/base/core@sha256:" + hex: "pkg:oci/core@sha256%3A" + hex + "?arch=amd64&repository_url=cblmariner2preview.azurecr.io%2Fbase%2Fcore",
		"alpine:3.14@sha256:" + hex:                             "pkg:oci/alpine@sha256%3A" + hex + "?arch=amd64&repository_url=index.docker.io%2Flibrary%2Falpine",
		"localhost:5000/My/App@sha256:" + hex:                   "pkg:oci/app@sha256%3A" + hex + "?arch=amd64&repository_url=localhost%3A5000%2FMy%2FApp",
		"docker.io/nginx@sha256:" + hex:                         "pkg:oci/nginx@sha256%3A" + hex + "?arch=amd64&repository_url=index.docker.io%2Flibrary%2Fnginx",
	} {
		if got := ociURL(in, "amd64"); got != want {
			t.Errorf("ociURL(%s):\n got %s\nwant %s", in, got, want)
		}
	}
}
