package run

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podprof/podprof/report"
)

// tmuxPane runs one command in a tmux server of its own, in a detached
// session of a fixed size, so that tests see the screen a user would.
type tmuxPane struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, width, height int, command string) *tmuxPane {
	t.Helper()
	p := &tmuxPane{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	p.tmux("new-session", "-d", "-s", "explore", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), command)
	t.Cleanup(func() { exec.Command("tmux", "-S", p.socket, "kill-server").Run() })
	return p
}

func (p *tmuxPane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", p.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (p *tmuxPane) keys(keys ...string) {
	p.t.Helper()
	p.tmux(append([]string{"send-keys", "-t", "explore"}, keys...)...)
}

// screen is the pane's text, one string a line, trailing spaces cut.
func (p *tmuxPane) screen() []string {
	p.t.Helper()
	lines := strings.Split(strings.TrimSuffix(p.tmux("capture-pane", "-p", "-t", "explore"), "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return lines
}

// waitFor polls the screen until ok says it is what the test waits for.
func (p *tmuxPane) waitFor(what string, ok func(screen []string) bool) []string {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen := p.screen()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the screen never showed %s; it shows:\n%s", what, strings.Join(screen, "\n"))
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// selected returns the name of the entry marked ">", and its line.
func selected(screen []string) (name, line string) {
	for _, l := range screen {
		if strings.HasPrefix(l, ">") {
			m := regexp.MustCompile(`\d+/\d+ [* ] (.*)$`).FindStringSubmatch(l)
			if m != nil {
				return m[1], l
			}
		}
	}
	return "", ""
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// TestExploreInTmux drives the explorer in a real terminal on a real
// profile of the demo image: what a user sees after each key.
func TestExploreInTmux(t *testing.T) {
	requireRoot(t, "tmux", "bash")
	profile := demoProfile(t)
	pane := exploreInShell(t, 120, 40, "", profile)

	screen := pane.waitFor("the explorer at /", all(dirIs("/"), selectedIs("usr/")))
	if !regexp.MustCompile(`^podprof explore: localhost/podprof-demo/debian:bookworm \([0-9a-f]{12}\)  117 MB, 2\.\d% used$`).MatchString(screen[0]) {
		t.Errorf("title %q", screen[0])
	}
	if !regexp.MustCompile(`^/  117 MB, 2\.\d% used, \d\d of 5892 files used$`).MatchString(screen[1]) {
		t.Errorf("directory line %q", screen[1])
	}
	if len(screen) != 40 || screen[39] != "? help  / filter  s sort:size  u unused only:off  q quit" {
		t.Errorf("%d lines, help line %q", len(screen), screen[len(screen)-1])
	}
	if _, line := selected(screen); !regexp.MustCompile(`^>   112 MB   2\.\d% █░░░░░░░░░    \d\d/5273 \* usr/$`).MatchString(line) {
		t.Errorf("selected line %q", line)
	}
	t.Logf("at start:\n%s", strings.Join(screen, "\n"))

	// Enter opens /usr, biggest first; j and the arrows move, Enter opens.
	pane.keys("Enter")
	pane.waitFor("/usr with share/ selected", all(dirIs("/usr"), selectedIs("share/")))
	pane.keys("j")
	pane.waitFor("lib/ selected", selectedIs("lib/"))
	pane.keys("Right")
	pane.waitFor("/usr/lib", all(dirIs("/usr/lib"), selectedIs("x86_64-linux-gnu/")))
	pane.keys("Enter")
	screen = pane.waitFor("/usr/lib/x86_64-linux-gnu", dirIs("/usr/lib/x86_64-linux-gnu"))
	if !strings.Contains(strings.Join(screen, "\n"), " * libc.so.6\n") {
		t.Errorf("libc.so.6 is not shown as used:\n%s", strings.Join(screen, "\n"))
	}
	if !regexp.MustCompile(`^/usr/lib/x86_64-linux-gnu  38\.\d MB, \d\.\d% used, [1-9] of 10\d\d files used  \(1-35 of \d{3,}\)$`).MatchString(screen[1]) {
		t.Errorf("directory line %q", screen[1])
	}
	t.Logf("in /usr/lib/x86_64-linux-gnu:\n%s", strings.Join(screen, "\n"))

	// u hides what was used; s sorts by name.
	pane.keys("u")
	screen = pane.waitFor("unused only", func(s []string) bool { return strings.Contains(s[39], "u unused only:on") })
	if text := strings.Join(screen, "\n"); strings.Contains(text, "libc.so.6") || strings.Contains(text, " * ") {
		t.Errorf("unused only still shows used entries:\n%s", text)
	}
	pane.keys("s")
	screen = pane.waitFor("sorted by name", func(s []string) bool { return strings.Contains(s[39], "s sort:name") })
	var shown []string
	for _, l := range screen[3:38] {
		if m := regexp.MustCompile(`\d+/\d+   (\S+)`).FindStringSubmatch(l); m != nil {
			shown = append(shown, m[1])
		}
	}
	if len(shown) < 30 || !slices.IsSorted(shown) {
		t.Errorf("not sorted by name: %q", shown)
	}
	t.Logf("unused only, by name:\n%s", strings.Join(screen, "\n"))

	// Left goes back, to the directory left; G goes to the end.
	pane.keys("Left")
	pane.waitFor("/usr/lib with x86_64-linux-gnu/ selected", all(dirIs("/usr/lib"), selectedIs("x86_64-linux-gnu/")))
	pane.keys("BSpace")
	pane.waitFor("/usr with lib/ selected", all(dirIs("/usr"), selectedIs("lib/")))
	pane.keys("G")
	pane.waitFor("the last entry, by name", selectedIs("share/"))

	quitExplorer(pane, "q")
}

// reverseVideo is an SGR sequence that turns reverse video on, as tmux
// renders it: "\x1b[7m" or with other attributes, "\x1b[0;7m".
var reverseVideo = regexp.MustCompile(`\x1b\[(?:\d+;)*7m`)

// With stdout not a terminal, explore prints the tree once, as report
// --format tree does.
func TestExploreNotATerminal(t *testing.T) {
	profile := demoProfile(t)
	got := podprof(t, "explore", profile)
	if got.code != 0 {
		t.Fatalf("explore into a pipe: exit %d, stderr:\n%s", got.code, got.stderr)
	}
	want := podprof(t, "report", "--format", "tree", profile)
	if want.code != 0 || got.stdout != want.stdout {
		t.Errorf("explore into a pipe prints:\n%s\nreport --format tree prints:\n%s", got.stdout, want.stdout)
	}
	if got := podprof(t, "explore", "--depth", "1", profile); got.code != 0 || strings.Count(got.stdout, "\n") > 30 {
		t.Errorf("explore --depth 1 into a pipe: exit %d\n%s", got.code, got.stdout)
	}
}

// shellPrompt is the prompt of the shell exploreInShell starts.
const shellPrompt = "podprof-test$"

// exploreInShell starts an interactive bash in tmux, with job control as
// a user's, runs the real podprof explore on profile in it, and returns
// the pane once the explorer shows /. env is set for podprof.
func exploreInShell(t *testing.T, width, height int, env, profile string) *tmuxPane {
	t.Helper()
	// Without COLORTERM, whatever the test's environment, the pane's
	// terminal (tmux-256color) has 256 colours; without CI, as a user's
	// shell, since termenv takes any terminal for none under CI.
	pane := startTmux(t, width, height, "env -u COLORTERM -u CI PS1='"+shellPrompt+" ' bash --norc --noprofile")
	pane.waitFor("the shell's prompt", func(s []string) bool { return slices.Contains(s, shellPrompt) })
	pane.typeLine("env " + env + " " + shellQuote(podprofBin) + " explore " + shellQuote(profile))
	pane.waitFor("the explorer at /", func(s []string) bool { return len(s) > 1 && strings.HasPrefix(s[1], "/  ") })
	return pane
}

// typeLine types text and Enter.
func (p *tmuxPane) typeLine(text string) {
	p.t.Helper()
	p.tmux("send-keys", "-t", "explore", "-l", text)
	p.keys("Enter")
}

// quitExplorer quits the explorer started by exploreInShell with key, and
// checks that it leaves its screen and exits 0. (The shell prints the
// status afterwards: on ctrl-z, bash goes on with a command line's next
// command.)
func quitExplorer(p *tmuxPane, key string) {
	p.t.Helper()
	p.keys(key)
	screen := p.waitFor("the shell's prompt", func(s []string) bool { return len(s) > 0 && slices.Contains(s, shellPrompt) })
	if strings.Contains(strings.Join(screen, "\n"), "podprof explore:") {
		p.t.Errorf("the explorer's screen is still there after %s:\n%s", key, strings.Join(screen, "\n"))
	}
	p.typeLine(`echo "explore exited $?"`)
	p.waitFor("the explorer's exit", func(s []string) bool { return slices.Contains(s, "explore exited 0") })
}

func dirIs(dir string) func([]string) bool {
	return func(s []string) bool { return len(s) > 1 && strings.HasPrefix(s[1], dir+"  ") }
}

func selectedIs(name string) func([]string) bool {
	return func(s []string) bool { got, _ := selected(s); return got == name }
}

func all(conds ...func([]string) bool) func([]string) bool {
	return func(s []string) bool {
		for _, c := range conds {
			if !c(s) {
				return false
			}
		}
		return true
	}
}

func lastLineIs(text string) func([]string) bool {
	return func(s []string) bool { return len(s) > 0 && s[len(s)-1] == text }
}

// entryLine is an entry on the explorer's screen: SIZE, USED%, the bar,
// USED/FILES, * if used, and the name.
var entryLine = regexp.MustCompile(`^[> ] +[\d.]+ [kMGTP]?B +(?:[\d.]+%|-) [█░ ]{10} +\d+/\d+ [* ] (.*)$`)

// entryNames are the names of the entries on the screen.
func entryNames(screen []string) []string {
	var names []string
	for _, l := range screen {
		if m := entryLine.FindStringSubmatch(l); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// TestExploreInteractionsInTmux drives the real podprof explore in a real terminal,
// in an interactive shell, on a real profile of the demo image: the /
// filter, the ? help, the mouse, ctrl-z and fg, resizes, colours by the
// terminal's capability, and q.
func TestExploreInteractionsInTmux(t *testing.T) {
	requireRoot(t, "tmux", "bash")
	profile := demoProfile(t)
	const keyLine = "? help  / filter  s sort:size  u unused only:off  q quit"

	t.Run("filter", func(t *testing.T) {
		pane := exploreInShell(t, 120, 40, "", profile)
		pane.keys("Enter")
		pane.waitFor("/usr", dirIs("/usr"))
		// Typed, the filter narrows the names at each key, ignoring case.
		pane.keys("/", "L", "I")
		pane.keys("B")
		screen := pane.waitFor("/LIB typed", func(s []string) bool { return strings.HasPrefix(s[len(s)-1], "/LIB") })
		names := entryNames(screen)
		if len(names) == 0 || !slices.Contains(names, "lib/") {
			t.Errorf("/LIB shows %q", names)
		}
		for _, n := range names {
			if !strings.Contains(n, "lib") {
				t.Errorf("%q shown with the filter LIB:\n%s", n, strings.Join(screen, "\n"))
			}
		}
		// Enter keeps it and says so; Enter again opens lib/, without it.
		pane.waitFor("lib/ selected", selectedIs("lib/"))
		pane.keys("Enter")
		pane.waitFor("the filter kept", lastLineIs("? help  / filter:LIB  s sort:size  u unused only:off  q quit"))
		pane.keys("Enter")
		pane.waitFor("/usr/lib, unfiltered", all(dirIs("/usr/lib"), lastLineIs(keyLine)))
		// j and l are text in the filter, the arrows still move.
		pane.keys("/")
		pane.tmux("send-keys", "-t", "explore", "-l", "x86_64-linux-gnu")
		pane.waitFor("the filter typed", func(s []string) bool { return strings.HasPrefix(s[len(s)-1], "/x86_64-linux-gnu") })
		pane.keys("Enter", "Enter")
		screen = pane.waitFor("/usr/lib/x86_64-linux-gnu", all(dirIs("/usr/lib/x86_64-linux-gnu"), lastLineIs(keyLine)))
		unfiltered := entryNames(screen)
		pane.keys("/")
		pane.tmux("send-keys", "-t", "explore", "-l", "libc.so")
		screen = pane.waitFor("libc.so.6 alone", func(s []string) bool { return slices.Equal(entryNames(s), []string{"libc.so.6"}) })
		if _, line := selected(screen); !strings.HasSuffix(line, "* libc.so.6") {
			t.Errorf("the one entry left is not selected, or not used: %q", line)
		}
		pane.tmux("send-keys", "-t", "explore", "-l", "nothing")
		pane.waitFor("nothing matching", func(s []string) bool {
			return slices.Contains(s, "  (no name here contains libc.sonothing; esc clears the filter)")
		})
		// Esc clears it: all the entries are back.
		pane.keys("Escape")
		screen = pane.waitFor("the filter cleared", lastLineIs(keyLine))
		if got := entryNames(screen); !slices.Equal(got, unfiltered) {
			t.Errorf("after esc: %q\nbefore the filter: %q", got, unfiltered)
		}
		t.Logf("after the filter:\n%s", strings.Join(screen, "\n"))
	})

	t.Run("help", func(t *testing.T) {
		pane := exploreInShell(t, 120, 40, "", profile)
		pane.keys("j")
		pane.waitFor("the second entry", func(s []string) bool { name, _ := selected(s); return name != "usr/" && name != "" })
		before := pane.screen()
		pane.keys("?")
		screen := pane.waitFor("the help", func(s []string) bool { return slices.Contains(s, "Keys (? or esc closes this):") })
		text := strings.Join(screen, "\n")
		for _, want := range []string{"  / ", "filter the names shown", "  ctrl-z ", "suspend to the shell", "  q ctrl-c ", "Mouse: the wheel scrolls"} {
			if !strings.Contains(text, want) {
				t.Errorf("the help lacks %q:\n%s", want, text)
			}
		}
		t.Logf("the help:\n%s", text)
		// ? again: the screen as it was.
		pane.keys("?")
		after := pane.waitFor("the help gone", func(s []string) bool { return !slices.Contains(s, "Keys (? or esc closes this):") })
		if !slices.Equal(after, before) {
			t.Errorf("after the help:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		pane.keys("?")
		pane.waitFor("the help", func(s []string) bool { return slices.Contains(s, "Keys (? or esc closes this):") })
		pane.keys("Escape")
		pane.waitFor("the help closed by esc", func(s []string) bool { return slices.Equal(s, before) })
	})

	t.Run("suspend", func(t *testing.T) {
		pane := exploreInShell(t, 120, 40, "", profile)
		pane.keys("Enter", "j")
		before := pane.waitFor("/usr, lib/ selected", all(dirIs("/usr"), selectedIs("lib/")))
		// ctrl-z: the shell's prompt, on the normal screen, the explorer stopped.
		pane.keys("C-z")
		screen := pane.waitFor("the shell after ctrl-z", func(s []string) bool {
			return slices.ContainsFunc(s, func(l string) bool { return strings.Contains(l, "Stopped") }) && slices.Contains(s, shellPrompt)
		})
		if strings.Contains(strings.Join(screen, "\n"), "podprof explore:") {
			t.Errorf("the explorer's screen is still there after ctrl-z:\n%s", strings.Join(screen, "\n"))
		}
		pane.typeLine("jobs")
		pane.waitFor("the stopped job", func(s []string) bool {
			return slices.ContainsFunc(s, func(l string) bool { return strings.HasPrefix(l, "[1]+  Stopped") && strings.Contains(l, "explore") })
		})
		// fg: the explorer redrawn as it was, and it takes keys again.
		pane.typeLine("fg")
		after := pane.waitFor("the explorer back", all(dirIs("/usr"), selectedIs("lib/")))
		if !slices.Equal(after, before) {
			t.Errorf("after fg:\n%s\nbefore ctrl-z:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		pane.keys("Left")
		pane.waitFor("/ with usr/ selected", all(dirIs("/"), selectedIs("usr/")))
		// q: the shell again, the explorer gone, exit 0.
		quitExplorer(pane, "q")
	})

	t.Run("resize and mouse", func(t *testing.T) {
		pane := exploreInShell(t, 100, 30, "", profile)
		// To /usr/lib/x86_64-linux-gnu by filters, and 25 of its entries
		// on the screen.
		for _, dir := range []string{"usr", "lib", "x86_64-linux-gnu"} {
			pane.keys("/")
			pane.tmux("send-keys", "-t", "explore", "-l", dir)
			pane.waitFor(dir+"/ selected", selectedIs(dir+"/"))
			pane.keys("Enter", "Enter")
		}
		screen := pane.waitFor("/usr/lib/x86_64-linux-gnu", all(dirIs("/usr/lib/x86_64-linux-gnu"), lastLineIs(keyLine)))
		if !regexp.MustCompile(`  \(1-25 of \d{3,}\)$`).MatchString(screen[1]) {
			t.Fatalf("directory line %q", screen[1])
		}
		// The wheel (SGR mouse reports, as terminals send them) scrolls
		// three entries a step, the selection dragged along.
		wheelDown, wheelUp := "\x1b[<65;20;10M", "\x1b[<64;20;10M"
		pane.tmux("send-keys", "-t", "explore", "-l", wheelDown+wheelDown)
		screen = pane.waitFor("scrolled by 6", func(s []string) bool { return strings.Contains(s[1], "  (7-31 of ") })
		if name, line := selected(screen); line != screen[3] {
			t.Errorf("%s selected on %q, want the first line shown", name, line)
		}
		pane.tmux("send-keys", "-t", "explore", "-l", wheelUp)
		pane.waitFor("scrolled back by 3", func(s []string) bool { return strings.Contains(s[1], "  (4-28 of ") })
		// A click (press and release) on screen line 8 selects its entry.
		click := func(line int) {
			at := "0;30;" + strconv.Itoa(line)
			pane.tmux("send-keys", "-t", "explore", "-l", "\x1b[<"+at+"M\x1b[<"+at+"m")
		}
		click(8)
		screen = pane.waitFor("the clicked entry selected", func(s []string) bool { return strings.HasPrefix(s[7], ">") })
		clicked, _ := selected(screen)
		// resize resizes the window and waits for the explorer's screen
		// of that size: its title, its key line, no line wider. (What tmux
		// keeps of the old screen is cut without an ellipsis.)
		resize := func(width, height int) []string {
			t.Helper()
			pane.tmux("resize-window", "-t", "explore", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height))
			return pane.waitFor(fmt.Sprintf("a %d×%d screen", width, height), func(s []string) bool {
				if len(s) != height || !strings.HasPrefix(s[0], "podprof explore:") || !strings.HasPrefix(s[height-1], "? help  / filter") {
					return false
				}
				for _, l := range s {
					if w := report.DisplayWidth(l); w > width || w == width && !strings.HasSuffix(l, "…") && !strings.HasPrefix(l, ">") {
						return false
					}
				}
				return true
			})
		}
		// A larger window shows more entries and keeps the selection.
		screen = resize(150, 50)
		if name, _ := selected(screen); name != clicked || !strings.Contains(screen[1], "  (4-48 of ") {
			t.Errorf("after growing, %q selected (clicked %q), directory line %q", name, clicked, screen[1])
		}
		t.Logf("150×50:\n%s", strings.Join(screen, "\n"))
		// A smaller one cuts the lines to its width.
		screen = resize(50, 12)
		if name, _ := selected(screen); !strings.HasPrefix(clicked, strings.TrimSuffix(name, "…")) {
			t.Errorf("after shrinking, %q selected, want %q:\n%s", name, clicked, strings.Join(screen, "\n"))
		}
		t.Logf("50×12:\n%s", strings.Join(screen, "\n"))
		// A click on the selected entry opens it: the first, a directory.
		resize(120, 40)
		pane.keys("g")
		screen = pane.waitFor("the first entry selected", func(s []string) bool { return strings.HasPrefix(s[3], ">") })
		first, _ := selected(screen)
		if !strings.HasSuffix(first, "/") {
			t.Fatalf("the biggest entry %q is not a directory", first)
		}
		click(4)
		pane.waitFor("the clicked directory open", dirIs("/usr/lib/x86_64-linux-gnu/"+strings.TrimSuffix(first, "/")))
	})

	t.Run("colours", func(t *testing.T) {
		// An SGR sequence that sets a foreground colour, as tmux renders it.
		color := regexp.MustCompile(`\x1b\[(?:\d+;)*(?:3[0-7]|9[0-7]|38;5;\d+|38;2;\d+;\d+;\d+)m`)
		for _, c := range []struct {
			env           string
			want, notWant *regexp.Regexp
		}{
			{"TERM=tmux-256color", regexp.MustCompile(`\x1b\[(?:\d+;)*38;5;196m`), nil},
			// 16 colours: bright red, no 256-colour palette.
			{"TERM=xterm", regexp.MustCompile(`\x1b\[(?:\d+;)*91m`), regexp.MustCompile(`38;5;`)},
			{"NO_COLOR=1", reverseVideo, color},
			{"TERM=dumb", reverseVideo, color},
		} {
			pane := exploreInShell(t, 100, 30, c.env, profile)
			colored := pane.tmux("capture-pane", "-p", "-e", "-t", "explore")
			if !c.want.MatchString(colored) || (c.notWant != nil && c.notWant.MatchString(colored)) {
				t.Errorf("%s: want %s, not %v, in:\n%q", c.env, c.want, c.notWant, colored)
			}
			quitExplorer(pane, "C-c")
		}
	})
}
