package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/podprof/podprof/report"
)

func exploreCommand() *cobra.Command {
	var image string
	var depth int
	cmd := &cobra.Command{
		Use:   "explore [--image IMAGE] PROFILE...",
		Short: "browse the image's directories by share of bytes used",
		Long: "An interactive explorer of the image's tree, with what the profiles (merged by union)\n" +
			"used. When stdin or stdout is not a terminal it prints the tree once, as\n" +
			"podprof report --format tree.\n\n" + ProfileArgs + "\n\n" + exploreKeysHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if depth < 0 {
				return fmt.Errorf("invalid --depth %d: give 0 or more levels", depth)
			}
			paths, err := ProfilePaths(args)
			if err != nil {
				return err
			}
			u, err := LoadUsage(paths, image, nil)
			if err != nil {
				return err
			}
			stdout, isFile := cmd.OutOrStdout().(*os.File)
			if !isFile || !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(stdout.Fd())) {
				return u.WriteTree(cmd.OutOrStdout(), report.TreeOptions{Depth: depth})
			}
			return explore(report.NewExplorer(u), os.Stdin, stdout, useColor())
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "compare with `IMAGE` (default: the image the profiles ran)")
	cmd.Flags().IntVar(&depth, "depth", report.DefaultTreeDepth, "`N` levels of the tree printed when the output is not a terminal")
	completeImages(cmd, "image")
	return cmd
}

const exploreKeysHelp = `Keys:
  up, k / down, j                  select the previous / next entry
  page up, b / page down, space    a screenful up / down
  home, g / end, G                 the first / last entry
  right, l, enter                  open the directory (or where a link to one leads)
  left, h, backspace               back to the parent directory
  s                                sort by size / by name
  u                                show only entries with unused files / all
  q, ctrl-c                        quit
Colours go from red (nothing used) to green (all used); NO_COLOR turns them off.
When stdin or stdout is not a terminal, the tree is printed once instead.
`

// useColor follows https://no-color.org: NO_COLOR set and not empty turns
// colours off. A terminal that cannot place the cursor gets none either.
func useColor() bool {
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// Terminal control sequences (ECMA-48 and the xterm extensions every
// terminal emulator has).
const (
	enterAltScreen = "\x1b[?1049h"
	leaveAltScreen = "\x1b[?1049l"
	hideCursor     = "\x1b[?25l"
	showCursor     = "\x1b[?25h"
	cursorHome     = "\x1b[H"
	clearToEOL     = "\x1b[K"
	clearToEOS     = "\x1b[J"
)

// explore runs the explorer until the user quits, stdin closes, or a
// signal asks podprof to stop; the terminal is restored in every case.
func explore(e *report.Explorer, stdin, stdout *os.File, color bool) error {
	inFd, outFd := int(stdin.Fd()), int(stdout.Fd())
	saved, err := term.MakeRaw(inFd)
	if err != nil {
		return fmt.Errorf("setting up the terminal: %w", err)
	}
	defer term.Restore(inFd, saved)
	// Signals first, so that a resize or a kill between here and the loop
	// is not lost; raw mode makes ctrl-c a key, not SIGINT.
	resized := make(chan os.Signal, 1)
	signal.Notify(resized, syscall.SIGWINCH)
	defer signal.Stop(resized)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	defer signal.Stop(stop)

	if _, err := io.WriteString(stdout, enterAltScreen+hideCursor); err != nil {
		return err
	}
	defer io.WriteString(stdout, showCursor+leaveAltScreen)

	keys := make(chan []byte)
	go readKeys(stdin, keys)

	draw := func() error {
		if w, h, err := term.GetSize(outFd); err == nil {
			e.SetSize(w, h)
		}
		_, err := io.WriteString(stdout, frame(e.Screen(color)))
		return err
	}
	if err := draw(); err != nil {
		return err
	}
	var decoder keyDecoder
	for {
		select {
		case <-resized:
		case <-stop:
			return nil
		case input, ok := <-keys:
			if !ok {
				return nil // stdin closed: nobody left to type
			}
			for _, k := range decoder.feed(input) {
				if k.quit {
					return nil
				}
				e.Do(k.action)
			}
		}
		if err := draw(); err != nil {
			return err
		}
	}
}

// readKeys sends what the terminal gives, as it comes, and closes keys at
// the end of input.
func readKeys(stdin io.Reader, keys chan<- []byte) {
	defer close(keys)
	buf := make([]byte, 256)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			keys <- bytes.Clone(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// frame turns screen lines into one write that repaints the whole screen
// in place: no clearing first, so no flicker.
func frame(lines []string) string {
	var b strings.Builder
	b.WriteString(cursorHome)
	for i, line := range lines {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(line)
		b.WriteString(clearToEOL)
	}
	b.WriteString(clearToEOS)
	return b.String()
}

// A key is what one key press asks: an explorer action, or to quit.
type key struct {
	action report.Action
	quit   bool
}

// keyDecoder turns terminal input into keys. An escape sequence split
// between two reads is kept until its end arrives.
type keyDecoder struct {
	pending []byte
}

// Escape sequences of the keys the explorer knows, in both the normal
// (CSI) and application (SS3) cursor key modes.
var escapeKeys = map[string]key{
	"\x1b[A": {action: report.MoveUp}, "\x1bOA": {action: report.MoveUp},
	"\x1b[B": {action: report.MoveDown}, "\x1bOB": {action: report.MoveDown},
	"\x1b[C": {action: report.Open}, "\x1bOC": {action: report.Open},
	"\x1b[D": {action: report.Back}, "\x1bOD": {action: report.Back},
	"\x1b[5~": {action: report.PageUp}, "\x1b[6~": {action: report.PageDown},
	"\x1b[H": {action: report.MoveFirst}, "\x1bOH": {action: report.MoveFirst},
	"\x1b[1~": {action: report.MoveFirst}, "\x1b[7~": {action: report.MoveFirst},
	"\x1b[F": {action: report.MoveLast}, "\x1bOF": {action: report.MoveLast},
	"\x1b[4~": {action: report.MoveLast}, "\x1b[8~": {action: report.MoveLast},
}

// maxPendingEscape bounds the unfinished escape sequence kept between reads.
const maxPendingEscape = 16

var plainKeys = map[byte]key{
	'k': {action: report.MoveUp}, 'j': {action: report.MoveDown},
	'l': {action: report.Open}, '\r': {action: report.Open}, '\n': {action: report.Open},
	'h': {action: report.Back}, 0x7f: {action: report.Back}, 0x08: {action: report.Back},
	'b': {action: report.PageUp}, 0x02: {action: report.PageUp}, // ctrl-b
	' ': {action: report.PageDown}, 0x06: {action: report.PageDown}, // ctrl-f
	'g': {action: report.MoveFirst}, 'G': {action: report.MoveLast},
	's': {action: report.ToggleOrder}, 'u': {action: report.ToggleUnused},
	'q': {quit: true}, 'Q': {quit: true}, 0x03: {quit: true}, // ctrl-c
}

// feed decodes input, after what an earlier call left pending. Unknown
// keys and escape sequences are skipped.
func (d *keyDecoder) feed(input []byte) []key {
	buf := append(d.pending, input...)
	d.pending = nil
	var keys []key
	for len(buf) > 0 {
		if buf[0] != 0x1b {
			if k, ok := plainKeys[buf[0]]; ok {
				keys = append(keys, k)
			}
			buf = buf[1:]
			continue
		}
		n, complete := escapeLength(buf)
		if !complete {
			// A lone escape key does nothing; neither does a sequence
			// that grew too long to be one the explorer knows.
			if len(buf) > 1 && len(buf) <= maxPendingEscape {
				d.pending = bytes.Clone(buf)
			}
			return keys
		}
		if k, ok := escapeKeys[string(buf[:n])]; ok {
			keys = append(keys, k)
		}
		buf = buf[n:]
	}
	return keys
}

// escapeLength is the length of the escape sequence at the start of buf,
// which starts with ESC, and whether it is all there. CSI sequences end
// with a byte from 0x40 to 0x7e, SS3 ones after one byte; ESC with anything
// else is taken as two bytes (alt+key).
func escapeLength(buf []byte) (n int, complete bool) {
	if len(buf) < 2 {
		return len(buf), false
	}
	switch buf[1] {
	case '[':
		for i := 2; i < len(buf); i++ {
			if buf[i] >= 0x40 && buf[i] <= 0x7e {
				return i + 1, true
			}
		}
		return len(buf), false
	case 'O':
		if len(buf) < 3 {
			return len(buf), false
		}
		return 3, true
	}
	return 2, true
}
