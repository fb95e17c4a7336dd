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

// ANSI SGR sequences the screen uses. Colours are 256-colour palette
// entries, which every terminal emulator in use today has.
const (
	sgrReset   = "\x1b[0m"
	sgrBold    = "\x1b[1m"
	sgrDim     = "\x1b[2m"
	sgrReverse = "\x1b[7m"
)

// shareColors go from red (nothing used) to green (all used).
var shareColors = [...]string{
	"\x1b[38;5;196m", // 0
	"\x1b[38;5;202m", // below 25%
	"\x1b[38;5;214m", // below 50%
	"\x1b[38;5;226m", // below 75%
	"\x1b[38;5;154m", // below 100%
	"\x1b[38;5;46m",  // 100%
}

const noShareColor = "\x1b[38;5;244m" // grey: stands for no file

// ShareColor is the colour the explorer gives an entry: red when none of
// it was used, through orange and yellow, to green when all of it was.
func ShareColor(e Entry) string {
	share, ok := e.Share()
	switch {
	case !ok:
		return noShareColor
	case share <= 0:
		return shareColors[0]
	case share >= 1:
		return shareColors[5]
	}
	return shareColors[1+min(3, int(share*4))]
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

// Screen renders the explorer as exactly as many lines as the screen has,
// none wider than it. Names from the container are escaped. With color,
// each entry takes the colour of its used share (ShareColor); without, as
// NO_COLOR asks, only bold, dim and reverse video are used. The selected
// entry is in reverse video and starts with ">", which survives a plain
// text capture of the screen.
func (e *Explorer) Screen(color bool) []string {
	w := e.width
	style := func(codes, text string) string {
		if codes == "" {
			return text
		}
		return codes + text + sgrReset
	}
	var lines []string

	// Title: the image and its totals.
	u := e.u
	title := "podprof explore: " + strings.TrimPrefix(imageLine(u.Profile.Image.Name, u.Profile.Image.ID, ""), "podprof: ") +
		"  " + HumanBytes(u.Image.Bytes) + ", " + percentOf(u.Used.Bytes, u.Image.Bytes) + " used"
	lines = append(lines, style(sgrBold, FitWidth(title, w)))

	// The directory and its totals, and which entries are on screen.
	dir := u.Entry(e.dir)
	rows := max(1, e.listRows())
	where := Printable(e.dir.Path()) + "  " + HumanBytes(dir.Total.Bytes) + ", " + percentOf(dir.Used.Bytes, dir.Total.Bytes) +
		" used, " + strconv.FormatInt(dir.Used.Files, 10) + " of " + strconv.FormatInt(dir.Total.Files, 10) + " files used"
	if n := len(e.entries); n > rows {
		where += "  (" + strconv.Itoa(e.top+1) + "-" + strconv.Itoa(min(n, e.top+rows)) + " of " + strconv.Itoa(n) + ")"
	}
	lines = append(lines, FitWidth(where, w))

	// Column header and entries.
	filesWidth := len("USED/FILES")
	for _, entry := range e.entries {
		_, _, _, files := entryColumns(entry)
		filesWidth = max(filesWidth, len(files))
	}
	header := "  " + padLeft("SIZE", 8) + " " + padLeft("USED%", 6) + " " + PadWidth("USED", 10) + " " + padLeft("USED/FILES", filesWidth) + "   NAME"
	lines = append(lines, style(sgrDim, FitWidth(header, w)))
	for i := e.top; i < e.top+rows; i++ {
		if i >= len(e.entries) {
			if i == 0 {
				empty := "  (empty directory)"
				if e.unusedOnly {
					empty = "  (nothing unused here; u shows all)"
				}
				lines = append(lines, FitWidth(empty, w))
				continue
			}
			lines = append(lines, "")
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
		codes := ""
		if color {
			codes = ShareColor(entry)
		}
		if i == e.cursor {
			lines = append(lines, style(codes+sgrReverse, PadWidth(row, w)))
		} else {
			lines = append(lines, style(codes, FitWidth(row, w)))
		}
	}

	lines = append(lines, FitWidth(e.status(), w))
	filter := "off"
	if e.unusedOnly {
		filter = "on"
	}
	help := "q quit  ↑↓/jk move  →/enter open  ←/bksp back  s sort:" + e.order.String() + "  u unused only:" + filter
	lines = append(lines, style(sgrDim, FitWidth(help, w)))

	if len(lines) > e.height { // a tiny screen: keep the entries and the help
		lines = lines[len(lines)-e.height:]
	}
	return lines
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
