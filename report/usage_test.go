package report

import (
	"slices"
	"testing"
)

// usageImage is a small two-layer system. The comments give each file's
// fate in usageProfile.
func usageImage(t *testing.T) *Image {
	base := layerOf(t, "base",
		file("usr/bin/dash", 100),                    // used
		symlink("usr/bin/sh", "dash"),                // used: leads to dash
		symlink("bin", "usr/bin"),                    // used: leads to a touched directory
		file("usr/lib/libc.so", 1000),                // used
		symlink("usr/lib/libc.so.6", "libc.so"),      // used
		symlink("lib64", "/usr/lib"),                 // used
		symlink("usr/lib/stale", "/usr/share/doc/a"), // unused: leads to an unused file
		file("usr/share/doc/a", 500),                 // unused
		file("usr/share/doc/b", 300),                 // unused
		file("usr/share/man/m", 200),                 // unused
		file("etc/hard1", 50),                        // used through its other name
		symlink("dangling", "/nowhere"),              // unused
		dir("var"),                                   // opened as a directory
	)
	top := layerOf(t, "top",
		hardlink("opt/hard2", "etc/hard1"),
		file("var/cache/x", 10),           // unused
		symlink("a/l", "/usr/bin/dash"),   // used
		symlink("b", "a"),                 // used, but only once a/l has touched /a
		file("srv/big", 2000),             // unused, under a directory with a used link
		symlink("srv/link", "/etc/hard1"), // used
	)
	return buildOrFail(t, base, top)
}

func usageProfile() *Profile {
	return &Profile{Version: ProfileVersion, Files: []File{
		{Path: "/dev/null"},
		{Path: "/opt/hard2", Read: true},
		{Path: "/proc/self/maps"},
		{Path: "/tmp/created", Write: true},
		{Path: "/usr/bin/dash", Exec: true},
		{Path: "/usr/lib/libc.so", Read: true},
		{Path: "/var"},
		{Path: "relative"},
	}}
}

func TestJoinCounts(t *testing.T) {
	img := usageImage(t)
	u := Join(img, usageProfile())

	// 7 regular files (hard1 once), 10 symbolic links.
	if want := (Counts{Bytes: 4160, Files: 17}); u.Total() != want {
		t.Errorf("total %+v, want %+v", u.Total(), want)
	}
	// dash, libc.so, hard1 and the links sh, bin, libc.so.6, lib64, a/l, b, srv/link.
	if want := (Counts{Bytes: 1150, Files: 10}); u.Used != want {
		t.Errorf("used %+v, want %+v", u.Used, want)
	}
	if want := (Counts{Bytes: 3010, Files: 7}); u.Unused() != want {
		t.Errorf("unused %+v, want %+v", u.Unused(), want)
	}
	if got, want := u.UsedPercent(), 100*1150.0/4160; got != want {
		t.Errorf("used percent %v, want %v", got, want)
	}
	var outside []string
	for _, f := range u.Outside {
		outside = append(outside, f.Path)
	}
	if want := []string{"/dev/null", "/proc/self/maps", "/tmp/created", "relative"}; !slices.Equal(outside, want) {
		t.Errorf("outside %q, want %q", outside, want)
	}
}

func TestJoinMarksNodes(t *testing.T) {
	img := usageImage(t)
	u := Join(img, usageProfile())
	for path, want := range map[string]bool{
		"/usr/bin/dash":      true,
		"/usr/bin/sh":        true,
		"/bin":               true,
		"/usr/lib/libc.so.6": true,
		"/lib64":             true,
		"/etc/hard1":         true, // its other name was opened
		"/opt/hard2":         true,
		"/a/l":               true,
		"/b":                 true,
		"/srv/link":          true,
		"/usr/lib/stale":     false,
		"/dangling":          false,
		"/usr/share/doc/a":   false,
		"/srv/big":           false,
		// Directories: touched or not.
		"/":          true,
		"/usr":       true,
		"/etc":       true,
		"/var":       true, // opened itself
		"/var/cache": false,
		"/usr/share": false,
		"/srv":       true,
	} {
		if got := u.IsUsed(img.Lookup(path)); got != want {
			t.Errorf("IsUsed(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestJoinRollups(t *testing.T) {
	img := usageImage(t)
	u := Join(img, usageProfile())
	for path, want := range map[string]DirUsage{
		"/":          {Total: Counts{4160, 17}, Used: Counts{1150, 10}, Touched: true},
		"/usr":       {Total: Counts{2100, 8}, Used: Counts{1100, 4}, Touched: true},
		"/usr/share": {Total: Counts{1000, 3}},
		"/etc":       {Total: Counts{50, 1}, Used: Counts{50, 1}, Touched: true},
		"/opt":       {Touched: true}, // hard2 is counted under its first name, /etc/hard1
		"/var":       {Total: Counts{10, 1}, Touched: true},
	} {
		du := u.Dir(img.Lookup(path))
		want.Node = img.Lookup(path)
		if *du != want {
			t.Errorf("Dir(%s) = %+v, want %+v", path, *du, want)
		}
	}
	if u.Dir(img.Lookup("/usr/bin/dash")) != nil {
		t.Errorf("Dir of a file is not nil")
	}
	layers := u.Layers()
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2", len(layers))
	}
	if got, want := layers[0], (LayerUsage{LayerInfo{ID: "base", Bytes: 2150, Files: 12}, Counts{1150, 7}}); got != want {
		t.Errorf("base layer %+v, want %+v", got, want)
	}
	if got, want := layers[1], (LayerUsage{LayerInfo{ID: "top", Bytes: 2010, Files: 5}, Counts{0, 3}}); got != want {
		t.Errorf("top layer %+v, want %+v", got, want)
	}
}

func TestLargestUnused(t *testing.T) {
	img := usageImage(t)
	u := Join(img, usageProfile())

	var dirs []string
	for _, d := range u.LargestUnusedDirs(10) {
		dirs = append(dirs, d.Node.Path())
	}
	// Topmost only: not /usr/share/doc. /srv is touched by its used link.
	if want := []string{"/usr/share", "/var/cache"}; !slices.Equal(dirs, want) {
		t.Errorf("largest unused dirs %q, want %q", dirs, want)
	}
	if got := u.LargestUnusedDirs(1); len(got) != 1 || got[0].Node.Path() != "/usr/share" {
		t.Errorf("LargestUnusedDirs(1) does not cut to the largest")
	}

	var files []string
	for _, f := range u.LargestUnusedFiles(4) {
		files = append(files, f.Path())
	}
	if want := []string{"/srv/big", "/usr/share/doc/a", "/usr/share/doc/b", "/usr/share/man/m"}; !slices.Equal(files, want) {
		t.Errorf("largest unused files %q, want %q", files, want)
	}
	if len(u.LargestUnusedFiles(-1)) != 0 || len(u.LargestUnusedDirs(0)) != 0 {
		t.Errorf("a limit of 0 or less must list nothing")
	}
}

func TestJoinFollowsUnresolvedProfilePaths(t *testing.T) {
	// A tracepoint tracer reports the path as the program gave it.
	img := usageImage(t)
	u := Join(img, &Profile{Files: []File{{Path: "/bin/sh"}, {Path: "/dangling"}, {Path: "/lib64/missing"}}})
	for _, path := range []string{"/bin", "/usr/bin/sh", "/usr/bin/dash", "/dangling"} {
		if !u.IsUsed(img.Lookup(path)) {
			t.Errorf("%s is not used after opening /bin/sh and /dangling", path)
		}
	}
	if u.IsUsed(img.Lookup("/lib64")) {
		t.Errorf("/lib64 is used, but the path through it led nowhere")
	}
	if len(u.Outside) != 1 || u.Outside[0].Path != "/lib64/missing" {
		t.Errorf("outside %v, want only /lib64/missing", u.Outside)
	}
}

func TestJoinEmptyProfileUsesNothing(t *testing.T) {
	img := usageImage(t)
	u := Join(img, &Profile{})
	if u.Used != (Counts{}) || len(u.Outside) != 0 {
		t.Errorf("used %+v, outside %d, want nothing", u.Used, len(u.Outside))
	}
	dirs := u.LargestUnusedDirs(10)
	if len(dirs) != 1 || dirs[0].Node != img.Root {
		t.Errorf("with nothing used the one topmost unused directory is /, got %d dirs", len(dirs))
	}
	if u.UsedPercent() != 0 {
		t.Errorf("used percent %v, want 0", u.UsedPercent())
	}
	if empty := Join(buildOrFail(t), &Profile{}); empty.UsedPercent() != 0 {
		t.Errorf("an empty image's used percent is %v, want 0", empty.UsedPercent())
	}
}
