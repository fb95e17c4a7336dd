package report

import (
	"errors"
	"testing"
)

func TestPrintableError(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"unknown flag: --x\nSee 'podprof report --help'", "unknown flag: --x\nSee 'podprof report --help'"},
		{"open /tmp/e\x1b[2J/a.tar: no such file", `"open /tmp/e\x1b[2J/a.tar: no such file"`},
		{`image "a b" not known`, `image "a b" not known`},
	} {
		if got := PrintableError(errors.New(c.in)); got != c.want {
			t.Errorf("PrintableError(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
