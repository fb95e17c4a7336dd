package sbom

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/podprof/podprof/report"
)

// WriteText writes the packages as a table for a terminal, the biggest
// unused ones first (what removing would save), then the used ones by
// size; then the files no package owns.
func (r *Report) WriteText(w io.Writer) error {
	used, unused := r.Counts()
	var unusedBytes int64
	for i := range r.Packages {
		if !r.Packages[i].IsUsed() {
			unusedBytes += r.Packages[i].Total.Bytes
		}
	}
	fmt.Fprintf(w, "podprof: %s (%s), %s %s, %d packages in %s\n", report.Printable(imageName(r.Image)), shortID(r.Image.ID),
		report.Printable(r.Distro.ID), report.Printable(r.Distro.VersionID), len(r.Packages), report.Printable(strings.Join(r.Databases, ", ")))
	fmt.Fprintf(w, "  used    %d packages\n  unused  %d packages  %s\n", used, unused, report.HumanBytes(unusedBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SIZE\tUSED\tUSED%\tUSED/FILES\tMISSING\tPACKAGE\tVERSION\tARCH")
	order := make([]*Package, len(r.Packages))
	for i := range r.Packages {
		order[i] = &r.Packages[i]
	}
	slices.SortStableFunc(order, func(a, b *Package) int {
		if a.IsUsed() != b.IsUsed() {
			if a.IsUsed() {
				return 1
			}
			return -1
		}
		return cmp.Compare(b.Total.Bytes, a.Total.Bytes)
	})
	for _, p := range order {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\n", report.HumanBytes(p.Total.Bytes), report.HumanBytes(p.Used.Bytes),
			percent(p.Used.Bytes, p.Total.Bytes), p.Used.Files, p.Total.Files, p.Missing,
			report.Printable(p.Name), report.Printable(p.Version), report.Printable(p.Arch))
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t\t%s\n", report.HumanBytes(r.Unowned.Bytes), report.HumanBytes(r.UnownedUsed.Bytes),
		percent(r.UnownedUsed.Bytes, r.Unowned.Bytes), r.UnownedUsed.Files, r.Unowned.Files, "(files of no package)")
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the packages: %w", err)
	}
	return nil
}

func percent(part, whole int64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}

// jsonReport is the JSON of podprof report --packages --format json; see
// docs/report.md.
type jsonReport struct {
	Image          report.ImageRef `json:"image"`
	Distro         jsonDistro      `json:"distro"`
	Databases      []string        `json:"databases"`
	Profiles       []string        `json:"profiles"`
	ImageBytes     int64           `json:"image_bytes"`
	ImageFiles     int64           `json:"image_files"`
	UsedBytes      int64           `json:"used_bytes"`
	UsedFiles      int64           `json:"used_files"`
	UsedPackages   int             `json:"used_packages"`
	UnusedPackages int             `json:"unused_packages"`
	Packages       []jsonPackage   `json:"packages"`
	Unowned        jsonCounts      `json:"unowned"`
}

type jsonDistro struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id"`
}

type jsonCounts struct {
	Bytes     int64 `json:"bytes"`
	Files     int64 `json:"files"`
	UsedBytes int64 `json:"used_bytes"`
	UsedFiles int64 `json:"used_files"`
}

type jsonPackage struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Epoch   int    `json:"epoch,omitempty"`
	Arch    string `json:"arch"`
	Source  string `json:"source"`
	License string `json:"license,omitempty"`
	PURL    string `json:"purl"`
	Used    bool   `json:"used"`
	jsonCounts
	MissingFiles int64 `json:"missing_files"`
}

// WriteJSON writes the report as one JSON object, packages in the
// databases' order (type, name, arch).
func (r *Report) WriteJSON(w io.Writer) error {
	used, unused := r.Counts()
	out := jsonReport{
		Image: r.Image, Distro: jsonDistro{ID: r.Distro.ID, VersionID: r.Distro.VersionID},
		Databases: r.Databases, Profiles: r.Profiles,
		ImageBytes: r.Total.Bytes, ImageFiles: r.Total.Files, UsedBytes: r.Used.Bytes, UsedFiles: r.Used.Files,
		UsedPackages: used, UnusedPackages: unused,
		Packages: make([]jsonPackage, len(r.Packages)),
		Unowned:  jsonCounts{Bytes: r.Unowned.Bytes, Files: r.Unowned.Files, UsedBytes: r.UnownedUsed.Bytes, UsedFiles: r.UnownedUsed.Files},
	}
	for i := range r.Packages {
		p := &r.Packages[i]
		out.Packages[i] = jsonPackage{
			Type: p.Type, Name: p.Name, Version: p.Version, Epoch: p.Epoch, Arch: p.Arch, Source: p.Source, License: p.License,
			PURL: p.PURL, Used: p.IsUsed(),
			jsonCounts:   jsonCounts{Bytes: p.Total.Bytes, Files: p.Total.Files, UsedBytes: p.Used.Bytes, UsedFiles: p.Used.Files},
			MissingFiles: p.Missing,
		}
	}
	return report.WriteJSON(w, "the packages", out)
}
