package tracerd

import (
	"bufio"
	"strings"
	"testing"
)

func TestSubordinateRangesHold(t *testing.T) {
	const subuid = `podprof-rootless-a:100000:65536
1002:165536:65536
broken line
podprof-rootless-c:x:10
`
	for _, c := range []struct {
		name        string
		client, uid uint32
		want        bool
	}{
		{"podprof-rootless-a", 1001, 100000, true},
		{"podprof-rootless-a", 1001, 165535, true},
		{"podprof-rootless-a", 1001, 165536, false}, // the next user's
		{"podprof-rootless-a", 1001, 99999, false},
		{"podprof-rootless-b", 1002, 165536, true}, // by uid
		{"", 1002, 200000, true},                   // no name: by uid still
		{"podprof-rootless-b", 1002, 100000, false},
		{"podprof-rootless-c", 1003, 10, false}, // unparsable range
		{"nobody", 65534, 100000, false},
	} {
		got := subordinateRangesHold(bufio.NewScanner(strings.NewReader(subuid)), c.name, c.client, c.uid)
		if got != c.want {
			t.Errorf("%s (%d), uid %d: %v, want %v", c.name, c.client, c.uid, got, c.want)
		}
	}
}
