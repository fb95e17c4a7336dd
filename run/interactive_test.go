package run

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmux drives podprof in a real terminal.
type tmux struct {
	t       *testing.T
	session string
}

func newTmux(t *testing.T, width, height int, command string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is missing: run contrib/setup.sh (make setup)")
	}
	tm := &tmux{t: t, session: fmt.Sprintf("podprof-test-%d", time.Now().UnixNano())}
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", tm.session,
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), command).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", tm.session).Run() })
	return tm
}

func (tm *tmux) send(keys ...string) {
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", tm.session}, keys...)...).CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys: %v %s", err, out)
	}
}

func (tm *tmux) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", tm.session).Output()
	return string(out)
}

// waitFor returns the screen once it shows text.
func (tm *tmux) waitFor(text string) string {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := tm.screen()
		if strings.Contains(s, text) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the terminal never showed %q; it shows:\n%s", text, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInteractiveTTY runs -it in a real terminal: the shell's prompt, a
// command typed, the terminal's size inside the container, a resize, the
// exit code, and the summary podprof prints on a terminal.
func TestInteractiveTTY(t *testing.T) {
	requireImage(t, busyboxImage)
	dir := t.TempDir()
	out := filepath.Join(dir, "p.json")
	codeFile := filepath.Join(dir, "code")
	name := fmt.Sprintf("podprof-tty-%d", time.Now().UnixNano())
	// A failing test kills the terminal, not the container: remove it.
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "0", name).Run() })
	tm := newTmux(t, 100, 30, fmt.Sprintf("%s run -it --rm --name %s --podprof-output=%s %s sh; echo $? > %s; sleep 60",
		podprofBin, name, out, busyboxImage, codeFile))
	tm.waitFor("/ #")
	tm.send("stty size; echo typed-$((40+2))", "Enter")
	tm.waitFor("typed-42")
	if s := tm.screen(); !strings.Contains(s, "30 100") {
		t.Errorf("the container's terminal is not 30x100:\n%s", s)
	}
	// A resize reaches the container asynchronously (SIGWINCH, then an
	// API call), as with podman: ask until the new size shows.
	exec.Command("tmux", "resize-window", "-t", tm.session, "-x", "90", "-y", "25").Run()
	for i := 0; !strings.Contains(tm.screen(), "25 90"); i++ {
		if i == 50 {
			t.Fatalf("the container never saw the terminal resized to 25x90:\n%s", tm.screen())
		}
		tm.send("clear; stty size", "Enter")
		time.Sleep(200 * time.Millisecond)
	}
	tm.send("exit 5", "Enter")
	s := tm.waitFor("podprof: " + busyboxImage)
	if !strings.Contains(s, "used") {
		t.Errorf("no summary after the run on a terminal:\n%s", s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, err := os.ReadFile(codeFile)
		if err == nil && strings.TrimSpace(string(code)) != "" {
			if strings.TrimSpace(string(code)) != "5" {
				t.Errorf("exit code %s, want 5", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("podprof did not exit")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := waitProfile(t, out); !hasPath(p, "/bin/busybox") {
		t.Errorf("the shell is missing from the profile")
	}
}
