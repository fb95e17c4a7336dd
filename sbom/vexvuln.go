package sbom

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
)

// A Vulnerability is one the caller asks about: its id (CVE-2024-1234,
// GHSA-..., any id scanners use) and the names of the packages it
// affects.
type Vulnerability struct {
	ID       string
	Packages []string
}

// WriteVEX writes an OpenVEX document with one statement per
// vulnerability and package named (package names as the package database
// has them, any architecture):
//   - the image has no such package: not_affected, component_not_present;
//   - no file of the package was opened by the profiled runs: not_affected,
//     vulnerable_code_not_in_execute_path, with the numbers;
//   - some were: under_investigation, with the numbers; whether the
//     vulnerable code is among them is for a person to tell.
//
// "Not in the execute path" holds for the runs the profiles recorded:
// author is who vouches that they cover the workload.
func (r *Report) WriteVEX(w io.Writer, vulns []Vulnerability, author string, now time.Time) error {
	doc := vex.New()
	doc.Author = author
	doc.Tooling = Tool
	doc.Timestamp = &now
	product := vex.Component{
		ID:          imageURL(r.Image),
		Identifiers: map[vex.IdentifierType]string{vex.PURL: imageURL(r.Image)},
	}
	for _, v := range vulns {
		for _, name := range v.Packages {
			doc.Statements = append(doc.Statements, r.statements(v.ID, name, product)...)
		}
	}
	if _, err := doc.GenerateCanonicalID(); err != nil {
		return fmt.Errorf("making the VEX document's id: %w", err)
	}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			return fmt.Errorf("VEX statement for %s: %w", doc.Statements[i].Vulnerability.Name, err)
		}
	}
	if err := doc.ToJSON(w); err != nil {
		return fmt.Errorf("writing the VEX document: %w", err)
	}
	return nil
}

// statements says what the image's packages called name (one per
// architecture installed) mean for the vulnerability id.
func (r *Report) statements(id, name string, product vex.Component) []vex.Statement {
	var statements []vex.Statement
	for i := range r.Packages {
		p := &r.Packages[i]
		if p.Name != name {
			continue
		}
		s := vex.Statement{
			Vulnerability: vex.Vulnerability{Name: vex.VulnerabilityID(id)},
			Products: []vex.Product{{Component: product, Subcomponents: []vex.Subcomponent{{Component: vex.Component{
				ID: p.PURL, Identifiers: map[vex.IdentifierType]string{vex.PURL: p.PURL},
			}}}}},
		}
		if p.IsUsed() {
			s.Status = vex.StatusUnderInvestigation
			s.StatusNotes = usageNote(p) + ": the package was used; whether the vulnerable code ran is not known"
		} else {
			s.Status = vex.StatusNotAffected
			s.Justification = vex.VulnerableCodeNotInExecutePath
			s.ImpactStatement = usageNote(p) + " of " + strings.Join(r.Profiles, ", ")
		}
		statements = append(statements, s)
	}
	if statements == nil {
		statements = append(statements, vex.Statement{
			Vulnerability:   vex.Vulnerability{Name: vex.VulnerabilityID(id)},
			Products:        []vex.Product{{Component: product}},
			Status:          vex.StatusNotAffected,
			Justification:   vex.ComponentNotPresent,
			ImpactStatement: "the image has no package " + name,
		})
	}
	return statements
}
