package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func writeTree(t *testing.T, u *Usage, opts TreeOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := u.WriteTree(&out, opts); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWriteTree(t *testing.T) {
	u := Join(treeImage(t), treeProfile())
	got := writeTree(t, u, TreeOptions{Depth: 10})
	want := `podprof: localhost/tree:1 (0123456789ab), traced with lsm
   SIZE   USED   USED%  USED/FILES  NAME (* used)
2.95 kB  150 B    5.1%         4/7  * /
   2 kB    0 B    0.0%         0/1    ├── opt/
   2 kB    0 B    0.0%         0/1    │   └── app/
   2 kB    0 B    0.0%         0/1    │       └── big
  900 B  100 B   11.1%         2/4  * ├── usr/
  800 B    0 B    0.0%         0/2    │   ├── share/
  800 B    0 B    0.0%         0/2    │   │   └── doc/
  500 B    0 B    0.0%         0/1    │   │       ├── a
  300 B    0 B    0.0%         0/1    │   │       └── b
  100 B  100 B  100.0%         2/2  * │   └── bin/
  100 B  100 B  100.0%         1/1  * │       ├── dash
    0 B    0 B       -         1/1  * │       ├── sh -> dash
    0 B    0 B       -         0/0  * │       └── zz (hard link, counted as /usr/bin/dash)
   50 B   50 B  100.0%         1/1  * ├── etc/
   50 B   50 B  100.0%         1/1  * │   └── passwd
    0 B    0 B       -         1/1  * ├── bin -> usr/bin
    0 B    0 B       -         0/0    └── empty/
`
	if got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
}

// treeLineName finds the name in a line of the tree.
var treeLineName = regexp.MustCompile(`\d+/\d+  [* ] (?:[│ ]   )*(?:[├└]── )?(.*)$`)

func TestWriteTreeDepth(t *testing.T) {
	u := Join(treeImage(t), treeProfile())
	for _, c := range []struct {
		depth int
		want  []string // the names, in order
	}{
		{0, []string{"/"}},
		{1, []string{"/", "opt/", "usr/", "etc/", "bin -> usr/bin", "empty/"}},
		{2, []string{"/", "opt/", "app/", "usr/", "share/", "bin/", "etc/", "passwd", "bin -> usr/bin", "empty/"}},
	} {
		var got []string
		lines := strings.Split(strings.TrimSuffix(writeTree(t, u, TreeOptions{Depth: c.depth}), "\n"), "\n")
		for _, line := range lines[2:] {
			m := treeLineName.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unexpected tree line %q", line)
			}
			got = append(got, m[1])
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("depth %d lists %q, want %q", c.depth, got, c.want)
		}
	}
	// A directory at the last level still counts everything below it.
	if !strings.Contains(writeTree(t, u, TreeOptions{Depth: 1}), "  900 B  100 B   11.1%         2/4  * ├── usr/\n") {
		t.Errorf("depth 1 does not show /usr's totals")
	}
}

func TestWriteTreeByNameUnusedOnly(t *testing.T) {
	u := Join(treeImage(t), treeProfile())
	got := writeTree(t, u, TreeOptions{Depth: 10, ListOptions: ListOptions{Order: ByName, UnusedOnly: true}})
	want := `podprof: localhost/tree:1 (0123456789ab), traced with lsm
   SIZE   USED  USED%  USED/FILES  NAME (* used)
2.95 kB  150 B   5.1%         4/7  * /
   2 kB    0 B   0.0%         0/1    ├── opt/
   2 kB    0 B   0.0%         0/1    │   └── app/
   2 kB    0 B   0.0%         0/1    │       └── big
  900 B  100 B  11.1%         2/4  * └── usr/
  800 B    0 B   0.0%         0/2        └── share/
  800 B    0 B   0.0%         0/2            └── doc/
  500 B    0 B   0.0%         0/1                ├── a
  300 B    0 B   0.0%         0/1                └── b
`
	if got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
}

// hostileImage has names that would rewrite a terminal, forge lines or are
// not UTF-8.
func hostileImage(t *testing.T) *Image {
	return buildOrFail(t, layerOf(t, "l",
		file("d/\x1b[2J\x1b]0;pwned\x07", 10),
		file("d/new\nline", 20),
		file("d/bad\xff\xfe", 30),
		symlink("d/link", "\x1b[31mred"),
		file("d/\u202eexe.txt", 40),
		file("d/ünï", 50),
	))
}

func TestWriteTreeEscapesNames(t *testing.T) {
	u := Join(hostileImage(t), &Profile{Files: []File{{Path: "/d/new\nline"}}})
	got := writeTree(t, u, TreeOptions{Depth: 5})
	if strings.ContainsAny(got, "\x1b\x07\u202e") || !utf8.ValidString(got) {
		t.Errorf("raw control, format or invalid bytes in the tree:\n%q", got)
	}
	for _, want := range []string{
		` "\x1b[2J\x1b]0;pwned\a"` + "\n",
		` "new\nline"` + "\n",
		` "bad\xff\xfe"` + "\n",
		` link -> "\x1b[31mred"` + "\n",
		` "\u202eexe.txt"` + "\n",
		" ünï\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("tree lacks %q:\n%s", want, got)
		}
	}
	// One line per entry: 2 header lines, /, d/ and its 6 entries.
	if n := strings.Count(got, "\n"); n != 10 {
		t.Errorf("%d lines, want 10:\n%s", n, got)
	}
}
