package run

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podprof/podprof/cli"
	"github.com/podprof/podprof/report"
)

// In the end-to-end tests, tmux runs this test binary as `podprof explore`:
// with PODPROF_TEST_EXPLORE=1 it is podprof explore with the binary's
// arguments, before any test machinery starts.
func init() {
	if os.Getenv("PODPROF_TEST_EXPLORE") == "1" {
		os.Exit(cli.Main(append([]string{"explore"}, os.Args[1:]...), os.Stdout, os.Stderr))
	}
}

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

// exploreCommand is the shell command that runs the explorer on profile in
// tmux, then says how it exited and stays, so that the test can see the
// terminal after it.
func exploreCommand(t *testing.T, env string, args ...string) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	quoted := []string{"env", "PODPROF_TEST_EXPLORE=1"}
	if env != "" {
		quoted = append(quoted, env)
	}
	for _, a := range append([]string{self}, args...) {
		quoted = append(quoted, shellQuote(a))
	}
	return strings.Join(quoted, " ") + `; echo "explore exited $?"; sleep 600`
}

// TestExploreInTmux drives the explorer in a real terminal on a real
// profile of the demo image: what a user sees after each key.
func TestExploreInTmux(t *testing.T) {
	requireRoot(t, "tmux")
	profile := demoProfile(t)
	pane := startTmux(t, 120, 40, exploreCommand(t, "", profile))
	dirIs := func(dir string) func([]string) bool {
		return func(s []string) bool { return len(s) > 1 && strings.HasPrefix(s[1], dir+"  ") }
	}
	selectedIs := func(name string) func([]string) bool {
		return func(s []string) bool { got, _ := selected(s); return got == name }
	}
	both := func(a, b func([]string) bool) func([]string) bool {
		return func(s []string) bool { return a(s) && b(s) }
	}

	screen := pane.waitFor("the explorer at /", both(dirIs("/"), selectedIs("usr/")))
	if !regexp.MustCompile(`^podprof explore: localhost/podprof-demo/debian:bookworm \([0-9a-f]{12}\)  117 MB, 2\.\d% used$`).MatchString(screen[0]) {
		t.Errorf("title %q", screen[0])
	}
	if !regexp.MustCompile(`^/  117 MB, 2\.\d% used, \d\d of 5892 files used$`).MatchString(screen[1]) {
		t.Errorf("directory line %q", screen[1])
	}
	if len(screen) != 40 || screen[39] != "q quit  ↑↓/jk move  →/enter open  ←/bksp back  s sort:size  u unused only:off" {
		t.Errorf("%d lines, help line %q", len(screen), screen[len(screen)-1])
	}
	if _, line := selected(screen); !regexp.MustCompile(`^>   112 MB   2\.\d% █░░░░░░░░░    \d\d/5273 \* usr/$`).MatchString(line) {
		t.Errorf("selected line %q", line)
	}
	t.Logf("at start:\n%s", strings.Join(screen, "\n"))

	// Enter opens /usr, biggest first; j and the arrows move, Enter opens.
	pane.keys("Enter")
	pane.waitFor("/usr with share/ selected", both(dirIs("/usr"), selectedIs("share/")))
	pane.keys("j")
	pane.waitFor("lib/ selected", selectedIs("lib/"))
	pane.keys("Right")
	pane.waitFor("/usr/lib", both(dirIs("/usr/lib"), selectedIs("x86_64-linux-gnu/")))
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
	screen = pane.waitFor("unused only", func(s []string) bool { return strings.HasSuffix(s[39], "u unused only:on") })
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
	pane.waitFor("/usr/lib with x86_64-linux-gnu/ selected", both(dirIs("/usr/lib"), selectedIs("x86_64-linux-gnu/")))
	pane.keys("BSpace")
	pane.waitFor("/usr with lib/ selected", both(dirIs("/usr"), selectedIs("lib/")))
	pane.keys("G")
	pane.waitFor("the last entry, by name", selectedIs("share/"))

	// Colours: red for unused entries, the selection in reverse video.
	colored := pane.tmux("capture-pane", "-p", "-e", "-t", "explore")
	if !strings.Contains(colored, "38;5;196") || !reverseVideo.MatchString(colored) {
		t.Errorf("no red entry or no reverse video in:\n%q", colored)
	}

	// A resize redraws for the new size.
	pane.tmux("resize-window", "-t", "explore", "-x", "70", "-y", "15")
	screen = pane.waitFor("a 70×15 screen", func(s []string) bool { return len(s) == 15 && strings.HasPrefix(s[14], "q quit") })
	for _, l := range screen {
		if report.DisplayWidth(l) > 70 {
			t.Errorf("line wider than 70 after the resize: %q", l)
		}
	}
	if name, _ := selected(screen); name != "share/" {
		t.Errorf("after the resize %q is selected, want share/:\n%s", name, strings.Join(screen, "\n"))
	}
	t.Logf("after resizing to 70×15:\n%s", strings.Join(screen, "\n"))

	// q quits, leaves the alternate screen and exits 0.
	pane.keys("q")
	screen = pane.waitFor("the explorer's exit", func(s []string) bool { return slices.Contains(s, "explore exited 0") })
	if strings.Contains(strings.Join(screen, "\n"), "podprof explore") {
		t.Errorf("the explorer's screen is still there after q:\n%s", strings.Join(screen, "\n"))
	}
}

// reverseVideo is an SGR sequence that turns reverse video on, as tmux
// renders it: "\x1b[7m" or with other attributes, "\x1b[0;7m".
var reverseVideo = regexp.MustCompile(`\x1b\[(?:\d+;)*7m`)

// NO_COLOR turns colours off, not the selection's reverse video.
func TestExploreNoColor(t *testing.T) {
	requireRoot(t, "tmux")
	profile := demoProfile(t)
	pane := startTmux(t, 100, 30, exploreCommand(t, "NO_COLOR=1", profile))
	pane.waitFor("the explorer", func(s []string) bool { name, _ := selected(s); return name == "usr/" })
	colored := pane.tmux("capture-pane", "-p", "-e", "-t", "explore")
	if strings.Contains(colored, "38;5;") || !reverseVideo.MatchString(colored) {
		t.Errorf("colours with NO_COLOR, or no reverse video:\n%q", colored)
	}
	pane.keys("C-c")
	pane.waitFor("the explorer's exit", func(s []string) bool { return slices.Contains(s, "explore exited 0") })
}

// With stdout not a terminal, explore prints the tree once, as report
// --format tree does.
func TestExploreNotATerminal(t *testing.T) {
	profile := demoProfile(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, profile)
	cmd.Env = append(os.Environ(), "PODPROF_TEST_EXPLORE=1")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("explore into a pipe: %v", err)
	}
	want := podprof(t, "report", "--format", "tree", profile)
	if want.code != 0 || string(got) != want.stdout {
		t.Errorf("explore into a pipe prints:\n%s\nreport --format tree prints:\n%s", got, want.stdout)
	}
	cmd = exec.Command(self, "--depth", "1", profile)
	cmd.Env = append(os.Environ(), "PODPROF_TEST_EXPLORE=1")
	if got, err := cmd.Output(); err != nil || strings.Count(string(got), "\n") > 30 {
		t.Errorf("explore --depth 1 into a pipe: %v\n%s", err, got)
	}
}
