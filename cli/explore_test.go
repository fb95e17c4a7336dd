package cli

import (
	"strings"
	"testing"
)

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
