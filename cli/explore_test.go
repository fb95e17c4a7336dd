package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/podprof/podprof/report"
)

func TestKeyDecoder(t *testing.T) {
	act := func(a report.Action) key { return key{action: a} }
	quit := key{quit: true}
	for _, c := range []struct {
		name  string
		input []string // successive reads
		want  []key
	}{
		{"letters", []string{"jjkhlgGsub "}, []key{act(report.MoveDown), act(report.MoveDown), act(report.MoveUp), act(report.Back), act(report.Open), act(report.MoveFirst), act(report.MoveLast), act(report.ToggleOrder), act(report.ToggleUnused), act(report.PageUp), act(report.PageDown)}},
		{"arrows, normal mode", []string{"\x1b[A\x1b[B\x1b[C\x1b[D"}, []key{act(report.MoveUp), act(report.MoveDown), act(report.Open), act(report.Back)}},
		{"arrows, application mode", []string{"\x1bOA\x1bOB\x1bOC\x1bOD"}, []key{act(report.MoveUp), act(report.MoveDown), act(report.Open), act(report.Back)}},
		{"pages, home, end", []string{"\x1b[5~\x1b[6~\x1b[H\x1b[1~\x1b[F\x1b[4~"}, []key{act(report.PageUp), act(report.PageDown), act(report.MoveFirst), act(report.MoveFirst), act(report.MoveLast), act(report.MoveLast)}},
		{"enter, backspace", []string{"\r\x7f\x08"}, []key{act(report.Open), act(report.Back), act(report.Back)}},
		{"quit", []string{"q"}, []key{quit}},
		{"ctrl-c", []string{"\x03"}, []key{quit}},
		{"sequence split between reads", []string{"j\x1b[", "5", "~k"}, []key{act(report.MoveDown), act(report.PageUp), act(report.MoveUp)}},
		{"unknown keys and sequences skipped", []string{"xyz\x1b[15~\x1b[1;5A\x1bxj"}, []key{act(report.MoveDown)}},
		{"lone escape", []string{"\x1b", "j"}, []key{act(report.MoveDown)}},
		{"runaway sequence dropped", []string{"\x1b[" + strings.Repeat("1", 40), "j"}, []key{act(report.MoveDown)}},
	} {
		var d keyDecoder
		var got []key
		for _, in := range c.input {
			got = append(got, d.feed([]byte(in))...)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFrame(t *testing.T) {
	got := frame([]string{"a", "", "c"})
	if want := "\x1b[Ha\x1b[K\r\n\x1b[K\r\nc\x1b[K\x1b[J"; got != want {
		t.Errorf("frame = %q, want %q", got, want)
	}
}

func TestExploreErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"podprof-no-such-container"}, "Error: no profile of container podprof-no-such-container in " + DefaultProfileDir},
		{[]string{"--depth", "-2", "p.json"}, "Error: invalid --depth -2: give 0 or more levels"},
		{[]string{"--no-such-flag"}, "Error: unknown flag: --no-such-flag"},
	} {
		if code, _, stderr := podprof(append([]string{"explore"}, c.args...)...); code != 125 || !strings.HasPrefix(stderr.String(), c.want) {
			t.Errorf("explore %q: exit %d, stderr %q; want 125 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

func FuzzKeyDecoder(f *testing.F) {
	f.Add([]byte("jk\x1b[A\x1bOB\x1b[5~q"), []byte("\x1b["))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var d keyDecoder
		d.feed(a)
		d.feed(b)
		if len(d.pending) > maxPendingEscape {
			t.Fatalf("%d bytes pending", len(d.pending))
		}
	})
}
