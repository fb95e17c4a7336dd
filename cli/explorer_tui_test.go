package cli

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/podprof/podprof/report"
)

// headers is a layer's tar headers, as report.BuildImage reads them.
type headers []*tar.Header

func (h *headers) Next() (*tar.Header, error) {
	if len(*h) == 0 {
		return nil, io.EOF
	}
	next := (*h)[0]
	*h = (*h)[1:]
	return next, nil
}

// testExplorer is an explorer of a small image: /etc/passwd (used),
// /lib/libc.so.6 (used), /lib/libm.so.6, /lib/libz.so.1 and /opt/big.
func testExplorer(t *testing.T) *report.Explorer {
	t.Helper()
	layer := report.Layer{ID: "l1", Open: func() (report.HeaderReader, io.Closer, error) {
		h := headers{
			{Name: "etc/passwd", Typeflag: tar.TypeReg, Size: 100, Mode: 0o644},
			{Name: "lib/libc.so.6", Typeflag: tar.TypeReg, Size: 2000, Mode: 0o755},
			{Name: "lib/libm.so.6", Typeflag: tar.TypeReg, Size: 900, Mode: 0o755},
			{Name: "lib/libz.so.1", Typeflag: tar.TypeReg, Size: 100, Mode: 0o755},
			{Name: "opt/big", Typeflag: tar.TypeReg, Size: 9000, Mode: 0o644},
		}
		return &h, io.NopCloser(nil), nil
	}}
	img, err := report.BuildImage([]report.Layer{layer})
	if err != nil {
		t.Fatal(err)
	}
	profile := &report.Profile{Image: report.ImageRef{Name: "localhost/t:1"},
		Files: []report.File{{Path: "/etc/passwd", Read: true}, {Path: "/lib/libc.so.6", Exec: true}}}
	return report.NewExplorer(report.Join(img, profile))
}

// testRenderer is a renderer for a terminal with env as its environment.
func testRenderer(env ...string) *lipgloss.Renderer {
	return lipgloss.NewRenderer(io.Discard, termenv.WithTTY(true), termenv.WithEnvironment(environ(env)))
}

type environ []string

func (e environ) Environ() []string { return e }
func (e environ) Getenv(name string) string {
	for _, kv := range e {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

func keyPress(name string) tea.KeyMsg {
	for t, n := range map[tea.KeyType]string{tea.KeyEnter: "enter", tea.KeyEsc: "esc", tea.KeyUp: "up", tea.KeyDown: "down",
		tea.KeyBackspace: "backspace", tea.KeyCtrlC: "ctrl+c", tea.KeyCtrlZ: "ctrl+z", tea.KeyLeft: "left", tea.KeyRight: "right"} {
		if n == name {
			return tea.KeyMsg{Type: t}
		}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(name)}
}

// send gives the terminal model its messages and returns the messages of
// the last one's command, if any.
func send(m *exploreTUI, msgs ...tea.Msg) tea.Msg {
	var cmd tea.Cmd
	for _, msg := range msgs {
		_, cmd = m.Update(msg)
	}
	if cmd == nil {
		return nil
	}
	return cmd()
}

func selectedName(e *report.Explorer) string {
	sel, _ := e.Selected()
	return sel.Node.Name
}

func TestExploreTUIKeys(t *testing.T) {
	e := testExplorer(t)
	m := newExploreTUI(e, testRenderer("TERM=xterm-256color"))
	send(m, tea.WindowSizeMsg{Width: 80, Height: 12})
	if selectedName(e) != "opt" {
		t.Fatalf("%s selected at the start", selectedName(e))
	}
	// Every name of every key reaches the explorer as its action.
	send(m, keyPress("j"))
	if selectedName(e) != "lib" {
		t.Errorf("j selects %s", selectedName(e))
	}
	send(m, keyPress("enter"))
	if e.Dir().Path() != "/lib" {
		t.Errorf("enter opens %s", e.Dir().Path())
	}
	send(m, keyPress("left"), tea.WindowSizeMsg{Width: 100, Height: 30}, keyPress("?"))
	if !e.HelpShown() || !strings.Contains(m.View(), report.ExplorerMouseHelp) {
		t.Errorf("? shows no help:\n%s", m.View())
	}
	send(m, keyPress("esc"))
	if e.HelpShown() {
		t.Error("esc leaves the help")
	}
	if msg := send(m, keyPress("ctrl+z")); msg != (tea.SuspendMsg{}) {
		t.Errorf("ctrl-z: %#v, want a SuspendMsg", msg)
	}
	for _, quit := range []string{"q", "ctrl+c"} {
		if msg := send(m, keyPress(quit)); msg != (tea.QuitMsg{}) {
			t.Errorf("%s: %#v, want a QuitMsg", quit, msg)
		}
	}
	send(m, keyPress("x"), tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("j"), Alt: true})
	if selectedName(e) != "lib" || e.Dir().Path() != "/" {
		t.Errorf("unbound keys moved to %s in %s", selectedName(e), e.Dir().Path())
	}
}

func TestExploreTUIFilter(t *testing.T) {
	e := testExplorer(t)
	m := newExploreTUI(e, testRenderer("TERM=xterm-256color"))
	send(m, tea.WindowSizeMsg{Width: 80, Height: 12}, keyPress("j"), keyPress("enter"))
	// Typed, the filter narrows the listing at each key; the letters
	// that are keys (j, l...) are text while it is typed.
	send(m, keyPress("/"), keyPress("L"), keyPress("i"), keyPress("b"), keyPress("M"))
	if !e.Filtering() || e.Filter() != "LibM" || len(e.Entries()) != 1 {
		t.Fatalf("after /LibM: filtering %v, filter %q, %d entries", e.Filtering(), e.Filter(), len(e.Entries()))
	}
	lines := strings.Split(m.View(), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "/LibM") {
		t.Errorf("the last line is %q, want the filter typed", last)
	}
	send(m, keyPress("backspace"))
	if e.Filter() != "Lib" || len(e.Entries()) != 3 {
		t.Errorf("after backspace: filter %q, %d entries", e.Filter(), len(e.Entries()))
	}
	// The arrows still move while typing.
	send(m, keyPress("down"))
	if selectedName(e) != "libz.so.1" {
		t.Errorf("down while typing selects %s", selectedName(e))
	}
	// Enter keeps it; then the keys are keys again.
	send(m, keyPress("z"), keyPress("enter"))
	if e.Filtering() || e.Filter() != "Libz" || len(e.Entries()) != 1 {
		t.Errorf("after enter: filtering %v, filter %q, %d entries", e.Filtering(), e.Filter(), len(e.Entries()))
	}
	// / again goes on from it; esc clears it.
	send(m, keyPress("/"))
	if e.Filter() != "Libz" || m.filter.Value() != "Libz" {
		t.Errorf("/ again: filter %q, input %q", e.Filter(), m.filter.Value())
	}
	send(m, keyPress("esc"))
	if e.Filtering() || e.Filter() != "" || len(e.Entries()) != 3 {
		t.Errorf("after esc: filtering %v, filter %q, %d entries", e.Filtering(), e.Filter(), len(e.Entries()))
	}
}

// Letters that come in one read are keys each; pasted text is filter
// text only.
func TestExploreTUIKeysInOneRead(t *testing.T) {
	e := testExplorer(t)
	m := newExploreTUI(e, testRenderer("TERM=xterm-256color"))
	send(m, tea.WindowSizeMsg{Width: 80, Height: 12})
	paste := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjq"), Paste: true}
	if msg := send(m, paste); msg != nil || selectedName(e) != "opt" {
		t.Errorf("a paste outside the filter: %#v, %s selected", msg, selectedName(e))
	}
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("j/li")})
	if selectedName(e) != "lib" || !e.Filtering() || e.Filter() != "li" {
		t.Errorf("after j/li in one read: %s selected, filtering %v, filter %q", selectedName(e), e.Filtering(), e.Filter())
	}
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("b"), Paste: true})
	if e.Filter() != "lib" {
		t.Errorf("after a paste in the filter: %q", e.Filter())
	}
}

func TestExploreTUIMouse(t *testing.T) {
	e := testExplorer(t)
	m := newExploreTUI(e, testRenderer("TERM=xterm-256color"))
	send(m, tea.WindowSizeMsg{Width: 80, Height: 12})
	press := func(y int) tea.MouseMsg {
		return tea.MouseMsg{X: 10, Y: y, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress}
	}
	// Entries start on line 3: opt, lib, etc.
	send(m, press(4))
	if selectedName(e) != "lib" {
		t.Errorf("a click on line 4 selects %s", selectedName(e))
	}
	send(m, tea.MouseMsg{Y: 4, Button: tea.MouseButtonLeft, Action: tea.MouseActionRelease})
	if e.Dir().Path() != "/" {
		t.Error("the release of a click opened")
	}
	send(m, press(4))
	if e.Dir().Path() != "/lib" {
		t.Errorf("a click on the selected entry opens %s", e.Dir().Path())
	}
	// A screen of 3 entry lines, to scroll.
	send(m, tea.WindowSizeMsg{Width: 80, Height: 8}, tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	if e.Top() != 0 || selectedName(e) != "libc.so.6" {
		t.Errorf("all fits, yet the wheel scrolled to %d, %s", e.Top(), selectedName(e))
	}
	send(m, tea.WindowSizeMsg{Width: 80, Height: 7}, tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	if e.Top() != 1 || selectedName(e) != "libm.so.6" {
		t.Errorf("after the wheel: top %d, %s selected", e.Top(), selectedName(e))
	}
	send(m, tea.MouseMsg{Button: tea.MouseButtonWheelUp, Action: tea.MouseActionPress})
	if e.Top() != 0 {
		t.Errorf("after the wheel up: top %d", e.Top())
	}
}

// Colours as the terminal can show them: its own palette (TERM,
// COLORTERM), none with NO_COLOR or TERM=dumb but bold, dim and reverse
// video still.
func TestExploreTUIColors(t *testing.T) {
	for _, c := range []struct {
		env       []string
		want, not []string
	}{
		{[]string{"TERM=xterm-256color"}, []string{"\x1b[7;38;5;196m", "\x1b[38;5;46m", "\x1b[1m", "\x1b[2m"}, []string{"38;2;"}},
		{[]string{"TERM=xterm-256color", "COLORTERM=truecolor"}, []string{"\x1b[7;38;2;255;0;0m"}, []string{"38;5;"}},
		{[]string{"TERM=xterm"}, []string{"\x1b[7;91m", "\x1b[92m"}, []string{"38;5;", "38;2;"}},
		{[]string{"TERM=xterm-256color", "NO_COLOR=1"}, []string{"\x1b[7m", "\x1b[1m", "\x1b[2m"}, []string{"\x1b[3", "\x1b[9", ";3", ";9"}},
		{[]string{"TERM=dumb"}, []string{"\x1b[7m"}, []string{"\x1b[3", "\x1b[9"}},
	} {
		m := newExploreTUI(testExplorer(t), testRenderer(c.env...))
		send(m, tea.WindowSizeMsg{Width: 80, Height: 12})
		view := m.View()
		for _, want := range c.want {
			if !strings.Contains(view, want) {
				t.Errorf("%s: no %q in\n%q", c.env, want, view)
			}
		}
		for _, not := range c.not {
			if strings.Contains(view, not) {
				t.Errorf("%s: %q in\n%q", c.env, not, view)
			}
		}
	}
}

func TestExploreKeysText(t *testing.T) {
	text := exploreKeysText()
	for _, k := range report.ExplorerKeys {
		if !strings.Contains(text, k.Label+" ") || !strings.Contains(text, k.Does) {
			t.Errorf("--help lacks %q: %s", k.Label, k.Does)
		}
	}
}

// syncBuffer is a bytes.Buffer the test reads while bubbletea writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns what was written since the last take.
func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// A key writes the lines it changed, not the whole screen.
func TestExploreTUIRedrawsWhatChanged(t *testing.T) {
	var out syncBuffer
	p := tea.NewProgram(newExploreTUI(testExplorer(t), testRenderer("TERM=xterm-256color")),
		tea.WithInput(nil), tea.WithOutput(&out), tea.WithoutSignals())
	done := make(chan error)
	go func() { _, err := p.Run(); done <- err }()
	// written waits for output holding want.
	written := func(want string) string {
		t.Helper()
		var all string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if all += out.take(); strings.Contains(all, want) {
				time.Sleep(50 * time.Millisecond) // the rest of the frame
				return all + out.take()
			}
		}
		t.Fatalf("never written: %q; written: %q", want, all)
		return ""
	}
	p.Send(tea.WindowSizeMsg{Width: 80, Height: 12})
	written("/opt  directory")
	p.Send(keyPress("j"))
	frame := written("/lib  directory")
	for _, changed := range []string{"opt/", "lib/"} {
		if !strings.Contains(frame, changed) {
			t.Errorf("the line of %s not redrawn: %q", changed, frame)
		}
	}
	for _, same := range []string{"podprof explore:", "USED/FILES", "etc/", "? help"} {
		if strings.Contains(frame, same) {
			t.Errorf("%q redrawn, unchanged: %q", same, frame)
		}
	}
	p.Quit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
