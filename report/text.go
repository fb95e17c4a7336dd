package report

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Printable returns s as it can safely be shown on a terminal. Paths and
// process names come from inside the container: printed raw, an ESC sequence
// in a file name could rewrite the user's screen, and a newline could forge a
// line of the report. An ordinary name is returned as it is; any other is
// quoted the Go way ("a\x1b[2Jb", "x\n", "\xff"), which is unambiguous
// because the quote and the backslash themselves force quoting. A space
// forces it too, so that a name reads as one word and can be pasted.
func Printable(s string) string {
	if needsQuoting(s) {
		return strconv.Quote(s)
	}
	return s
}

func needsQuoting(s string) bool {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return true // an invalid byte, not a real U+FFFD
		case r == '"' || r == '\\' || r == ' ':
			return true // quoting would be ambiguous, or a trailing space invisible
		case !unicode.IsPrint(r):
			return true
		}
	}
	return false
}

// HumanBytes renders n with decimal units and three significant digits, as
// podman shows sizes: "512 B", "4.1 kB", "12.3 MB", "124 MB".
func HumanBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	value := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB", "PB"} {
		value /= 1000
		// From 999.5 on, three digits round to "1e+03": say "1 MB", not "1000 kB".
		if value < 999.5 {
			return strconv.FormatFloat(value, 'g', 3, 64) + " " + unit
		}
	}
	return strconv.FormatFloat(value/1000, 'g', 3, 64) + " EB"
}

// PrintableText is Printable for free text, such as the command that made
// a layer: spaces, quotes and backslashes stay as they are, so that an
// ordinary command reads as typed. Text with a control character, an
// invalid byte or any other rune that is not printable is Go-quoted whole,
// and so is text that starts with a quote, so that the two forms cannot be
// confused.
func PrintableText(s string) string {
	if strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	for i, r := range s {
		if (r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// PrintableError is err's message as it can safely be shown on a
// terminal, line by line (PrintableText): a library's error may carry a
// name from an image or a container raw (c/image's "open PATH: ..."),
// where podprof's own errors quote them (Printable).
func PrintableError(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, line := range lines {
		lines[i] = PrintableText(line)
	}
	return strings.Join(lines, "\n")
}

// runeWidth is how many terminal columns r takes: 2 for East Asian wide
// and full-width runes, 0 for combining marks and format characters, 1
// otherwise. Terminals differ on some runes (emoji, ambiguous widths);
// this is what most of them do.
func runeWidth(r rune) int {
	switch {
	case r < 0x20 || (r >= 0x7f && r < 0xa0):
		return 0
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// DisplayWidth is how many terminal columns s takes; s must hold no
// escape sequence (use Printable first).
func DisplayWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// FitWidth cuts s to at most w terminal columns, ending it with "…" when
// something was cut.
func FitWidth(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if DisplayWidth(s) <= w {
		return s
	}
	used := 0
	for i, r := range s {
		rw := runeWidth(r)
		if used+rw > w-1 { // keep a column for the ellipsis
			return s[:i] + "…"
		}
		used += rw
	}
	return s
}

// PadWidth fits s to w columns and pads it with spaces to exactly w.
func PadWidth(s string, w int) string {
	s = FitWidth(s, w)
	return s + strings.Repeat(" ", max(0, w-DisplayWidth(s)))
}
