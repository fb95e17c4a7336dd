package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A Summary is the short account printed when a traced container stops:
// as text for a person, or as JSON for a script (--podprof-format=json).
type Summary struct {
	// Version is the podprof that made the summary (report.Version): the
	// JSON's readers can tell which podprof's fields they got.
	Version            string   `json:"version"`
	ImageName          string   `json:"image_name"`
	ImageID            string   `json:"image_id"`
	Tracer             string   `json:"tracer"`
	LostEvents         uint64   `json:"lost_events"`
	ImageBytes         int64    `json:"image_bytes"`
	ImageFiles         int64    `json:"image_files"`
	UsedBytes          int64    `json:"used_bytes"`
	UsedFiles          int64    `json:"used_files"`
	UsedPercent        float64  `json:"used_percent"` // of bytes
	UnusedBytes        int64    `json:"unused_bytes"`
	UnusedFiles        int64    `json:"unused_files"`
	LargestUnusedDirs  []Unused `json:"largest_unused_dirs"`
	LargestUnusedFiles []Unused `json:"largest_unused_files"`
	OutsideFiles       int      `json:"outside_files"` // opened, but not in the image
	Profile            string   `json:"profile"`       // the profile file, "" if none was written
	// Layers says, bottom layer first, what each layer adds to the final
	// filesystem and how much of that was used (docs/accounting.md).
	Layers []LayerSummary `json:"layers"`
}

// A LayerSummary is one layer's part of the image and of its use.
type LayerSummary struct {
	ID        string // the layer's diff digest, or its storage id
	CreatedBy string // the image history's command; as untrusted as a path
	// Bytes and Files count the files this layer made that are in the
	// final tree; UsedBytes and UsedFiles those of them that were used.
	Bytes, Files         int64
	UsedBytes, UsedFiles int64
	UsedPercent          float64 // UsedBytes / Bytes × 100; 0 for a layer of 0 bytes
}

// layerSummaryJSON stores created_by as a profile stores paths.
type layerSummaryJSON struct {
	ID              string  `json:"id"`
	CreatedBy       string  `json:"created_by"`
	CreatedByBase64 string  `json:"created_by_base64,omitempty"`
	Bytes           int64   `json:"bytes"`
	Files           int64   `json:"files"`
	UsedBytes       int64   `json:"used_bytes"`
	UsedFiles       int64   `json:"used_files"`
	UsedPercent     float64 `json:"used_percent"`
}

// MarshalJSON stores l so that its command survives byte for byte.
func (l LayerSummary) MarshalJSON() ([]byte, error) {
	stored := layerSummaryJSON{ID: l.ID, Bytes: l.Bytes, Files: l.Files, UsedBytes: l.UsedBytes, UsedFiles: l.UsedFiles, UsedPercent: l.UsedPercent}
	stored.CreatedBy, stored.CreatedByBase64 = splitForJSON(l.CreatedBy)
	return json.Marshal(stored)
}

// UnmarshalJSON reads what MarshalJSON stores.
func (l *LayerSummary) UnmarshalJSON(data []byte) error {
	var stored layerSummaryJSON
	if err := json.Unmarshal(data, &stored); err != nil {
		return err
	}
	createdBy, err := joinFromJSON("created_by", stored.CreatedBy, stored.CreatedByBase64)
	if err != nil {
		return err
	}
	*l = LayerSummary{ID: stored.ID, CreatedBy: createdBy, Bytes: stored.Bytes, Files: stored.Files,
		UsedBytes: stored.UsedBytes, UsedFiles: stored.UsedFiles, UsedPercent: stored.UsedPercent}
	return nil
}

// Unused is an unused directory (none of whose files was used) or an
// unused regular file.
type Unused struct {
	Path  string // raw bytes, as untrusted as a profile's paths
	Bytes int64
	Files int64 // for a directory: the files it holds; 0 for a file
}

// unusedJSON stores a path as a profile does: "path" always valid UTF-8,
// plus "path_base64" with the exact bytes when they are not.
type unusedJSON struct {
	Path       string `json:"path"`
	PathBase64 string `json:"path_base64,omitempty"`
	Bytes      int64  `json:"bytes"`
	Files      int64  `json:"files,omitempty"`
}

// MarshalJSON stores u so that its path survives byte for byte.
func (u Unused) MarshalJSON() ([]byte, error) {
	stored := unusedJSON{Bytes: u.Bytes, Files: u.Files}
	stored.Path, stored.PathBase64 = splitForJSON(u.Path)
	return json.Marshal(stored)
}

// UnmarshalJSON reads what MarshalJSON stores.
func (u *Unused) UnmarshalJSON(data []byte) error {
	var stored unusedJSON
	if err := json.Unmarshal(data, &stored); err != nil {
		return err
	}
	path, err := joinFromJSON("path", stored.Path, stored.PathBase64)
	if err != nil {
		return err
	}
	*u = Unused{Path: path, Bytes: stored.Bytes, Files: stored.Files}
	return nil
}

// DefaultTop is how many of the largest unused directories and files a
// summary lists unless told otherwise (podprof report --top): enough to
// see where the weight is on one screen.
const DefaultTop = 5

// NewSummary summarizes u, listing up to top of the largest unused
// directories and files. profilePath is where the profile was written.
func NewSummary(u *Usage, profilePath string, top int) *Summary {
	unused := u.Unused()
	s := &Summary{
		Version:            Version,
		ImageName:          u.Profile.Image.Name,
		ImageID:            u.Profile.Image.ID,
		Tracer:             u.Profile.Tracer,
		LostEvents:         u.Profile.LostEvents,
		ImageBytes:         u.Image.Bytes,
		ImageFiles:         u.Image.Files,
		UsedBytes:          u.Used.Bytes,
		UsedFiles:          u.Used.Files,
		UsedPercent:        u.UsedPercent(),
		UnusedBytes:        unused.Bytes,
		UnusedFiles:        unused.Files,
		LargestUnusedDirs:  []Unused{},
		LargestUnusedFiles: []Unused{},
		OutsideFiles:       len(u.Outside),
		Profile:            profilePath,
		Layers:             []LayerSummary{},
	}
	for _, l := range u.Layers() {
		s.Layers = append(s.Layers, LayerSummary{
			ID: l.ID, CreatedBy: l.CreatedBy,
			Bytes: l.Bytes, Files: l.Files, UsedBytes: l.Used.Bytes, UsedFiles: l.Used.Files,
			UsedPercent: percent(l.Used.Bytes, l.Bytes),
		})
	}
	for _, d := range u.LargestUnusedDirs(top) {
		s.LargestUnusedDirs = append(s.LargestUnusedDirs, Unused{Path: d.Node.Path(), Bytes: d.Total.Bytes, Files: d.Total.Files})
	}
	for _, f := range u.LargestUnusedFiles(top) {
		s.LargestUnusedFiles = append(s.LargestUnusedFiles, Unused{Path: f.Path(), Bytes: f.Size})
	}
	return s
}

// WriteJSON writes s as one indented JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	return WriteJSON(w, "summary", s)
}

// WriteText writes s for a person reading a terminal: sizes in podman's
// decimal units, columns aligned, every name from the container escaped.
func (s *Summary) WriteText(w io.Writer) error {
	tw := &textWriter{w: w}
	tw.printf("%s\n", imageLine(s.ImageName, s.ImageID, s.Tracer))

	sizes := []string{HumanBytes(s.ImageBytes), HumanBytes(s.UsedBytes), HumanBytes(s.UnusedBytes)}
	counts := []string{strconv.FormatInt(s.ImageFiles, 10), strconv.FormatInt(s.UsedFiles, 10), strconv.FormatInt(s.UnusedFiles, 10), strconv.Itoa(s.OutsideFiles)}
	sizeWidth, countWidth := maxLen(sizes), maxLen(counts)
	tw.printf("  image   %*s  %*s %s\n", sizeWidth, sizes[0], countWidth, counts[0], filesNoun(s.ImageFiles))
	tw.printf("  used    %*s  %*s %-5s  %.1f%% of the bytes\n", sizeWidth, sizes[1], countWidth, counts[1], filesNoun(s.UsedFiles), s.UsedPercent)
	tw.printf("  unused  %*s  %*s %s\n", sizeWidth, sizes[2], countWidth, counts[2], filesNoun(s.UnusedFiles))
	if s.OutsideFiles > 0 {
		tw.printf("  outside %*s  %*s %-5s  opened, but not from the image (volumes, /proc, files created at run time)\n", sizeWidth, "", countWidth, counts[3], filesNoun(int64(s.OutsideFiles)))
	}
	if s.LostEvents > 0 {
		tw.printf("  warning: the tracer lost %d events: some used files may show as unused\n", s.LostEvents)
	}

	if len(s.LargestUnusedDirs) > 0 {
		tw.printf("largest unused directories:\n")
		var dirSizes, dirCounts []string
		for _, d := range s.LargestUnusedDirs {
			dirSizes = append(dirSizes, HumanBytes(d.Bytes))
			dirCounts = append(dirCounts, strconv.FormatInt(d.Files, 10))
		}
		sizeWidth, countWidth := maxLen(dirSizes), maxLen(dirCounts)
		for i, d := range s.LargestUnusedDirs {
			tw.printf("  %*s  %*s %-5s  %s\n", sizeWidth, dirSizes[i], countWidth, dirCounts[i], filesNoun(d.Files), Printable(d.Path))
		}
	}
	if len(s.LargestUnusedFiles) > 0 {
		tw.printf("largest unused files:\n")
		var fileSizes []string
		for _, f := range s.LargestUnusedFiles {
			fileSizes = append(fileSizes, HumanBytes(f.Bytes))
		}
		sizeWidth := maxLen(fileSizes)
		for i, f := range s.LargestUnusedFiles {
			tw.printf("  %*s  %s\n", sizeWidth, fileSizes[i], Printable(f.Path))
		}
	}
	s.writeLayers(tw)
	if s.Profile != "" {
		tw.printf("profile: %s  (explore: podprof explore %s)\n", Printable(s.Profile), Printable(s.Profile))
	}
	if tw.err != nil {
		return fmt.Errorf("writing summary: %w", tw.err)
	}
	return nil
}

// writeLayers writes the per-layer table, with each layer's command cut
// to one line of reasonable length.
func (s *Summary) writeLayers(tw *textWriter) {
	if len(s.Layers) == 0 {
		return
	}
	header := []string{"#", "LAYER", "SIZE", "USED", "USED%", "USED/FILES"}
	rows := [][]string{header}
	for i, l := range s.Layers {
		rows = append(rows, []string{
			strconv.Itoa(i + 1), Printable(shortID(strings.TrimPrefix(l.ID, "sha256:"))),
			HumanBytes(l.Bytes), HumanBytes(l.UsedBytes), percentOf(l.UsedBytes, l.Bytes),
			strconv.FormatInt(l.UsedFiles, 10) + "/" + strconv.FormatInt(l.Files, 10),
		})
	}
	widths := columnWidths(rows)
	tw.printf("layers, bottom first:\n")
	for i, r := range rows {
		createdBy := "CREATED BY"
		if i > 0 {
			createdBy = FitWidth(PrintableText(s.Layers[i-1].CreatedBy), maxCreatedByWidth)
		}
		// Numbers right-aligned, the layer's id left.
		tw.printf("%s\n", tableRow(r, widths, func(col int) bool { return col != 1 }, createdBy))
	}
}

// columnWidths is the widest cell of each column of rows.
func columnWidths(rows [][]string) []int {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	return widths
}

// tableRow lays out one row of a text table: each cell padded to its
// column's width, right-aligned where right says, two spaces apart, then
// the last column (free text) as it is; no trailing spaces.
func tableRow(cells []string, widths []int, right func(col int) bool, last string) string {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString("  ")
		if right(i) {
			fmt.Fprintf(&b, "%*s", widths[i], c)
		} else {
			fmt.Fprintf(&b, "%-*s", widths[i], c)
		}
	}
	b.WriteString("  " + last)
	return strings.TrimRight(b.String(), " ")
}

// maxCreatedByWidth is where the text report cuts a layer's command; the
// JSON has it whole.
const maxCreatedByWidth = 72

// percent is part/whole × 100, 0 when whole is 0.
func percent(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// imageLine is the first line of the text reports: which image, which
// tracer.
func imageLine(name, id, tracer string) string {
	image := Printable(name)
	if id := shortID(id); id != "" {
		image = strings.TrimSpace(image + " (" + Printable(id) + ")")
	}
	if image == "" {
		image = "unnamed image"
	}
	if tracer != "" {
		image += ", traced with " + Printable(tracer)
	}
	return "podprof: " + image
}

// textWriter keeps the first write error, so that WriteText reads as the
// report it prints rather than as error handling.
type textWriter struct {
	w   io.Writer
	err error
}

func (tw *textWriter) printf(format string, args ...any) {
	if tw.err == nil {
		_, tw.err = fmt.Fprintf(tw.w, format, args...)
	}
}

func filesNoun(n int64) string {
	if n == 1 {
		return "file"
	}
	return "files"
}

// shortID shortens an image id as podman shows it.
func shortID(id string) string {
	return id[:min(12, len(id))]
}

func maxLen(texts []string) int {
	width := 0
	for _, t := range texts {
		width = max(width, len(t))
	}
	return width
}
