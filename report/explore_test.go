package report

import (
	"archive/tar"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func newTreeExplorer(t *testing.T) *Explorer {
	return NewExplorer(Join(treeImage(t), treeProfile()))
}

// expectAt checks the directory shown, its entries and the selected one.
func expectAt(t *testing.T, e *Explorer, dir string, entries []string, selected string) {
	t.Helper()
	if got := e.Dir().Path(); got != dir {
		t.Errorf("in %s, want %s", got, dir)
	}
	if got := names(e.Entries()); !slices.Equal(got, entries) {
		t.Errorf("entries %q, want %q", got, entries)
	}
	sel, ok := e.Selected()
	switch {
	case selected == "" && ok:
		t.Errorf("%s selected, want none", sel.Node.Name)
	case selected != "" && (!ok || sel.Node.Name != selected):
		t.Errorf("selected %q (%v), want %q", sel.Node.Name, ok, selected)
	}
}

var rootBySize = []string{"opt", "usr", "etc", "bin", "empty"}

func TestExplorerMoves(t *testing.T) {
	e := newTreeExplorer(t)
	expectAt(t, e, "/", rootBySize, "opt")
	e.Do(MoveUp) // already at the first entry
	expectAt(t, e, "/", rootBySize, "opt")
	e.Do(MoveDown)
	e.Do(MoveDown)
	expectAt(t, e, "/", rootBySize, "etc")
	e.Do(MoveLast)
	e.Do(MoveDown) // already at the last
	expectAt(t, e, "/", rootBySize, "empty")
	e.Do(MoveFirst)
	expectAt(t, e, "/", rootBySize, "opt")
	e.Do(PageDown)
	expectAt(t, e, "/", rootBySize, "empty")
	e.Do(PageUp)
	expectAt(t, e, "/", rootBySize, "opt")
}

func TestExplorerOpenAndBack(t *testing.T) {
	e := newTreeExplorer(t)
	e.Do(Back) // at the root: nothing above
	expectAt(t, e, "/", rootBySize, "opt")
	e.Do(MoveDown)
	e.Do(Open)
	expectAt(t, e, "/usr", []string{"share", "bin"}, "share")
	e.Do(Open)
	e.Do(Open)
	expectAt(t, e, "/usr/share/doc", []string{"a", "b"}, "a")
	e.Do(Open) // a file: stays
	expectAt(t, e, "/usr/share/doc", []string{"a", "b"}, "a")
	// Back selects the directory left, all the way up.
	e.Do(Back)
	expectAt(t, e, "/usr/share", []string{"doc"}, "doc")
	e.Do(Back)
	expectAt(t, e, "/usr", []string{"share", "bin"}, "share")
	e.Do(Back)
	expectAt(t, e, "/", rootBySize, "usr")

	// A link to a directory opens where it leads, as cd does.
	e.Do(MoveDown)
	e.Do(MoveDown)
	expectAt(t, e, "/", rootBySize, "bin")
	e.Do(Open)
	expectAt(t, e, "/usr/bin", []string{"dash", "sh", "zz"}, "dash")
	e.Do(Back)
	expectAt(t, e, "/usr", []string{"share", "bin"}, "bin")

	// A link to a file does not open; an empty directory does.
	e.Do(Open)
	e.Do(MoveDown)
	e.Do(Open)
	expectAt(t, e, "/usr/bin", []string{"dash", "sh", "zz"}, "sh")
	for e.Dir().Parent != nil {
		e.Do(Back)
	}
	e.Do(MoveLast)
	e.Do(Open)
	expectAt(t, e, "/empty", nil, "")
	for _, a := range []Action{MoveUp, MoveDown, PageUp, PageDown, MoveFirst, MoveLast, Open, ToggleOrder, ToggleUnused} {
		e.Do(a) // nothing to select: nothing breaks
	}
	// The toggles worked there too: by name, unused only, which hides
	// the empty directory left.
	e.Do(Back)
	expectAt(t, e, "/", []string{"opt", "usr"}, "opt")
}

func TestExplorerSortAndFilterKeepTheSelection(t *testing.T) {
	e := newTreeExplorer(t)
	e.Do(MoveDown)
	e.Do(MoveDown)
	e.Do(ToggleOrder)
	if e.Order() != ByName {
		t.Errorf("order %v after one toggle", e.Order())
	}
	expectAt(t, e, "/", []string{"bin", "empty", "etc", "opt", "usr"}, "etc")
	e.Do(ToggleOrder)
	expectAt(t, e, "/", rootBySize, "etc")

	// etc is all used: the filter hides it, and the cursor stays where it
	// was, on the last entry left.
	e.Do(ToggleUnused)
	if !e.UnusedOnly() {
		t.Errorf("unused only is off after a toggle")
	}
	expectAt(t, e, "/", []string{"opt", "usr"}, "usr")
	e.Do(ToggleUnused)
	expectAt(t, e, "/", rootBySize, "usr")

	// The filter and the order stay on in other directories.
	e.Do(ToggleUnused)
	e.Do(ToggleOrder)
	e.Do(Open)
	expectAt(t, e, "/usr", []string{"share"}, "share")
	e.Do(Back)
	expectAt(t, e, "/", []string{"opt", "usr"}, "usr")
}

// manyImage has /many with 30 files of falling sizes, for scrolling.
func manyImage(t *testing.T) *Usage {
	var entries []*tar.Header
	for i := range 30 {
		entries = append(entries, file(fmt.Sprintf("many/f%02d", i), int64(1000-i)))
	}
	return Join(buildOrFail(t, layerOf(t, "l", entries...)), &Profile{})
}

func TestExplorerScrolls(t *testing.T) {
	e := NewExplorer(manyImage(t))
	e.Do(Open)
	e.SetSize(80, 10) // 5 lines for entries
	check := func(cursor, top int) {
		t.Helper()
		if e.Cursor() != cursor || e.Top() != top {
			t.Errorf("cursor %d, top %d; want %d, %d", e.Cursor(), e.Top(), cursor, top)
		}
		screen := plain(e.Lines())
		for i := range 5 {
			want := fmt.Sprintf(" f%02d", top+i)
			if !strings.HasSuffix(strings.TrimRight(screen[3+i], " "), want) {
				t.Errorf("line %d is %q, want it to end with %q", 3+i, screen[3+i], want)
			}
		}
		if !strings.HasPrefix(screen[3+cursor-top], ">") {
			t.Errorf("the selected line has no >: %q", screen[3+cursor-top])
		}
		if want := fmt.Sprintf("(%d-%d of 30)", top+1, top+5); !strings.HasSuffix(screen[1], want) {
			t.Errorf("directory line %q does not end with %q", screen[1], want)
		}
	}
	check(0, 0)
	e.Do(MoveDown)
	check(1, 0)
	e.Do(PageDown)
	check(6, 2)
	e.Do(MoveLast)
	check(29, 25)
	e.Do(PageUp)
	check(24, 24)
	e.Do(MoveFirst)
	check(0, 0)
	e.Do(MoveLast)
	e.SetSize(80, 8) // 3 lines: the selection stays on screen
	if e.Top() != 27 {
		t.Errorf("top %d after shrinking, want 27", e.Top())
	}
	e.SetSize(80, 40) // all 30 fit: no blank lines at the bottom
	if e.Top() != 0 {
		t.Errorf("top %d after growing, want 0", e.Top())
	}
}

// plain is the screen's text, as a terminal shows it.
func plain(lines []Line) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}

func TestExplorerScreen(t *testing.T) {
	e := newTreeExplorer(t)
	e.SetSize(100, 12)
	e.Do(MoveDown)
	got := plain(e.Lines())
	if sel := got[4]; DisplayWidth(sel) != 100 {
		t.Errorf("the selected line is not padded to the width, for reverse video: %q", sel)
	}
	for i := range got {
		got[i] = strings.TrimRight(got[i], " ")
	}
	want := []string{
		"podprof explore: localhost/tree:1 (0123456789ab)  2.95 kB, 5.1% used",
		"/  2.95 kB, 5.1% used, 4 of 7 files used",
		"      SIZE  USED% USED       USED/FILES   NAME",
		"      2 kB   0.0% ░░░░░░░░░░        0/1   opt/",
		">    900 B  11.1% █░░░░░░░░░        2/4 * usr/",
		"      50 B 100.0% ██████████        1/1 * etc/",
		"       0 B      - ██████████        1/1 * bin -> usr/bin",
		"       0 B      -                   0/0   empty/",
		"",
		"",
		"/usr  directory, 2 of 4 files used",
		"? help  / filter  s sort:size  u unused only:off  q quit",
	}
	if !slices.Equal(got, want) {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	e.Do(Open)
	e.Do(MoveLast)
	e.Do(Open)
	e.Do(MoveLast)
	if got := plain(e.Lines())[10]; got != "/usr/bin/zz  hard link of /usr/bin/dash, from layer 1 of 2" {
		t.Errorf("status of a second name: %q", got)
	}
	e.Do(MoveUp)
	if got := plain(e.Lines())[10]; got != "/usr/bin/sh  symbolic link, 0 B, used, from layer 1 of 2" {
		t.Errorf("status of a link: %q", got)
	}
	e.Do(Back)
	e.Do(Back)
	e.Do(MoveFirst)
	e.Do(Open)
	e.Do(Open)
	if got := plain(e.Lines())[10]; got != "/opt/app/big  file, 2 kB, not used, from layer 2 of 2" {
		t.Errorf("status of a file: %q", got)
	}
	e.Do(ToggleUnused)
	e.Do(Back)
	e.Do(Back)
	e.Do(ToggleOrder)
	e.Do(MoveLast)
	e.Do(Open)
	e.Do(Open)
	e.Do(Open)
	if got := plain(e.Lines()); strings.TrimRight(got[3], " ") != ">    500 B   0.0% ░░░░░░░░░░        0/1   a" || got[11] != "? help  / filter  s sort:name  u unused only:on  q quit" {
		t.Errorf("screen in /usr/share/doc, unused only, by name:\n%s", strings.Join(got, "\n"))
	}
}

func TestExplorerScreenEmptyDirectory(t *testing.T) {
	e := newTreeExplorer(t)
	e.Do(MoveLast)
	e.Do(Open)
	if got := plain(e.Lines())[3]; got != "  (empty directory)" {
		t.Errorf("empty directory shows %q", got)
	}
	e.Do(Back)
	e.Do(MoveDown)
	e.Do(MoveDown) // usr
	e.Do(Open)
	e.Do(MoveLast) // bin: all used
	e.Do(Open)
	e.Do(ToggleUnused)
	if got := plain(e.Lines())[3]; got != "  (nothing unused here; u shows all)" {
		t.Errorf("a directory with nothing unused shows %q", got)
	}
}

func TestExplorerScreenKinds(t *testing.T) {
	e := newTreeExplorer(t)
	e.SetSize(100, 12)
	lines := e.Lines()
	for i, want := range map[int]Line{
		0:  {Kind: TitleLine},
		2:  {Kind: DimLine},
		3:  {Kind: SelectedLine, Share: NothingUsed}, // opt
		4:  {Kind: EntryLine, Share: UsedBelow25},    // usr, 11% used
		5:  {Kind: EntryLine, Share: AllUsed},        // etc
		6:  {Kind: EntryLine, Share: AllUsed},        // bin, a used link
		7:  {Kind: EntryLine, Share: NoShare},        // empty
		8:  {Kind: TextLine},
		11: {Kind: DimLine}, // the key line
	} {
		if got := lines[i]; got.Kind != want.Kind || got.Share != want.Share {
			t.Errorf("line %d %q: kind %d share %d, want %d %d", i, got.Text, got.Kind, got.Share, want.Kind, want.Share)
		}
	}
	for _, c := range []struct {
		e    Entry
		want ShareLevel
	}{
		{Entry{Total: Counts{100, 1}}, NothingUsed},
		{Entry{Total: Counts{100, 1}, Used: Counts{10, 1}}, UsedBelow25},
		{Entry{Total: Counts{100, 1}, Used: Counts{30, 1}}, UsedBelow50},
		{Entry{Total: Counts{100, 1}, Used: Counts{60, 1}}, UsedBelow75},
		{Entry{Total: Counts{100, 1}, Used: Counts{99, 1}}, UsedBelow100},
		{Entry{Total: Counts{100, 1}, Used: Counts{100, 1}}, AllUsed},
		{Entry{}, NoShare},
	} {
		if got := ShareLevelOf(c.e); got != c.want {
			t.Errorf("ShareLevelOf(%+v) = %d, want %d", c.e, got, c.want)
		}
	}
}

// Whatever the size, the screen has exactly its lines, none wider.
func TestExplorerScreenFits(t *testing.T) {
	for _, u := range []*Usage{Join(treeImage(t), treeProfile()), Join(hostileImage(t), &Profile{})} {
		e := NewExplorer(u)
		e.Do(Open)
		for _, w := range []int{1, 2, 10, 43, 80, 200} {
			for _, h := range []int{1, 2, 3, 5, 6, 7, 24} {
				e.SetSize(w, h)
				for _, help := range []bool{false, true} {
					if e.HelpShown() != help {
						e.Do(ToggleHelp)
					}
					lines := e.Lines()
					if len(lines) != h {
						t.Errorf("%dx%d: %d lines", w, h, len(lines))
					}
					for _, l := range plain(lines) {
						if DisplayWidth(l) > w {
							t.Errorf("%dx%d: line %q is %d wide", w, h, l, DisplayWidth(l))
						}
					}
				}
			}
		}
	}
}

func TestExplorerScreenEscapesNames(t *testing.T) {
	e := NewExplorer(Join(hostileImage(t), &Profile{}))
	e.SetSize(120, 20)
	e.Do(Open)
	var all []string
	for range e.Entries() {
		all = append(all, plain(e.Lines())...)
		e.Do(MoveDown)
	}
	text := strings.Join(all, "\n")
	if strings.ContainsAny(text, "\x1b\x07\u202e\r") || !utf8.ValidString(text) {
		t.Errorf("raw control, format or invalid bytes reach the screen:\n%q", text)
	}
	for _, want := range []string{
		`"\x1b[2J\x1b]0;pwned\a"`, `"new\nline"`, `"bad\xff\xfe"`, `link -> "\x1b[31mred"`, `"\u202eexe.txt"`, " ünï",
		`"/d/new\nline"  file, 20 B, not used`, // the status line
	} {
		if !strings.Contains(text, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
}

// FuzzExplorer plays any sequence of actions and resizes: the selection
// stays on an entry and on the screen, and the screen keeps its size.
func FuzzExplorer(f *testing.F) {
	f.Add([]byte{byte(MoveDown), byte(Open), byte(PageDown), byte(ToggleUnused), byte(Back), byte(ToggleOrder), 200, 37})
	f.Add([]byte{byte(MoveLast), byte(Open), byte(Open), byte(Back), byte(Back), byte(Back)})
	f.Add([]byte{byte(StartFilter), 22, 21, 19, 20, byte(ToggleHelp), 45, byte(ClearFilter), 18})
	f.Fuzz(func(t *testing.T, script []byte) {
		usages := []*Usage{Join(treeImage(t), treeProfile()), Join(usageImage(t), usageProfile()), manyImage(t)}
		e := NewExplorer(usages[len(script)%len(usages)])
		for i, b := range script {
			if b >= 128 { // a resize: the next byte is the height
				h := 1
				if i+1 < len(script) {
					h = int(script[i+1]%60) + 1
				}
				e.SetSize(int(b-128)+1, h)
			} else {
				switch n := b % 24; {
				case n <= byte(Quit):
					e.Do(Action(n))
				case n < 20:
					e.ScrollBy(int(n) - 18) // -2 to 1
				case n < 22:
					e.Click(int(b) % (e.height + 2))
				default:
					e.SetFilter([]string{"", "s", "B"}[int(b)%3])
				}
			}
			n, rows := len(e.Entries()), max(1, e.listRows())
			if (n == 0 && e.Cursor() != 0) || (n > 0 && (e.Cursor() < 0 || e.Cursor() >= n)) {
				t.Fatalf("cursor %d with %d entries", e.Cursor(), n)
			}
			if e.Cursor() < e.Top() || (n > 0 && e.Cursor() >= e.Top()+rows) {
				t.Fatalf("cursor %d off the screen: top %d, %d rows", e.Cursor(), e.Top(), rows)
			}
			if lines := e.Lines(); len(lines) != e.height {
				t.Fatalf("%d lines on a screen of %d", len(lines), e.height)
			}
		}
	})
}

func TestExplorerFilter(t *testing.T) {
	e := newTreeExplorer(t)
	e.SetSize(100, 12)
	e.Do(MoveDown) // usr
	e.Do(StartFilter)
	if !e.Filtering() {
		t.Fatal("not filtering after StartFilter")
	}
	// Names containing the text, ignoring case; the selection stays if
	// it is still shown.
	e.SetFilter("U")
	expectAt(t, e, "/", []string{"usr"}, "usr")
	screen := e.Lines()
	if last := screen[len(screen)-1]; last.Kind != FilterLine || last.Text != "/U" {
		t.Errorf("while typing, the last line is %+v", last)
	}
	e.SetFilter("t")
	expectAt(t, e, "/", []string{"opt", "etc", "empty"}, "opt")
	e.Do(KeepFilter)
	if e.Filtering() || e.Filter() != "t" {
		t.Errorf("after KeepFilter: filtering %v, filter %q", e.Filtering(), e.Filter())
	}
	if got := plain(e.Lines())[11]; got != "? help  / filter:t  s sort:size  u unused only:off  q quit" {
		t.Errorf("key line %q", got)
	}
	// The filter works with the others: by name, unused only.
	e.Do(ToggleOrder)
	expectAt(t, e, "/", []string{"empty", "etc", "opt"}, "opt")
	e.Do(ToggleUnused)
	expectAt(t, e, "/", []string{"opt"}, "opt")
	e.Do(ToggleUnused)
	e.Do(ToggleOrder)
	e.SetFilter("nothing like it")
	expectAt(t, e, "/", nil, "")
	if got := plain(e.Lines())[3]; got != `  (no name here contains "nothing like it"; esc clears the filter)` {
		t.Errorf("nothing matching shows %q", got)
	}
	// Esc clears it.
	e.Do(ClearFilter)
	expectAt(t, e, "/", rootBySize, "opt")
	if e.Filter() != "" || e.Filtering() {
		t.Errorf("after ClearFilter: filter %q, filtering %v", e.Filter(), e.Filtering())
	}
	// The filter is for one listing: another directory starts without.
	e.Do(StartFilter)
	e.SetFilter("us")
	e.Do(Open)
	expectAt(t, e, "/usr", []string{"share", "bin"}, "share")
	if e.Filter() != "" || e.Filtering() {
		t.Errorf("after Open: filter %q, filtering %v", e.Filter(), e.Filtering())
	}
	e.SetFilter("BIN")
	e.Do(Back)
	expectAt(t, e, "/", rootBySize, "usr")
}

func TestExplorerHelp(t *testing.T) {
	e := newTreeExplorer(t)
	e.SetSize(100, 24)
	e.Do(ToggleHelp)
	if !e.HelpShown() {
		t.Fatal("no help after ToggleHelp")
	}
	screen := plain(e.Lines())
	text := strings.Join(screen, "\n")
	for _, want := range []string{"Keys (? or esc closes this):", "  ↑ k                select the previous entry", "  q ctrl-c           quit", ExplorerMouseHelp} {
		if !strings.Contains(text, want) {
			t.Errorf("the help lacks %q:\n%s", want, text)
		}
	}
	if len(screen) != 24 || screen[23] != "? help  / filter  s sort:size  u unused only:off  q quit" || strings.Contains(text, "opt/") {
		t.Errorf("help screen:\n%s", text)
	}
	e.Do(ToggleHelp)
	if e.HelpShown() {
		t.Error("help still shown after a second ToggleHelp")
	}
	// Any other action closes it, and is done.
	e.Do(ToggleHelp)
	e.Do(MoveDown)
	if e.HelpShown() {
		t.Error("help still shown after MoveDown")
	}
	expectAt(t, e, "/", rootBySize, "usr")
	e.Do(ToggleHelp)
	e.Do(ClearFilter)
	if e.HelpShown() {
		t.Error("help still shown after Esc")
	}
	// A click closes it and does nothing else.
	e.Do(ToggleHelp)
	e.Click(3)
	if e.HelpShown() {
		t.Error("help still shown after a click")
	}
	expectAt(t, e, "/", rootBySize, "usr")
}

func TestExplorerKeys(t *testing.T) {
	seen := map[string]bool{}
	actions := map[Action]bool{}
	for _, k := range ExplorerKeys {
		actions[k.Action] = true
		for _, name := range k.Names {
			if seen[name] {
				t.Errorf("key %q bound twice", name)
			}
			seen[name] = true
		}
	}
	for a := MoveUp; a <= Quit; a++ {
		if !actions[a] && a != KeepFilter { // Enter keeps the filter, as the terminal sees it
			t.Errorf("no key for action %d", a)
		}
	}
	if help := ExplorerHelp(); len(help) != len(ExplorerKeys)+1 {
		t.Errorf("%d help lines for %d keys", len(help), len(ExplorerKeys))
	}
}

func TestExplorerMouse(t *testing.T) {
	e := NewExplorer(manyImage(t))
	e.Do(Open)
	e.SetSize(80, 10) // 5 entry lines, the first on line 3
	check := func(cursor, top int) {
		t.Helper()
		if e.Cursor() != cursor || e.Top() != top {
			t.Errorf("cursor %d, top %d; want %d, %d", e.Cursor(), e.Top(), cursor, top)
		}
	}
	// The wheel moves the view; the selection follows only to stay on it.
	e.ScrollBy(3)
	check(3, 3)
	e.ScrollBy(-1)
	check(3, 2)
	e.ScrollBy(100)
	check(25, 25)
	e.ScrollBy(-100)
	check(4, 0)
	// A click selects; a click on the selection opens (a file: nothing).
	e.Click(5)
	check(2, 0)
	e.Click(0) // the title
	e.Click(8) // the status line
	e.Click(-1)
	check(2, 0)
	e.Click(5)
	check(2, 0)

	e = newTreeExplorer(t)
	e.SetSize(100, 12)
	e.Click(4)
	expectAt(t, e, "/", rootBySize, "usr")
	e.Click(4)
	expectAt(t, e, "/usr", []string{"share", "bin"}, "share")
	e.Click(7) // below the last entry
	expectAt(t, e, "/usr", []string{"share", "bin"}, "share")
	// On a screen too short for the head lines, the entry is still where
	// it is drawn.
	e.SetSize(100, 4)
	if got := plain(e.Lines()); !strings.HasPrefix(got[1], ">") {
		t.Fatalf("on a 4-line screen: %q", got)
	}
	e.Click(1)
	expectAt(t, e, "/usr/share", []string{"doc"}, "doc")
}
