package sbom

import (
	"fmt"
	"io"
	"strconv"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/podprof/podprof/report"
)

// The properties podprof gives each component of a CycloneDX SBOM, in
// its own namespace as CycloneDX's property taxonomy asks.
const (
	propUsed      = "podprof:used"
	propFiles     = "podprof:files"
	propUsedFiles = "podprof:used_files"
	propBytes     = "podprof:bytes"
	propUsedBytes = "podprof:used_bytes"
)

// WriteCycloneDX writes the report as a CycloneDX 1.5 JSON SBOM: the
// image as the metadata's component, each package a library component
// identified by its purl, with podprof:* properties saying how much of it
// the profiled runs used, and the files they used as its evidence's
// occurrences.
func (r *Report) WriteCycloneDX(w io.Writer, now time.Time) error {
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Timestamp: now.UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: Tool, Version: report.Version}}},
		Component: &cdx.Component{
			BOMRef:     imageURL(r.Image),
			Type:       cdx.ComponentTypeContainer,
			Name:       imageName(r.Image),
			Version:    "sha256:" + r.Image.ID,
			PackageURL: imageURL(r.Image),
		},
	}
	components := make([]cdx.Component, len(r.Packages))
	refs := make([]string, len(r.Packages))
	for i := range r.Packages {
		p := &r.Packages[i]
		refs[i] = bomRef(p.PURL, i, r.Packages)
		components[i] = cdx.Component{
			BOMRef:     refs[i],
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    p.Version,
			PackageURL: p.PURL,
			Properties: &[]cdx.Property{
				{Name: propUsed, Value: strconv.FormatBool(p.IsUsed())},
				{Name: propFiles, Value: strconv.FormatInt(p.Total.Files, 10)},
				{Name: propUsedFiles, Value: strconv.FormatInt(p.Used.Files, 10)},
				{Name: propBytes, Value: strconv.FormatInt(p.Total.Bytes, 10)},
				{Name: propUsedBytes, Value: strconv.FormatInt(p.Used.Bytes, 10)},
			},
		}
		if len(p.UsedPaths) > 0 {
			occurrences := make([]cdx.EvidenceOccurrence, len(p.UsedPaths))
			for j, path := range p.UsedPaths {
				occurrences[j] = cdx.EvidenceOccurrence{Location: path}
			}
			components[i].Evidence = &cdx.Evidence{Occurrences: &occurrences}
		}
		if p.License != "" {
			components[i].Licenses = &cdx.Licenses{{License: &cdx.License{Name: p.License}}}
		}
	}
	bom.Components = &components
	bom.Dependencies = &[]cdx.Dependency{{Ref: bom.Metadata.Component.BOMRef, Dependencies: &refs}}
	if err := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).EncodeVersion(bom, cdx.SpecVersion1_5); err != nil {
		return fmt.Errorf("writing the CycloneDX SBOM: %w", err)
	}
	return nil
}

// bomRef is the i-th package's reference: its purl, made unique when two
// databases list the same package.
func bomRef(purl string, i int, pkgs []Package) string {
	for j := range i {
		if pkgs[j].PURL == purl {
			return purl + "#" + strconv.Itoa(i)
		}
	}
	return purl
}
