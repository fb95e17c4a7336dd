package report

// An Explorer is the state of the interactive explorer (podprof explore)
// without any terminal: the directory shown, its sorted and filtered
// entries, the selected one, the scroll position, the name filter and
// whether the key help is shown. The terminal side turns keys (by
// ExplorerKeys) and mouse events into calls and draws Lines; everything
// else is here, and tested without a terminal.
type Explorer struct {
	u          *Usage
	dir        *Node
	entries    []Entry
	cursor     int // index in entries; 0 when there are none
	top        int // first entry on screen
	order      Order
	unusedOnly bool
	filter     string // names shown contain it, ignoring case
	filtering  bool   // the filter is being typed
	help       bool   // the key help is shown over the entries
	width      int
	height     int
}

// An Action is one thing the user asks of the explorer.
type Action uint8

const (
	MoveUp       Action = iota // select the previous entry
	MoveDown                   // select the next entry
	PageUp                     // a screenful up
	PageDown                   // a screenful down
	MoveFirst                  // the first entry
	MoveLast                   // the last entry
	Open                       // show the selected directory, or where a link to a directory leads
	Back                       // show the parent directory, selecting the one left
	ToggleOrder                // sort by size, then by name, then by size again
	ToggleUnused               // show only entries with unused files, or all
	StartFilter                // start typing a filter of the names shown (SetFilter)
	KeepFilter                 // stop typing the filter and keep it
	ClearFilter                // stop typing the filter and clear it; close the help
	ToggleHelp                 // show or hide the key help
	// The terminal's own, which Do leaves alone.
	Suspend // give the terminal back to the shell (ctrl-z)
	Quit    // leave the explorer
)

// NewExplorer returns an explorer of u at the image's root, sorted by
// size, with an 80×24 screen until SetSize says otherwise.
func NewExplorer(u *Usage) *Explorer {
	e := &Explorer{u: u, dir: u.Image.Root, width: 80, height: 24}
	e.relist(nil, 0)
	return e
}

// SetSize sets the screen size in columns and lines.
func (e *Explorer) SetSize(width, height int) {
	e.width, e.height = max(width, 1), max(height, 1)
	e.scroll()
}

// Dir is the directory shown.
func (e *Explorer) Dir() *Node { return e.dir }

// Entries are the entries of Dir as shown: sorted, maybe filtered.
func (e *Explorer) Entries() []Entry { return e.entries }

// Cursor is the index of the selected entry in Entries; 0 when it is
// empty.
func (e *Explorer) Cursor() int { return e.cursor }

// Selected returns the selected entry; ok is false when Dir shows none.
func (e *Explorer) Selected() (entry Entry, ok bool) {
	if len(e.entries) == 0 {
		return Entry{}, false
	}
	return e.entries[e.cursor], true
}

// Order is how entries are sorted.
func (e *Explorer) Order() Order { return e.order }

// UnusedOnly reports whether only entries with unused files are shown.
func (e *Explorer) UnusedOnly() bool { return e.unusedOnly }

// Top is the index of the first entry on the screen.
func (e *Explorer) Top() int { return e.top }

// Filter is the text the names shown contain, ignoring case; "" when
// there is no filter.
func (e *Explorer) Filter() string { return e.filter }

// Filtering reports whether the filter is being typed: the terminal then
// sends what is typed to SetFilter, and the screen's last line is the
// filter's (a FilterLine).
func (e *Explorer) Filtering() bool { return e.filtering }

// HelpShown reports whether the key help is shown over the entries.
func (e *Explorer) HelpShown() bool { return e.help }

// SetFilter shows only the entries of Dir whose names contain text,
// ignoring case, keeping the selection if it is still shown. Opening
// another directory clears it.
func (e *Explorer) SetFilter(text string) {
	e.filter = text
	e.relistKeeping()
}

// Do carries out one action. Actions that cannot apply (up at the first
// entry, open on a file, back at the root) change nothing. Any action but
// ToggleHelp also closes the help.
func (e *Explorer) Do(a Action) {
	if a != ToggleHelp {
		e.help = false
	}
	switch a {
	case MoveUp:
		e.moveTo(e.cursor - 1)
	case MoveDown:
		e.moveTo(e.cursor + 1)
	case PageUp:
		e.moveTo(e.cursor - max(1, e.listRows()))
	case PageDown:
		e.moveTo(e.cursor + max(1, e.listRows()))
	case MoveFirst:
		e.moveTo(0)
	case MoveLast:
		e.moveTo(len(e.entries) - 1)
	case Open:
		e.open()
	case Back:
		if left := e.dir; left.Parent != nil {
			e.show(left.Parent, left)
		}
	case ToggleOrder:
		e.order = 1 - e.order
		e.relistKeeping()
	case ToggleUnused:
		e.unusedOnly = !e.unusedOnly
		e.relistKeeping()
	case StartFilter:
		e.filtering = true
	case KeepFilter:
		e.filtering = false
	case ClearFilter:
		e.filtering = false
		if e.filter != "" {
			e.SetFilter("")
		}
	case ToggleHelp:
		e.help = !e.help
	}
}

// ScrollBy moves the view n entries down (up when n < 0), as a mouse wheel
// does, taking the selection along only as far as needed to keep it on
// the screen.
func (e *Explorer) ScrollBy(n int) {
	e.help = false
	rows := max(1, e.listRows())
	e.top = max(0, min(e.top+n, len(e.entries)-rows))
	e.cursor = max(0, min(max(e.cursor, e.top), e.top+rows-1, len(e.entries)-1))
}

// Click is a click on line y of the screen (0 is the top): on an entry it
// selects it, and on the entry already selected it opens it, so that a
// double click opens too. Anywhere else it does nothing but close the
// help.
func (e *Explorer) Click(y int) {
	if e.help {
		e.help = false
		return
	}
	i := e.top + y + e.clippedLines() - screenHeadLines
	if y < 0 || i < e.top || i >= e.top+max(1, e.listRows()) || i >= len(e.entries) {
		return
	}
	if i == e.cursor {
		e.Do(Open)
		return
	}
	e.moveTo(i)
}

// open shows the selected directory. A symbolic link that leads to a
// directory of the image opens that directory, as cd would.
func (e *Explorer) open() {
	sel, ok := e.Selected()
	if !ok {
		return
	}
	target := sel.Node
	if target.Kind == Symlink {
		resolved, err := e.u.Image.Resolve(target.Path())
		if err != nil {
			return
		}
		target = resolved
	}
	if target.Kind != Dir {
		return
	}
	e.show(target, nil)
}

// show lists another directory, selecting keep if it is there. The
// filter was for the names of the directory left: it goes.
func (e *Explorer) show(dir, keep *Node) {
	e.dir, e.top = dir, 0
	e.filter, e.filtering = "", false
	e.relist(keep, 0)
}

// relistKeeping lists Dir again and keeps the selected entry selected if
// it is still shown, else the same position in the list.
func (e *Explorer) relistKeeping() {
	sel, _ := e.Selected()
	e.relist(sel.Node, e.cursor)
}

// relist lists Dir and selects keep if it is shown, else the entry at
// index fallback (or the last one).
func (e *Explorer) relist(keep *Node, fallback int) {
	e.entries = e.u.List(e.dir, ListOptions{Order: e.order, UnusedOnly: e.unusedOnly, NameContains: e.filter})
	if keep == nil || keep.Parent != e.dir {
		e.top = 0 // another directory: its own scroll position
	}
	e.cursor = fallback
	for i, entry := range e.entries {
		if keep != nil && entry.Node == keep {
			e.cursor = i
		}
	}
	e.moveTo(e.cursor)
}

func (e *Explorer) moveTo(i int) {
	e.cursor = max(0, min(i, len(e.entries)-1))
	e.scroll()
}

// scroll keeps the selected entry on the screen, moving the view as
// little as possible.
func (e *Explorer) scroll() {
	rows := max(1, e.listRows())
	if e.cursor < e.top {
		e.top = e.cursor
	}
	if e.cursor >= e.top+rows {
		e.top = e.cursor - rows + 1
	}
	// Do not leave blank lines at the bottom when there is more above.
	e.top = max(0, min(e.top, len(e.entries)-rows))
}

// An ExplorerKey is one of the explorer's key bindings.
type ExplorerKey struct {
	// Names are the keys as the terminal side names them (bubbletea's
	// KeyMsg.String(): "up", "pgdown", "ctrl+b", " " for space).
	Names []string
	Label string // the keys as the help shows them
	Does  string
	Action
}

// ExplorerKeys are the explorer's keys: the one list the terminal reads
// keys by, the help (?) and `podprof explore --help` show, and the key
// line's hints name.
var ExplorerKeys = []ExplorerKey{
	{[]string{"up", "k"}, "↑ k", "select the previous entry", MoveUp},
	{[]string{"down", "j"}, "↓ j", "select the next entry", MoveDown},
	{[]string{"pgup", "b", "ctrl+b"}, "PgUp b ctrl-b", "a screenful up", PageUp},
	{[]string{"pgdown", " ", "ctrl+f"}, "PgDn space ctrl-f", "a screenful down", PageDown},
	{[]string{"home", "g"}, "Home g", "the first entry", MoveFirst},
	{[]string{"end", "G"}, "End G", "the last entry", MoveLast},
	{[]string{"right", "l", "enter"}, "→ l Enter", "open the directory (or where a link to one leads)", Open},
	{[]string{"left", "h", "backspace", "ctrl+h"}, "← h Backspace", "back to the parent directory", Back},
	{[]string{"s"}, "s", "sort by size / by name", ToggleOrder},
	{[]string{"u"}, "u", "show only entries with unused files / all", ToggleUnused},
	{[]string{"/"}, "/", "filter the names shown as you type: Enter keeps it, Esc clears it", StartFilter},
	{[]string{"esc"}, "Esc", "clear the filter, close the help", ClearFilter},
	{[]string{"?"}, "?", "show / hide this help", ToggleHelp},
	{[]string{"ctrl+z"}, "ctrl-z", "suspend to the shell (fg comes back)", Suspend},
	{[]string{"q", "Q", "ctrl+c"}, "q ctrl-c", "quit", Quit},
}

// ExplorerMouseHelp says what the mouse does, under the keys.
const ExplorerMouseHelp = "Mouse: the wheel scrolls; a click selects an entry, a click on the selected one opens it."

// keyName is the first key that does a, for the key line's hints.
func keyName(a Action) string {
	for _, k := range ExplorerKeys {
		if k.Action == a {
			return k.Names[0]
		}
	}
	panic("no key for an explorer action")
}
