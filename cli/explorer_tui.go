package cli

import (
	"errors"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/podprof/podprof/report"
)

// exploreTUI is the explorer's terminal: a bubbletea model that turns
// keys (by report.ExplorerKeys), mouse events and resizes into calls of
// the report.Explorer, which holds all the state, and draws its Lines
// with lipgloss. The one thing it keeps is the text input of the filter
// being typed. Bubbletea redraws only the lines that changed.
type exploreTUI struct {
	e      *report.Explorer
	keys   map[string]report.Action
	filter textinput.Model
	styles exploreStyles
}

// wheelLines is how many entries one step of the mouse wheel scrolls, as
// most terminal programs do.
const wheelLines = 3

// typingKeys are the keys that act on the explorer while the filter is
// being typed; all others edit the filter.
var typingKeys = map[string]bool{"up": true, "down": true, "pgup": true, "pgdown": true, "ctrl+c": true, "ctrl+z": true}

func newExploreTUI(e *report.Explorer, r *lipgloss.Renderer) *exploreTUI {
	m := &exploreTUI{e: e, keys: map[string]report.Action{}, styles: newExploreStyles(r)}
	for _, k := range report.ExplorerKeys {
		for _, name := range k.Names {
			m.keys[name] = k.Action
		}
	}
	m.filter = textinput.New()
	m.filter.Prompt = "/"
	m.filter.PromptStyle, m.filter.TextStyle, m.filter.Cursor.Style = r.NewStyle(), r.NewStyle(), r.NewStyle()
	// A steady cursor: no timer redrawing the screen twice a second.
	m.filter.Cursor.SetMode(cursor.CursorStatic)
	return m
}

func (m *exploreTUI) Init() tea.Cmd { return nil }

func (m *exploreTUI) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.e.SetSize(msg.Width, msg.Height)
		// The prompt and the cursor take a column each.
		m.filter.Width = max(1, msg.Width-2)
	case tea.MouseMsg:
		switch {
		case msg.Button == tea.MouseButtonWheelUp:
			m.e.ScrollBy(-wheelLines)
		case msg.Button == tea.MouseButtonWheelDown:
			m.e.ScrollBy(wheelLines)
		case msg.Button == tea.MouseButtonLeft && msg.Action == tea.MouseActionPress:
			m.e.Click(msg.Y)
		}
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// key carries out a key press. Bubbletea gives letters that came in one
// read as one message ("/bi" when typed fast, or sent by tmux): each is a
// key of its own. Pasted text is only ever filter text.
func (m *exploreTUI) key(msg tea.KeyMsg) tea.Cmd {
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
		var cmds []tea.Cmd
		for _, r := range msg.Runes {
			cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
		}
		return tea.Batch(cmds...)
	}
	if msg.Paste && !m.e.Filtering() {
		return nil
	}
	name := msg.String()
	if m.e.Filtering() && !typingKeys[name] {
		switch name {
		case "enter":
			m.e.Do(report.KeepFilter)
			m.filter.Blur()
		case "esc":
			m.e.Do(report.ClearFilter)
			m.filter.Blur()
		default:
			var cmd tea.Cmd
			m.filter, cmd = m.filter.Update(msg)
			if m.filter.Value() != m.e.Filter() {
				m.e.SetFilter(m.filter.Value())
			}
			return cmd
		}
		return nil
	}
	action, bound := m.keys[name]
	if !bound {
		return nil
	}
	switch action {
	case report.Quit:
		return tea.Quit
	case report.Suspend:
		return tea.Suspend
	case report.StartFilter:
		m.e.Do(action)
		// Go on from the filter shown, if any.
		m.filter.SetValue(m.e.Filter())
		m.filter.CursorEnd()
		return m.filter.Focus()
	}
	m.e.Do(action)
	return nil
}

func (m *exploreTUI) View() string {
	lines := m.e.Lines()
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = m.styles.render(l, m.filter)
	}
	return strings.Join(out, "\n")
}

// exploreStyles are the lipgloss styles of the screen's lines.
type exploreStyles struct {
	title, dim, text lipgloss.Style
	entry, selected  map[report.ShareLevel]lipgloss.Style
}

// shareColors go from red (nothing used) to green (all used), grey for an
// entry that stands for no byte: 256-colour palette entries, and for
// terminals with 16 colours the closest that still tell the grades apart.
// A true-colour terminal gets the same colours as a 256-colour one.
var shareColors = map[report.ShareLevel]lipgloss.CompleteColor{
	report.NoShare:      {TrueColor: "#808080", ANSI256: "244", ANSI: "8"},
	report.NothingUsed:  {TrueColor: "#ff0000", ANSI256: "196", ANSI: "9"},
	report.UsedBelow25:  {TrueColor: "#ff5f00", ANSI256: "202", ANSI: "1"},
	report.UsedBelow50:  {TrueColor: "#ffaf00", ANSI256: "214", ANSI: "3"},
	report.UsedBelow75:  {TrueColor: "#ffff00", ANSI256: "226", ANSI: "11"},
	report.UsedBelow100: {TrueColor: "#afff00", ANSI256: "154", ANSI: "2"},
	report.AllUsed:      {TrueColor: "#00ff00", ANSI256: "46", ANSI: "10"},
}

// newExploreStyles makes the styles for the terminal r writes to, with as
// many colours as it has (termenv's reading of TERM, COLORTERM), and none
// with NO_COLOR set (https://no-color.org) or TERM=dumb. NO_COLOR is about
// colour only: bold, dim and reverse video stay, and the selection with
// them.
func newExploreStyles(r *lipgloss.Renderer) exploreStyles {
	colors := r.ColorProfile() != termenv.Ascii
	if !colors {
		// Termenv's profile without colours has no attributes either.
		r.SetColorProfile(termenv.ANSI)
	}
	s := exploreStyles{
		title: r.NewStyle().Bold(true), dim: r.NewStyle().Faint(true), text: r.NewStyle(),
		entry: map[report.ShareLevel]lipgloss.Style{}, selected: map[report.ShareLevel]lipgloss.Style{},
	}
	for level, color := range shareColors {
		style := r.NewStyle()
		if colors {
			style = style.Foreground(color)
		}
		s.entry[level], s.selected[level] = style, style.Reverse(true)
	}
	return s
}

// render styles one line of the screen; the filter being typed is the
// text input's.
func (s exploreStyles) render(l report.Line, filter textinput.Model) string {
	switch l.Kind {
	case report.TitleLine:
		return s.title.Render(l.Text)
	case report.DimLine:
		return s.dim.Render(l.Text)
	case report.EntryLine:
		return s.entry[l.Share].Render(l.Text)
	case report.SelectedLine:
		return s.selected[l.Share].Render(l.Text)
	case report.FilterLine:
		return filter.View()
	}
	return s.text.Render(l.Text)
}

// runExplorer runs the explorer on the terminal of stdin and stdout, in the
// alternate screen with the mouse on, until the user quits or a signal
// (SIGINT, SIGTERM, SIGHUP) asks podprof to stop; the terminal is
// restored in every case.
func runExplorer(e *report.Explorer, stdin, stdout *os.File) error {
	// The first frame at the terminal's size, not at the Explorer's
	// default until bubbletea's first WindowSizeMsg.
	if width, height, err := term.GetSize(int(stdout.Fd())); err == nil {
		e.SetSize(width, height)
	}
	p := tea.NewProgram(newExploreTUI(e, lipgloss.NewRenderer(stdout)),
		tea.WithInput(stdin), tea.WithOutput(stdout), tea.WithAltScreen(), tea.WithMouseCellMotion())
	// Bubbletea handles SIGINT and SIGTERM, not the hangup of the terminal.
	hangup := make(chan os.Signal, 1)
	signal.Notify(hangup, syscall.SIGHUP)
	defer signal.Stop(hangup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-hangup:
			p.Quit()
		case <-done:
		}
	}()
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrInterrupted) {
		return err
	}
	return nil
}

// exploreKeysText is the explorer's keys for --help.
func exploreKeysText() string {
	return "Keys:\n" + strings.Join(report.ExplorerHelp(), "\n") + "\n" +
		"Colours go from red (nothing used) to green (all used); NO_COLOR turns them off.\n" +
		"When stdin or stdout is not a terminal, the tree is printed once instead.\n"
}
