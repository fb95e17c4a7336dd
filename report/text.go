package report

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
