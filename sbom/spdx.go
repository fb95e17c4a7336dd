package sbom

import (
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/podprof/podprof/report"
)

// noAssertion is SPDX's "podprof does not say".
const noAssertion = "NOASSERTION"

// WriteSPDX writes the report as an SPDX 2.3 JSON document: the image as
// the package the document describes, containing one package per
// installed package, each with its purl and an annotation saying how much
// of it the profiled runs used.
func (r *Report) WriteSPDX(w io.Writer, now time.Time) error {
	created := now.UTC().Format(time.RFC3339)
	tool := common.Creator{CreatorType: "Tool", Creator: Tool + "-" + report.Version}
	imageID := common.ElementID("Image")
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      imageName(r.Image),
		DocumentNamespace: "https://podprof.invalid/spdx/" + r.Image.ID + "-" + rand.Text(),
		CreationInfo:      &spdx.CreationInfo{Creators: []common.Creator{tool}, Created: created},
		Packages: []*spdx.Package{{
			PackageName:             imageName(r.Image),
			PackageSPDXIdentifier:   imageID,
			PackageVersion:          "sha256:" + r.Image.ID,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
			PrimaryPackagePurpose:   "CONTAINER",
			PackageExternalReferences: []*spdx.PackageExternalReference{
				{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: imageURL(r.Image)},
			},
		}},
		Relationships: []*spdx.Relationship{{
			RefA:         common.MakeDocElementID("", "DOCUMENT"),
			RefB:         common.MakeDocElementID("", string(imageID)),
			Relationship: common.TypeRelationshipDescribe,
		}},
	}
	for i := range r.Packages {
		p := &r.Packages[i]
		id := common.ElementID("Package-" + strconv.Itoa(i+1))
		pkg := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          p.Version,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			// Package databases' license fields are not always SPDX
			// expressions (rpm's "GPLv2+"): kept as a comment.
			PackageLicenseDeclared: noAssertion,
			PackageLicenseComments: p.License,
			PackageCopyrightText:   noAssertion,
			PackageSourceInfo:      "source package " + p.Source + ", from " + p.Type + " database",
			PrimaryPackagePurpose:  "LIBRARY",
			PackageExternalReferences: []*spdx.PackageExternalReference{
				{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: p.PURL},
			},
			Annotations: []spdx.Annotation{{
				Annotator:         common.Annotator{AnnotatorType: "Tool", Annotator: Tool},
				AnnotationDate:    created,
				AnnotationType:    "OTHER",
				AnnotationComment: usageAnnotation(p),
			}},
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", string(imageID)),
			RefB:         common.MakeDocElementID("", string(id)),
			Relationship: common.TypeRelationshipContains,
		})
	}
	if err := spdxjson.Write(doc, w, spdxjson.Indent("  ")); err != nil {
		return fmt.Errorf("writing the SPDX SBOM: %w", err)
	}
	return nil
}

// usageAnnotation is the SPDX annotation of a package's use: the same
// numbers as the CycloneDX properties, as key=value words.
func usageAnnotation(p *Package) string {
	return fmt.Sprintf("%s=%t %s=%d %s=%d %s=%d %s=%d", propUsed, p.IsUsed(), propFiles, p.Total.Files, propUsedFiles, p.Used.Files,
		propBytes, p.Total.Bytes, propUsedBytes, p.Used.Bytes)
}
