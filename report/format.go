package report

import (
	"fmt"
	"io"

	podmanreport "go.podman.io/common/pkg/report"
)

// UnusedPaths returns the path of every name in the image that stands
// for an unused file, in tree order (parents first, each directory's
// entries by the bytes of their names): regular files, symbolic links
// and the other kinds, and each name of an unused hard-linked file, since
// a script removing them must remove every name. Directories are not
// files in the accounting (docs/accounting.md) and are not listed.
func (u *Usage) UnusedPaths() []string {
	var paths []string
	u.Image.Root.Walk(func(n *Node) bool {
		if n.Kind != Dir && !u.used[n.Inode] {
			paths = append(paths, n.Path())
		}
		return true
	})
	return paths
}

// WritePaths writes paths for a script, one a line. A path holds any byte
// but NUL, so with nul each ends with a NUL and is written exactly, for
// xargs -0; else each ends with a newline and one that is not plain
// printable text (a newline, an escape, an invalid byte) is Go-quoted, as
// git quotes such names without -z. Paths start with "/", so a quoted one
// cannot be mistaken for a name that starts with a quote; spaces stay, so
// that ordinary names read as they are.
func WritePaths(w io.Writer, paths []string, nul bool) error {
	tw := &textWriter{w: w}
	for _, p := range paths {
		if nul {
			tw.printf("%s\x00", p)
		} else {
			tw.printf("%s\n", PrintableText(p))
		}
	}
	if tw.err != nil {
		return fmt.Errorf("writing paths: %w", tw.err)
	}
	return nil
}

// WriteTemplate writes s through a Go template, as podman's --format
// does for one object (podman info --format '{{.Host.Arch}}'), with
// go.podman.io/common/pkg/report: its functions (json, join, upper...),
// \t and \n escapes, and a newline added at the end. The template sees the
// fields of Summary with every name from the image or the profile escaped
// as the text report shows it; the JSON and the paths format have the
// exact bytes.
func (s *Summary) WriteTemplate(w io.Writer, format string) error {
	rpt, err := parseSummaryTemplate(w, format)
	if err != nil {
		return err
	}
	if err := rpt.Execute(s.printable()); err != nil {
		return fmt.Errorf("formatting the summary with %q: %w", format, err)
	}
	if err := rpt.Flush(); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	return nil
}

// CheckSummaryTemplate says what is wrong with a template for
// WriteTemplate, before any work is done for it.
func CheckSummaryTemplate(format string) error {
	_, err := parseSummaryTemplate(io.Discard, format)
	return err
}

// parseSummaryTemplate parses a template over one summary, as podman
// parses `podman info --format`: no implicit range over a list.
func parseSummaryTemplate(w io.Writer, format string) (*podmanreport.Formatter, error) {
	rpt, err := podmanreport.New(w, "report").Parse(podmanreport.OriginUnknown, format)
	if err != nil {
		return nil, fmt.Errorf("invalid --format template %q: %w", format, err)
	}
	return rpt, nil
}

// printable is a copy of s with every name Printable, for output that
// goes to a terminal as the user's template made it.
func (s *Summary) printable() *Summary {
	c := *s
	c.ImageName, c.ImageID, c.Tracer, c.Profile = Printable(s.ImageName), Printable(s.ImageID), Printable(s.Tracer), Printable(s.Profile)
	c.LargestUnusedDirs = printableUnused(s.LargestUnusedDirs)
	c.LargestUnusedFiles = printableUnused(s.LargestUnusedFiles)
	c.Layers = make([]LayerSummary, len(s.Layers))
	for i, l := range s.Layers {
		l.ID, l.CreatedBy = Printable(l.ID), PrintableText(l.CreatedBy)
		c.Layers[i] = l
	}
	return &c
}

func printableUnused(list []Unused) []Unused {
	out := make([]Unused, len(list))
	for i, u := range list {
		u.Path = Printable(u.Path)
		out[i] = u
	}
	return out
}
