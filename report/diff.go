package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A UsageDiff compares what two sets of runs used: two profiles of one
// image, or two images each with its profiles (app:1 and app:2). Files
// are matched by path and a file is used or not as the report counts it
// (docs/accounting.md), so what changes from run to run without meaning
// anything (pids, process names, times, open flags) never shows.
type UsageDiff struct {
	Version string   `json:"version"` // the podprof that made it, as Summary's
	A       DiffSide `json:"a"`
	B       DiffSide `json:"b"`
	// OnlyA and OnlyB count the files used on one side only, with that
	// side's sizes; Both those used on both, with B's sizes (the same as
	// A's when the images are).
	OnlyA Counts `json:"only_a"`
	OnlyB Counts `json:"only_b"`
	Both  Counts `json:"both"`
	// Layers holds A's layers bottom first, then those of B that A does
	// not have. A file is counted under the layer that made it on its side;
	// one used on both, under B's.
	Layers []LayerDiff `json:"layers"`
	// OnlyAFiles and OnlyBFiles list the files used on one side only, in
	// tree order.
	OnlyAFiles []DiffFile `json:"only_a_files"`
	OnlyBFiles []DiffFile `json:"only_b_files"`
}

// A DiffSide is one side of a diff: an image and what its runs used.
type DiffSide struct {
	ImageName string `json:"image_name"`
	ImageID   string `json:"image_id"`
	// Profiles are the profile files of the side's runs, united; the
	// caller names them.
	Profiles []string `json:"profiles"`
	Image    Counts   `json:"image"`
	Used     Counts   `json:"used"`
}

// A LayerDiff is one layer's part of a diff.
type LayerDiff struct {
	ID        string
	CreatedBy string // as untrusted as a path
	InA, InB  bool   // which images have the layer
	OnlyA     Counts
	OnlyB     Counts
	Both      Counts
}

// layerDiffJSON stores created_by as the summary does.
type layerDiffJSON struct {
	ID              string `json:"id"`
	CreatedBy       string `json:"created_by"`
	CreatedByBase64 string `json:"created_by_base64,omitempty"`
	InA             bool   `json:"in_a"`
	InB             bool   `json:"in_b"`
	OnlyA           Counts `json:"only_a"`
	OnlyB           Counts `json:"only_b"`
	Both            Counts `json:"both"`
}

// MarshalJSON stores l so that its command survives byte for byte.
func (l LayerDiff) MarshalJSON() ([]byte, error) {
	stored := layerDiffJSON{ID: l.ID, InA: l.InA, InB: l.InB, OnlyA: l.OnlyA, OnlyB: l.OnlyB, Both: l.Both}
	stored.CreatedBy, stored.CreatedByBase64 = splitForJSON(l.CreatedBy)
	return json.Marshal(stored)
}

// A DiffFile is a file used on one side only.
type DiffFile struct {
	Path  string // raw bytes, as untrusted as a profile's
	Bytes int64
	Layer int // the layer that made it: an index of UsageDiff.Layers
}

// MarshalJSON stores f so that its path survives byte for byte.
func (f DiffFile) MarshalJSON() ([]byte, error) {
	var stored struct {
		Path       string `json:"path"`
		PathBase64 string `json:"path_base64,omitempty"`
		Bytes      int64  `json:"bytes"`
		Layer      int    `json:"layer"`
	}
	stored.Path, stored.PathBase64 = splitForJSON(f.Path)
	stored.Bytes, stored.Layer = f.Bytes, f.Layer
	return json.Marshal(stored)
}

// Diff compares what a's runs used of a's image with what b's used of b's.
func Diff(a, b *Usage) *UsageDiff {
	d := &UsageDiff{Version: Version, A: diffSide(a), B: diffSide(b), Layers: []LayerDiff{}, OnlyAFiles: []DiffFile{}, OnlyBFiles: []DiffFile{}}
	rowA, rowB := d.matchLayers(a.Image.Layers, b.Image.Layers)
	usedA, usedB := a.usedNames(), b.usedNames()
	inB := make(map[string]*Node, len(usedB))
	for _, n := range usedB {
		inB[n.Path()] = n
	}
	inA := make(map[string]bool, len(usedA))
	for _, n := range usedA {
		path := n.Path()
		inA[path] = true
		if nb := inB[path]; nb != nil {
			d.Both.add(nb.Inode)
			d.Layers[rowB[nb.Layer]].Both.add(nb.Inode)
			continue
		}
		d.OnlyA.add(n.Inode)
		d.Layers[rowA[n.Layer]].OnlyA.add(n.Inode)
		d.OnlyAFiles = append(d.OnlyAFiles, DiffFile{Path: path, Bytes: n.Size, Layer: rowA[n.Layer]})
	}
	for _, n := range usedB {
		path := n.Path()
		if inA[path] {
			continue
		}
		d.OnlyB.add(n.Inode)
		d.Layers[rowB[n.Layer]].OnlyB.add(n.Inode)
		d.OnlyBFiles = append(d.OnlyBFiles, DiffFile{Path: path, Bytes: n.Size, Layer: rowB[n.Layer]})
	}
	return d
}

func diffSide(u *Usage) DiffSide {
	return DiffSide{ImageName: u.Profile.Image.Name, ImageID: u.Profile.Image.ID, Profiles: []string{}, Image: u.Total(), Used: u.Used}
}

// matchLayers makes d's layer rows and returns, for each layer of either
// image, its row. Layers are matched by id, the k-th layer of an id in
// a with the k-th in b: images often hold several identical empty layers.
func (d *UsageDiff) matchLayers(a, b []LayerInfo) (rowA, rowB []int) {
	rows := make(map[string][]int) // an id's rows from A, in order
	for _, l := range a {
		rows[l.ID] = append(rows[l.ID], len(d.Layers))
		rowA = append(rowA, len(d.Layers))
		d.Layers = append(d.Layers, LayerDiff{ID: l.ID, CreatedBy: l.CreatedBy, InA: true})
	}
	for _, l := range b {
		if same := rows[l.ID]; len(same) > 0 {
			rows[l.ID] = same[1:]
			rowB = append(rowB, same[0])
			d.Layers[same[0]].InB = true
			continue
		}
		rowB = append(rowB, len(d.Layers))
		d.Layers = append(d.Layers, LayerDiff{ID: l.ID, CreatedBy: l.CreatedBy, InB: true})
	}
	return rowA, rowB
}

// usedNames returns the used files, in tree order, each under the name
// it is counted under (the first of a hard-linked file's), so that a
// side's files add up to its Used.
func (u *Usage) usedNames() []*Node {
	var used []*Node
	u.Image.Root.Walk(func(n *Node) bool {
		if n.Kind != Dir && u.used[n.Inode] && u.counted[n.Inode] == n {
			used = append(used, n)
		}
		return true
	})
	return used
}

// WriteJSON writes d as one indented JSON object.
func (d *UsageDiff) WriteJSON(w io.Writer) error {
	return WriteJSON(w, "diff", d)
}

// WriteText writes d for a person: the two sides, what was used on one
// only and on both, per layer, then the files used on one side only.
func (d *UsageDiff) WriteText(w io.Writer) error {
	tw := &textWriter{w: w}
	for _, side := range []struct {
		label string
		s     DiffSide
	}{{"A", d.A}, {"B", d.B}} {
		tw.printf("%s: %s, %s used of %s  (%s)\n", side.label, strings.TrimPrefix(imageLine(side.s.ImageName, side.s.ImageID, ""), "podprof: "),
			countsText(side.s.Used), HumanBytes(side.s.Image.Bytes), printableList(side.s.Profiles))
	}
	tw.printf("used only in A: %s\nused only in B: %s\nused in both:   %s\n", countsText(d.OnlyA), countsText(d.OnlyB), countsText(d.Both))
	d.writeLayers(tw)
	for _, list := range []struct {
		title string
		files []DiffFile
	}{{"files used only in A:", d.OnlyAFiles}, {"files used only in B:", d.OnlyBFiles}} {
		if len(list.files) == 0 {
			continue
		}
		tw.printf("%s\n", list.title)
		sizes := make([]string, len(list.files))
		for i, f := range list.files {
			sizes[i] = HumanBytes(f.Bytes)
		}
		width := maxLen(sizes)
		for i, f := range list.files {
			tw.printf("  %*s  %s\n", width, sizes[i], Printable(f.Path))
		}
	}
	if tw.err != nil {
		return fmt.Errorf("writing diff: %w", tw.err)
	}
	return nil
}

// writeLayers writes the per-layer table, as the summary's.
func (d *UsageDiff) writeLayers(tw *textWriter) {
	rows := [][]string{{"#", "LAYER", "IN", "ONLY A", "ONLY B", "BOTH"}}
	for i, l := range d.Layers {
		in := map[[2]bool]string{{true, true}: "A B", {true, false}: "A", {false, true}: "B"}[[2]bool{l.InA, l.InB}]
		rows = append(rows, []string{strconv.Itoa(i + 1), Printable(shortID(strings.TrimPrefix(l.ID, "sha256:"))), in,
			countsText(l.OnlyA), countsText(l.OnlyB), countsText(l.Both)})
	}
	widths := columnWidths(rows)
	tw.printf("layers, bottom first (a file used in both counts in B's layer):\n")
	for i, r := range rows {
		createdBy := "CREATED BY"
		if i > 0 {
			createdBy = FitWidth(PrintableText(d.Layers[i-1].CreatedBy), maxCreatedByWidth)
		}
		// The number right-aligned, the words left.
		tw.printf("%s\n", tableRow(r, widths, func(col int) bool { return col == 0 }, createdBy))
	}
}

// countsText is "2.44 MB in 29 files".
func countsText(c Counts) string {
	return HumanBytes(c.Bytes) + " in " + strconv.FormatInt(c.Files, 10) + " " + filesNoun(c.Files)
}

func printableList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = Printable(n)
	}
	return strings.Join(quoted, ", ")
}
