package report

import (
	"slices"
	"testing"
)

// treeImage is a small two-layer image whose tree, per-layer numbers and
// explorer screens the tests below state exactly. treeProfile uses dash
// (and so its links and its second name) and /etc/passwd.
func treeImage(t *testing.T) *Image {
	base := layerOf(t, "sha256:aaaaaaaaaaaaaaaa",
		file("usr/bin/dash", 100),
		symlink("usr/bin/sh", "dash"),
		file("usr/share/doc/a", 500),
		file("usr/share/doc/b", 300),
		file("etc/passwd", 50),
		symlink("bin", "usr/bin"),
		dir("empty"),
	)
	base.CreatedBy = "/bin/sh -c #(nop) ADD file:abc in /"
	top := layerOf(t, "sha256:bbbbbbbbbbbbbbbb",
		file("opt/app/big", 2000),
		hardlink("usr/bin/zz", "usr/bin/dash"),
	)
	top.CreatedBy = "RUN make \x1b[31mred\xff"
	return buildOrFail(t, base, top)
}

func treeProfile() *Profile {
	return &Profile{
		Version: ProfileVersion,
		Image:   ImageRef{Name: "localhost/tree:1", ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		Tracer:  "lsm",
		Files:   []File{{Path: "/etc/passwd", Read: true}, {Path: "/usr/bin/dash", Exec: true}},
	}
}

func names(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Node.Name)
	}
	return out
}

func TestListOrdersAndFilters(t *testing.T) {
	img := treeImage(t)
	u := Join(img, treeProfile())
	for _, c := range []struct {
		dir  string
		opts ListOptions
		want []string
	}{
		// By size: bytes, then files (bin, a link, is one file; empty/ none), then name.
		{"/", ListOptions{}, []string{"opt", "usr", "etc", "bin", "empty"}},
		{"/", ListOptions{Order: ByName}, []string{"bin", "empty", "etc", "opt", "usr"}},
		// Only what holds an unused file: opt/app/big, usr/share/doc.
		{"/", ListOptions{UnusedOnly: true}, []string{"opt", "usr"}},
		{"/usr", ListOptions{UnusedOnly: true, Order: ByName}, []string{"share"}},
		{"/usr/bin", ListOptions{}, []string{"dash", "sh", "zz"}},
		{"/usr/bin", ListOptions{UnusedOnly: true}, nil},
	} {
		if got := names(u.List(img.Lookup(c.dir), c.opts)); !slices.Equal(got, c.want) {
			t.Errorf("List(%s, %+v) = %q, want %q", c.dir, c.opts, got, c.want)
		}
	}
	if u.List(img.Lookup("/etc/passwd"), ListOptions{}) != nil || u.List(nil, ListOptions{}) != nil {
		t.Errorf("List of a file or of nil is not nil")
	}
}

func TestEntryCounts(t *testing.T) {
	img := treeImage(t)
	u := Join(img, treeProfile())
	for path, want := range map[string]Entry{
		"/":             {Total: Counts{2950, 7}, Used: Counts{150, 4}, InUse: true},
		"/usr":          {Total: Counts{900, 4}, Used: Counts{100, 2}, InUse: true},
		"/usr/bin/dash": {Total: Counts{100, 1}, Used: Counts{100, 1}, InUse: true},
		"/usr/bin/sh":   {Total: Counts{0, 1}, Used: Counts{0, 1}, InUse: true},
		"/usr/bin/zz":   {InUse: true, CountedAs: img.Lookup("/usr/bin/dash")},
		"/opt/app/big":  {Total: Counts{2000, 1}},
		"/empty":        {},
	} {
		want.Node = img.Lookup(path)
		if got := u.Entry(want.Node); got != want {
			t.Errorf("Entry(%s) = %+v, want %+v", path, got, want)
		}
	}
}

// The entries of every directory add up to the directory: the tree and
// the explorer never show numbers that disagree with each other.
func TestEntriesAddUpToTheirDirectory(t *testing.T) {
	for _, u := range []*Usage{Join(treeImage(t), treeProfile()), Join(usageImage(t), usageProfile())} {
		u.Image.Root.Walk(func(n *Node) bool {
			if n.Kind != Dir {
				return true
			}
			var sum Entry
			for _, e := range u.List(n, ListOptions{}) {
				sum.Total.Bytes += e.Total.Bytes
				sum.Total.Files += e.Total.Files
				sum.Used.Bytes += e.Used.Bytes
				sum.Used.Files += e.Used.Files
			}
			if dir := u.Entry(n); sum.Total != dir.Total || sum.Used != dir.Used {
				t.Errorf("%s: entries add up to %+v/%+v, the directory has %+v/%+v", n.Path(), sum.Total, sum.Used, dir.Total, dir.Used)
			}
			return true
		})
	}
}

func TestEntryShare(t *testing.T) {
	for _, c := range []struct {
		e     Entry
		share float64
		ok    bool
	}{
		{Entry{Total: Counts{200, 2}, Used: Counts{50, 1}}, 0.25, true},
		{Entry{Total: Counts{0, 4}, Used: Counts{0, 1}}, 0.25, true}, // links only: by files
		{Entry{}, 0, false},
	} {
		if share, ok := c.e.Share(); share != c.share || ok != c.ok {
			t.Errorf("%+v.Share() = %v, %v; want %v, %v", c.e, share, ok, c.share, c.ok)
		}
	}
}
