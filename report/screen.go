package report

import (
	"strconv"
	"strings"
)

// The explorer's screen, top to bottom: a title line, the directory shown
// with its totals, the column header, the entries, a status line about the
// selected entry and a help line.
const (
	screenHeadLines = 3
	screenFootLines = 2
)

// listRows is how many entries fit on the screen.
func (e *Explorer) listRows() int {
	return e.height - screenHeadLines - screenFootLines
}

// clippedLines is how many lines at the top a screen too short for one
// entry line loses: Lines keeps the entries and the key line.
func (e *Explorer) clippedLines() int {
	return max(0, screenHeadLines+max(1, e.listRows())+screenFootLines-e.height)
}

// A Line is one line of the explorer's screen: its text, cut to the
// screen's width, and what it is, which says how the terminal styles it.
type Line struct {
	Text  string
	Kind  LineKind
	Share ShareLevel // of an EntryLine or SelectedLine: its colour
}

// A LineKind says what a screen line is.
type LineKind uint8

const (
	TextLine     LineKind = iota // shown as it is
	TitleLine                    // the image and its totals: bold
	DimLine                      // the column header and the key line
	EntryLine                    // an entry: in the colour of its Share
	SelectedLine                 // the selected entry, padded to the width: in reverse video too
	FilterLine                   // the filter being typed: the terminal's text input goes there
)

// A ShareLevel grades the share of an entry that was used, for its
// colour: from red (NothingUsed) through orange and yellow to green
// (AllUsed); grey for NoShare, an entry that stands for no byte.
type ShareLevel int8

const (
	NoShare ShareLevel = iota - 1
	NothingUsed
	UsedBelow25
	UsedBelow50
	UsedBelow75
	UsedBelow100
	AllUsed
)

// ShareLevelOf grades the used share of e.
func ShareLevelOf(e Entry) ShareLevel {
	share, ok := e.Share()
	switch {
	case !ok:
		return NoShare
	case share <= 0:
		return NothingUsed
	case share >= 1:
		return AllUsed
	}
	return UsedBelow25 + ShareLevel(min(3, int(share*4)))
}

// shareBar draws the used share in 10 cells: none filled means nothing
// used, all filled means everything, so a small share still fills one.
func shareBar(e Entry) string {
	const cells = 10
	share, ok := e.Share()
	if !ok {
		return strings.Repeat(" ", cells)
	}
	filled := int(share*cells + 0.5)
	switch {
	case share > 0 && filled == 0:
		filled = 1
	case share < 1 && filled == cells:
		filled = cells - 1
	}
	return strings.Repeat("█", filled) + strings.Repeat("░", cells-filled)
}

// ExplorerHelp is the list of the explorer's keys and what the mouse
// does, one line each, as the help (?) and --help show them.
func ExplorerHelp() []string {
	width := 0
	for _, k := range ExplorerKeys {
		width = max(width, DisplayWidth(k.Label))
	}
	var lines []string
	for _, k := range ExplorerKeys {
		lines = append(lines, "  "+PadWidth(k.Label, width)+"  "+k.Does)
	}
	return append(lines, ExplorerMouseHelp)
}

// Lines renders the explorer as exactly as many lines as the screen has,
// none wider than it. Names from the container are escaped. The selected
// entry starts with ">", which survives a plain text capture of the
// screen. With the help shown, the keys take the place of the directory,
// its entries and the status line.
func (e *Explorer) Lines() []Line {
	w := e.width
	line := func(kind LineKind, text string) Line { return Line{Text: FitWidth(text, w), Kind: kind} }
	var lines []Line

	// Title: the image and its totals.
	u := e.u
	title := "podprof explore: " + strings.TrimPrefix(imageLine(u.Profile.Image.Name, u.Profile.Image.ID, ""), "podprof: ") +
		"  " + HumanBytes(u.Image.Bytes) + ", " + percentOf(u.Used.Bytes, u.Image.Bytes) + " used"
	lines = append(lines, line(TitleLine, title))
	rows := max(1, e.listRows())

	if e.help {
		lines = append(lines, line(TextLine, "Keys ("+keyName(ToggleHelp)+" or "+keyName(ClearFilter)+" closes this):"))
		for _, text := range ExplorerHelp() {
			lines = append(lines, line(TextLine, text))
		}
		for len(lines) < screenHeadLines+rows+screenFootLines-1 {
			lines = append(lines, line(TextLine, ""))
		}
		lines = lines[:screenHeadLines+rows+screenFootLines-1]
	} else {
		lines = append(lines, e.listing(rows)...)
	}
	lines = append(lines, e.keyLine())

	if len(lines) > e.height { // a tiny screen: keep the entries and the key line
		lines = lines[e.clippedLines():]
	}
	return lines
}

// listing is the screen between the title and the key line: the
// directory and its totals, the column header, the entries (rows of
// them) and the status line.
func (e *Explorer) listing(rows int) []Line {
	w, u := e.width, e.u
	line := func(kind LineKind, text string) Line { return Line{Text: FitWidth(text, w), Kind: kind} }
	var lines []Line

	// The directory and its totals, and which entries are on screen.
	dir := u.Entry(e.dir)
	where := Printable(e.dir.Path()) + "  " + HumanBytes(dir.Total.Bytes) + ", " + percentOf(dir.Used.Bytes, dir.Total.Bytes) +
		" used, " + strconv.FormatInt(dir.Used.Files, 10) + " of " + strconv.FormatInt(dir.Total.Files, 10) + " files used"
	if n := len(e.entries); n > rows {
		where += "  (" + strconv.Itoa(e.top+1) + "-" + strconv.Itoa(min(n, e.top+rows)) + " of " + strconv.Itoa(n) + ")"
	}
	lines = append(lines, line(TextLine, where))

	// Column header and entries.
	filesWidth := len("USED/FILES")
	for _, entry := range e.entries {
		_, _, _, files := entryColumns(entry)
		filesWidth = max(filesWidth, len(files))
	}
	header := "  " + padLeft("SIZE", 8) + " " + padLeft("USED%", 6) + " " + PadWidth("USED", 10) + " " + padLeft("USED/FILES", filesWidth) + "   NAME"
	lines = append(lines, line(DimLine, header))
	for i := e.top; i < e.top+rows; i++ {
		if i >= len(e.entries) {
			empty := ""
			switch {
			case i > 0:
			case e.filter != "":
				empty = "  (no name here contains " + Printable(e.filter) + "; " + keyName(ClearFilter) + " clears the filter)"
			case e.unusedOnly:
				empty = "  (nothing unused here; " + keyName(ToggleUnused) + " shows all)"
			default:
				empty = "  (empty directory)"
			}
			lines = append(lines, line(TextLine, empty))
			continue
		}
		entry := e.entries[i]
		size, _, share, files := entryColumns(entry)
		cursor, mark := " ", " "
		if i == e.cursor {
			cursor = ">"
		}
		if entry.InUse {
			mark = "*"
		}
		row := cursor + " " + padLeft(size, 8) + " " + padLeft(share, 6) + " " + shareBar(entry) + " " + padLeft(files, filesWidth) + " " + mark + " " + displayName(entry)
		if i == e.cursor {
			// Padded, so that reverse video marks the whole line.
			lines = append(lines, Line{Text: PadWidth(row, w), Kind: SelectedLine, Share: ShareLevelOf(entry)})
		} else {
			lines = append(lines, Line{Text: FitWidth(row, w), Kind: EntryLine, Share: ShareLevelOf(entry)})
		}
	}
	return append(lines, line(TextLine, e.status()))
}

// keyLine is the last line: the filter being typed, or hints of the keys
// and the state they toggle.
func (e *Explorer) keyLine() Line {
	if e.filtering {
		return Line{Text: FitWidth("/"+PrintableText(e.filter), e.width), Kind: FilterLine}
	}
	filter := keyName(StartFilter) + " filter"
	if e.filter != "" {
		filter += ":" + Printable(e.filter)
	}
	unused := "off"
	if e.unusedOnly {
		unused = "on"
	}
	text := keyName(ToggleHelp) + " help  " + filter + "  " + keyName(ToggleOrder) + " sort:" + e.order.String() +
		"  " + keyName(ToggleUnused) + " unused only:" + unused + "  " + keyName(Quit) + " quit"
	return Line{Text: FitWidth(text, e.width), Kind: DimLine}
}

// status describes the selected entry: its full path, what it is, whether
// it was used, and the layer that made it.
func (e *Explorer) status() string {
	sel, ok := e.Selected()
	if !ok {
		return ""
	}
	n := sel.Node
	var what string
	switch {
	case n.Kind == Dir:
		what = "directory, " + strconv.FormatInt(sel.Used.Files, 10) + " of " + strconv.FormatInt(sel.Total.Files, 10) + " files used"
	case sel.CountedAs != nil:
		what = "hard link of " + Printable(sel.CountedAs.Path())
	default:
		what = kindNames[n.Kind] + ", " + HumanBytes(n.Size)
		if sel.InUse {
			what += ", used"
		} else {
			what += ", not used"
		}
	}
	if n.Kind != Dir && n.Layer >= 0 && n.Layer < len(e.u.Image.Layers) {
		what += ", from layer " + strconv.Itoa(n.Layer+1) + " of " + strconv.Itoa(len(e.u.Image.Layers))
	}
	return Printable(n.Path()) + "  " + what
}

var kindNames = map[Kind]string{Dir: "directory", Regular: "file", Symlink: "symbolic link", Other: "special file"}

// padLeft pads s with spaces on the left to w columns.
func padLeft(s string, w int) string {
	return strings.Repeat(" ", max(0, w-DisplayWidth(s))) + s
}
