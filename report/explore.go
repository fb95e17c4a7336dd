package report

// An Explorer is the state of the interactive explorer (podprof explore)
// without any terminal: the directory shown, its sorted and filtered
// entries, the selected one, and the scroll position. The terminal side
// turns keys into Actions and draws Screen; everything else is here, and
// tested without a terminal.
type Explorer struct {
	u          *Usage
	dir        *Node
	entries    []Entry
	cursor     int // index in entries; 0 when there are none
	top        int // first entry on screen
	order      Order
	unusedOnly bool
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

// Do carries out one action. Actions that cannot apply (up at the first
// entry, open on a file, back at the root) change nothing.
func (e *Explorer) Do(a Action) {
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
			e.dir, e.top = left.Parent, 0
			e.relist(left, 0)
		}
	case ToggleOrder:
		e.order = 1 - e.order
		e.relistKeeping()
	case ToggleUnused:
		e.unusedOnly = !e.unusedOnly
		e.relistKeeping()
	}
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
	e.dir = target
	e.relist(nil, 0)
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
	e.entries = e.u.List(e.dir, ListOptions{Order: e.order, UnusedOnly: e.unusedOnly})
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
