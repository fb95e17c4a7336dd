package sbom

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/podprof/podprof/report"
)

// The vendored schemas (testdata/schemas/README.md), loaded under their
// $id so that references between them resolve without a network.
var schemaFiles = map[string]string{
	"http://cyclonedx.org/schema/bom-1.5.schema.json":  "bom-1.5.schema.json",
	"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
	"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	"http://spdx.org/rdf/terms/2.3":                    "spdx-schema-2.3.json",
}

// validate checks the document against the schema with id, formats
// (date-time, iri-reference...) asserted.
func validate(t *testing.T, id string, document []byte) error {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, name := range schemaFiles {
		f, err := os.Open(filepath.Join("testdata", "schemas", name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
	}
	schema, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compiling %s: %v", id, err)
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(document))
	if err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return schema.Validate(instance)
}

// documentReport is testReport with the used packages' used files, and a
// license, as pkgdb and report.Usage.Packages give them.
func documentReport() *Report {
	r := testReport()
	for i := range r.Packages {
		p := &r.Packages[i]
		switch p.Name {
		case "libc6":
			p.UsedPaths = []string{"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6",
				"/usr/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libresolv.so.2"}
		case "openssl":
			p.UsedPaths = []string{"/usr/bin/openssl"}
		case "libgcc-s1":
			if p.Arch == "i386" {
				p.UsedPaths = []string{"/usr/lib/i386-linux-gnu/libgcc_s.so.1"}
			}
		}
	}
	r.Packages[0].License = "LGPL-2.1-or-later"
	return r
}

var documentTime = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestCycloneDX(t *testing.T) {
	r := documentReport()
	var buf bytes.Buffer
	if err := r.WriteCycloneDX(&buf, documentTime); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, "http://cyclonedx.org/schema/bom-1.5.schema.json", buf.Bytes()); err != nil {
		t.Errorf("the SBOM does not validate:\n%v", err)
	}
	// The schemas have teeth: a property CycloneDX does not define fails.
	broken := bytes.Replace(buf.Bytes(), []byte(`"bomFormat"`), []byte(`"podprof": true, "bomFormat"`), 1)
	if validate(t, "http://cyclonedx.org/schema/bom-1.5.schema.json", broken) == nil {
		t.Error("a CycloneDX document with an unknown property validates")
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(buf.Bytes()), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_5 || bom.Metadata.Component.Type != cdx.ComponentTypeContainer ||
		bom.Metadata.Component.PackageURL != imageURL(r.Image) {
		t.Errorf("spec %s, image component %+v", bom.SpecVersion, bom.Metadata.Component)
	}
	if tools := *bom.Metadata.Tools.Components; len(tools) != 1 || tools[0].Name != Tool || tools[0].Version != report.Version {
		t.Errorf("tools %+v", tools)
	}
	components := *bom.Components
	if len(components) != len(r.Packages) {
		t.Fatalf("%d components, want %d", len(components), len(r.Packages))
	}
	for i, c := range components {
		p := &r.Packages[i]
		if c.Type != cdx.ComponentTypeLibrary || c.Name != p.Name || c.Version != p.Version || c.PackageURL != p.PURL || c.BOMRef != p.PURL {
			t.Errorf("component %d: %+v, want %s", i, c, p.PURL)
		}
		properties := make(map[string]string)
		for _, prop := range *c.Properties {
			properties[prop.Name] = prop.Value
		}
		want := map[string]string{"podprof:used": "false", "podprof:files": "", "podprof:used_files": "", "podprof:bytes": "", "podprof:used_bytes": ""}
		if p.IsUsed() {
			want["podprof:used"] = "true"
		}
		for name, value := range want {
			if got, ok := properties[name]; !ok || (value != "" && got != value) {
				t.Errorf("%s %s: property %s = %q, want %q", p.Name, p.Arch, name, got, value)
			}
		}
		// Used packages have their used files as evidence, others none.
		var locations []string
		if c.Evidence != nil && c.Evidence.Occurrences != nil {
			for _, o := range *c.Evidence.Occurrences {
				locations = append(locations, o.Location)
			}
		}
		if !slices.Equal(locations, p.UsedPaths) {
			t.Errorf("%s %s: evidence occurrences %q, want %q", p.Name, p.Arch, locations, p.UsedPaths)
		}
	}
	if components[0].Licenses == nil || (*components[0].Licenses)[0].License.Name != "LGPL-2.1-or-later" {
		t.Errorf("libc6's license %+v", components[0].Licenses)
	}
	deps := *bom.Dependencies
	if len(deps) != 1 || deps[0].Ref != imageURL(r.Image) || len(*deps[0].Dependencies) != len(r.Packages) {
		t.Errorf("dependencies %+v", deps)
	}
}

func TestSPDX(t *testing.T) {
	r := documentReport()
	var buf bytes.Buffer
	if err := r.WriteSPDX(&buf, documentTime); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, "http://spdx.org/rdf/terms/2.3", buf.Bytes()); err != nil {
		t.Errorf("the SBOM does not validate:\n%v", err)
	}
	broken := bytes.Replace(buf.Bytes(), []byte(`"relationshipType": "CONTAINS"`), []byte(`"relationshipType": "USES"`), 1)
	if validate(t, "http://spdx.org/rdf/terms/2.3", broken) == nil {
		t.Error("an SPDX document with an unknown relationship type validates")
	}
	doc, err := spdxjson.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("tools-golang does not read the document back: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Creators[0].Creator != "podprof-"+report.Version {
		t.Errorf("version %s, creators %+v", doc.SPDXVersion, doc.CreationInfo.Creators)
	}
	if len(doc.Packages) != 1+len(r.Packages) || doc.Packages[0].PrimaryPackagePurpose != "CONTAINER" {
		t.Fatalf("%d packages, the first %+v", len(doc.Packages), doc.Packages[0])
	}
	contains := 0
	for _, rel := range doc.Relationships {
		if rel.Relationship == "CONTAINS" && rel.RefA.ElementRefID == "Image" {
			contains++
		}
	}
	if contains != len(r.Packages) {
		t.Errorf("the image CONTAINS %d packages, want %d", contains, len(r.Packages))
	}
	for i, pkg := range doc.Packages[1:] {
		p := &r.Packages[i]
		if pkg.PackageName != p.Name || pkg.PackageVersion != p.Version || len(pkg.PackageExternalReferences) != 1 ||
			pkg.PackageExternalReferences[0].Locator != p.PURL || pkg.PackageExternalReferences[0].RefType != "purl" {
			t.Errorf("package %d: %+v, want %s", i, pkg, p.PURL)
		}
		used := "podprof:used=false"
		if p.IsUsed() {
			used = "podprof:used=true"
		}
		if len(pkg.Annotations) != 1 || !strings.HasPrefix(pkg.Annotations[0].AnnotationComment, used+" ") {
			t.Errorf("%s %s: annotations %+v, want %s", p.Name, p.Arch, pkg.Annotations, used)
		}
	}
	// The document is plain JSON a scanner can read: purls where Trivy
	// reads them.
	var raw struct {
		Packages []struct {
			ExternalRefs []struct {
				ReferenceLocator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil || raw.Packages[1].ExternalRefs[0].ReferenceLocator != r.Packages[0].PURL {
		t.Errorf("externalRefs: %v %+v", err, raw.Packages[1])
	}
}
