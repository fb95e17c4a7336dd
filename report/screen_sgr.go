package report

// Screen is Lines with SGR codes, for cli/explore.go's raw terminal until
// it moves to bubbletea (issue 16); it goes then.
func (e *Explorer) Screen(color bool) []string {
	colors := map[ShareLevel]string{NoShare: "\x1b[38;5;244m", NothingUsed: "\x1b[38;5;196m", UsedBelow25: "\x1b[38;5;202m",
		UsedBelow50: "\x1b[38;5;214m", UsedBelow75: "\x1b[38;5;226m", UsedBelow100: "\x1b[38;5;154m", AllUsed: "\x1b[38;5;46m"}
	var out []string
	for _, l := range e.Lines() {
		codes := ""
		switch l.Kind {
		case TitleLine:
			codes = "\x1b[1m"
		case DimLine:
			codes = "\x1b[2m"
		case EntryLine, SelectedLine:
			if color {
				codes = colors[l.Share]
			}
			if l.Kind == SelectedLine {
				codes += "\x1b[7m"
			}
		}
		if codes != "" {
			l.Text = codes + l.Text + "\x1b[0m"
		}
		out = append(out, l.Text)
	}
	return out
}
