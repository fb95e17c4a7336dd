package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/podprof/podprof/pkgdb"
	"github.com/podprof/podprof/report"
)

// The scanners whose JSON reports ParseScan reads.
const (
	Trivy = "Trivy"
	Grype = "Grype"
)

// A Scan is what a vulnerability scanner's JSON report says of an image:
// which image it scanned, and which vulnerabilities it found in which of
// its OS packages.
type Scan struct {
	Scanner string // Trivy or Grype
	Target  string // the image as the scanner was told it
	// ImageID is the image's config digest (podman's image id), hex
	// without "sha256:"; "" when the report does not say.
	ImageID string
	// RepoDigests are the image's manifest digests in a repository,
	// REPOSITORY@sha256:HEX.
	RepoDigests []string
	Arch        string // the image config's architecture
	Findings    []Finding
}

// A Finding is one vulnerability the scanner found in one OS package.
type Finding struct {
	Vulnerability string // CVE-2024-1234, or the scanner's id (GHSA-..., TEMP-...)
	Package       string
	// Version is the installed version as the scanner shows it: dpkg's
	// and rpm's with their epoch, EPOCH:VERSION-RELEASE for rpm.
	Version string
	PURL    string // "" when the report has none
}

// ErrUnknownScan is returned by ParseScan for a document that is neither
// a Trivy nor a Grype JSON report.
var ErrUnknownScan = errors.New("neither a Trivy nor a Grype JSON report")

// ParseScan reads a scanner's JSON report, telling Trivy's from Grype's by
// their shape: Trivy's has SchemaVersion and Results, Grype's matches and
// source. Only findings in OS packages (deb, apk, rpm) are kept: podprof
// knows nothing of the others.
func ParseScan(data []byte) (*Scan, error) {
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(data, &shape); err != nil {
		return nil, ErrUnknownScan
	}
	_, schemaVersion := shape["SchemaVersion"]
	_, results := shape["Results"]
	_, matches := shape["matches"]
	_, source := shape["source"]
	switch {
	case schemaVersion && (results || shape["ArtifactName"] != nil):
		return parseTrivy(data)
	case matches && source:
		return parseGrype(data)
	}
	return nil, ErrUnknownScan
}

// trivyReport is the part of `trivy image -f json` podprof reads
// (pkg/types/report.go in github.com/aquasecurity/trivy).
type trivyReport struct {
	ArtifactName string
	ArtifactType string
	Metadata     struct {
		ImageID     string
		RepoDigests []string
		ImageConfig struct {
			Architecture string `json:"architecture"`
		}
	}
	Results []struct {
		Target          string
		Class           string // os-pkgs, lang-pkgs...
		Vulnerabilities []struct {
			VulnerabilityID  string
			PkgName          string
			InstalledVersion string
			PkgIdentifier    struct {
				PURL string
			}
		}
	}
}

// trivyOSClass is the class of Trivy's results for OS packages.
const trivyOSClass = "os-pkgs"

func parseTrivy(data []byte) (*Scan, error) {
	var r trivyReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading the Trivy report: %w", err)
	}
	s := &Scan{
		Scanner: Trivy, Target: r.ArtifactName, ImageID: digestHex(r.Metadata.ImageID),
		RepoDigests: r.Metadata.RepoDigests, Arch: r.Metadata.ImageConfig.Architecture,
	}
	for _, result := range r.Results {
		if result.Class != trivyOSClass {
			continue
		}
		for _, v := range result.Vulnerabilities {
			s.Findings = append(s.Findings, Finding{
				Vulnerability: v.VulnerabilityID, Package: v.PkgName, Version: v.InstalledVersion, PURL: v.PkgIdentifier.PURL,
			})
		}
	}
	return s, nil
}

// grypeReport is the part of `grype -o json` podprof reads
// (grype/presenter/models in github.com/anchore/grype).
type grypeReport struct {
	Matches []struct {
		Vulnerability struct {
			ID string `json:"id"`
		} `json:"vulnerability"`
		Artifact struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Type    string `json:"type"`
			PURL    string `json:"purl"`
		} `json:"artifact"`
	} `json:"matches"`
	Source struct {
		Type   string          `json:"type"`
		Target json.RawMessage `json:"target"`
	} `json:"source"`
}

// grypeImage is Grype's source.target for an image; for a directory it is
// a string.
type grypeImage struct {
	UserInput    string   `json:"userInput"`
	ImageID      string   `json:"imageID"`
	RepoDigests  []string `json:"repoDigests"`
	Architecture string   `json:"architecture"`
}

// grypeOSTypes are Grype's artifact types of OS packages.
var grypeOSTypes = []string{pkgdb.Deb, pkgdb.Apk, pkgdb.Rpm}

func parseGrype(data []byte) (*Scan, error) {
	var r grypeReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading the Grype report: %w", err)
	}
	s := &Scan{Scanner: Grype}
	var target grypeImage
	if bytes.HasPrefix(bytes.TrimSpace(r.Source.Target), []byte("{")) {
		if err := json.Unmarshal(r.Source.Target, &target); err != nil {
			return nil, fmt.Errorf("reading the Grype report's source: %w", err)
		}
	}
	s.Target, s.ImageID, s.RepoDigests, s.Arch = target.UserInput, digestHex(target.ImageID), target.RepoDigests, target.Architecture
	for _, m := range r.Matches {
		if !slices.Contains(grypeOSTypes, m.Artifact.Type) {
			continue
		}
		s.Findings = append(s.Findings, Finding{
			Vulnerability: m.Vulnerability.ID, Package: m.Artifact.Name, Version: m.Artifact.Version, PURL: m.Artifact.PURL,
		})
	}
	return s, nil
}

// digestHex returns the hex of a sha256:HEX digest, "" for anything else.
func digestHex(d string) string {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return ""
	}
	return hex
}

// CheckImage returns an error unless the report is of image: the same
// config digest (podman's image id; Trivy's Metadata.ImageID, Grype's
// source.target.imageID). A report without one (of a directory, a root
// file system) cannot be told apart from one of another image, and is
// refused too.
func (s *Scan) CheckImage(image report.ImageRef) error {
	profiled := described("sha256:"+shortID(image.ID), image.Name)
	switch s.ImageID {
	case image.ID:
		return nil
	case "":
		return fmt.Errorf("the %s report of %s names no image id: scan the image the profiles ran, %s, as an image",
			s.Scanner, report.Printable(s.Target), profiled)
	}
	return fmt.Errorf("the %s report is of image %s, the profiles of %s: scan the image the profiles ran",
		s.Scanner, described("sha256:"+shortID(s.ImageID), s.Target), profiled)
}

// described is an image's id followed by its name, if it has one.
func described(id, name string) string {
	if name == "" {
		return id
	}
	return id + " (" + report.Printable(name) + ")"
}
