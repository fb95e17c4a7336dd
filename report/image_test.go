package report

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// Shorthands for the tar entries the tests build layers from.
func dir(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
func file(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644}
}
func symlink(name, target string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
}
func hardlink(name, target string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}
}
func fifo(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeFifo, Mode: 0o644}
}

// tarBytes writes entries as a real tar stream, with contents, so that the
// tests go through archive/tar's parsing of names and sizes.
func tarBytes(t testing.TB, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, hdr := range entries {
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing tar header %q: %v", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bytes.Repeat([]byte{'x'}, int(hdr.Size))); err != nil {
				t.Fatalf("writing tar content %q: %v", hdr.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("closing tar: %v", err)
	}
	return buf.Bytes()
}

func tarLayer(id string, data []byte) Layer {
	return Layer{ID: id, Open: func() (HeaderReader, io.Closer, error) {
		return tar.NewReader(bytes.NewReader(data)), io.NopCloser(nil), nil
	}}
}

func layerOf(t testing.TB, id string, entries ...*tar.Header) Layer {
	return tarLayer(id, tarBytes(t, entries...))
}

func buildOrFail(t *testing.T, layers ...Layer) *Image {
	t.Helper()
	img, err := BuildImage(layers)
	if err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	checkTreeInvariants(t, img)
	return img
}

// listing renders the tree one node a line ("/a/b file 10"), the form the
// tests state expected trees in.
func listing(img *Image) []string {
	var lines []string
	img.Root.Walk(func(n *Node) bool {
		line := n.Path() + " " + n.Kind.String()
		switch n.Kind {
		case Regular:
			line += fmt.Sprintf(" %d", n.Size)
		case Symlink:
			line += " -> " + n.Target
		}
		lines = append(lines, line)
		return true
	})
	return lines
}

func expectListing(t *testing.T, img *Image, want ...string) {
	t.Helper()
	if got := listing(img); !slices.Equal(got, want) {
		t.Errorf("tree:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func expectTotals(t *testing.T, img *Image, bytes, files int64) {
	t.Helper()
	if img.Bytes != bytes || img.Files != files {
		t.Errorf("image has %d bytes in %d files, want %d bytes in %d files", img.Bytes, img.Files, bytes, files)
	}
}

// checkTreeInvariants verifies what every tree must satisfy whatever the
// layers were: parent links, sorted unique children, paths that look up to
// their node, and totals equal to a recount.
func checkTreeInvariants(t testing.TB, img *Image) {
	t.Helper()
	var bytes, files int64
	seen := map[*Inode]bool{}
	var layerBytes = make([]int64, len(img.Layers))
	img.Root.Walk(func(n *Node) bool {
		for i, c := range n.Children {
			if c.Parent != n {
				t.Fatalf("%q: child %q has another parent", n.Path(), c.Name)
			}
			if i > 0 && n.Children[i-1].Name >= c.Name {
				t.Fatalf("%q: children %q and %q out of order", n.Path(), n.Children[i-1].Name, c.Name)
			}
			if c.Name == "" || c.Name == "." || c.Name == ".." || strings.Contains(c.Name, "/") {
				t.Fatalf("%q: child with impossible name %q", n.Path(), c.Name)
			}
		}
		if n.Kind != Dir && len(n.Children) > 0 {
			t.Fatalf("%q: a %s with children", n.Path(), n.Kind)
		}
		if img.Lookup(n.Path()) != n {
			t.Fatalf("Lookup(%q) does not find its node", n.Path())
		}
		if n.Kind != Dir && !seen[n.Inode] {
			seen[n.Inode] = true
			bytes += n.Size
			files++
			layerBytes[n.Layer] += n.Size
		}
		return true
	})
	if bytes != img.Bytes || files != img.Files {
		t.Fatalf("image says %d bytes in %d files, recount says %d in %d", img.Bytes, img.Files, bytes, files)
	}
	for i, info := range img.Layers {
		if info.Bytes != layerBytes[i] {
			t.Fatalf("layer %d says %d bytes, recount says %d", i, info.Bytes, layerBytes[i])
		}
	}
}

func TestBuildImageNormalizesNames(t *testing.T) {
	img := buildOrFail(t, layerOf(t, "l1",
		dir("./"),
		dir("./a/"),
		file("a/b", 10),
		symlink("./a/c", "b"),
		file("/d/e", 3),       // no entry for /d: it is created
		file("../../up/f", 1), // ".." stops at the root
		file("g//h/./i", 2),
		fifo("a/pipe"),
	))
	expectListing(t, img,
		"/ dir",
		"/a dir",
		"/a/b file 10",
		"/a/c symlink -> b",
		"/a/pipe other",
		"/d dir",
		"/d/e file 3",
		"/g dir",
		"/g/h dir",
		"/g/h/i file 2",
		"/up dir",
		"/up/f file 1",
	)
	expectTotals(t, img, 16, 6)
}

func TestBuildImageKeepsRawNames(t *testing.T) {
	names := []string{"bad\xffname", "new\nline", "esc\x1b[2J", "tab\there", "ünï"}
	var entries []*tar.Header
	for _, name := range names {
		entries = append(entries, file("d/"+name, 1))
	}
	img := buildOrFail(t, layerOf(t, "l1", entries...))
	for _, name := range names {
		if n := img.Lookup("/d/" + name); n == nil || n.Name != name {
			t.Errorf("name %q did not survive", name)
		}
	}
}

func TestBuildImageLaterLayerReplaces(t *testing.T) {
	img := buildOrFail(t,
		layerOf(t, "l1", file("f", 10), file("x/y", 5), file("nd", 7), dir("d"), file("d/keep", 1)),
		layerOf(t, "l2",
			file("f", 20),   // file over file
			file("x", 3),    // file over directory: the subtree goes
			file("nd/z", 4), // directory (implied) over file
			dir("d"),        // directory over directory: they merge
			file("d/new", 2),
		),
	)
	expectListing(t, img,
		"/ dir",
		"/d dir",
		"/d/keep file 1",
		"/d/new file 2",
		"/f file 20",
		"/nd dir",
		"/nd/z file 4",
		"/x file 3",
	)
	expectTotals(t, img, 30, 5)
	if got := img.Layers[0].Bytes; got != 1 {
		t.Errorf("bottom layer contributes %d bytes, want 1 (only d/keep survives)", got)
	}
	if got := img.Layers[1].Bytes; got != 29 {
		t.Errorf("top layer contributes %d bytes, want 29", got)
	}
	if n := img.Lookup("/d"); n.Layer != 1 {
		t.Errorf("/d is credited to layer %d, want the last with an entry for it, 1", n.Layer)
	}
}

func TestBuildImageWhiteouts(t *testing.T) {
	lower := layerOf(t, "l1",
		file("a/x", 5), file("a/y", 7),
		dir("b"), file("b/z", 3),
		file("c/old", 11),
		file("s", 1), file("t", 1),
	)
	img := buildOrFail(t, lower, layerOf(t, "l2",
		file("a/.wh.x", 0),
		file(".wh.b", 0),          // deletes a whole subtree
		file("c/new", 13),         // the layer writes in c...
		file(".wh.c", 0),          // ...then whites c out: only the lower c goes
		file("s", 2),              // the layer writes s...
		file(".wh.s", 0),          // ...so the whiteout leaves it
		file(".wh.t", 0),          // whiteout first,
		file("t", 4),              // then a new t
		file(".wh.missing", 0),    // nothing to delete
		file("nodir/.wh.gone", 0), // nor here
		file("a/.wh.", 0),         // names nothing
	))
	expectListing(t, img,
		"/ dir",
		"/a dir",
		"/a/y file 7",
		"/c dir",
		"/c/new file 13",
		"/s file 2",
		"/t file 4",
	)
	expectTotals(t, img, 26, 4)
}

func TestBuildImageOpaqueDirectory(t *testing.T) {
	lower := layerOf(t, "l1", file("o/1", 1), file("o/sub/2", 2), file("other/3", 3))
	for _, order := range []string{"marker first", "marker last"} {
		t.Run(order, func(t *testing.T) {
			upper := []*tar.Header{dir("o"), file("o/4", 4), file("o/sub/5", 5)}
			marker := file("o/.wh..wh..opq", 0)
			if order == "marker first" {
				upper = slices.Insert(upper, 1, marker)
			} else {
				upper = append(upper, marker)
			}
			img := buildOrFail(t, lower, layerOf(t, "l2", upper...))
			expectListing(t, img,
				"/ dir",
				"/o dir",
				"/o/4 file 4",
				"/o/sub dir",
				"/o/sub/5 file 5",
				"/other dir",
				"/other/3 file 3",
			)
		})
	}
	t.Run("AUFS metadata", func(t *testing.T) {
		img := buildOrFail(t, lower, layerOf(t, "l2", file(".wh..wh.plnk/123", 9), file(".wh..wh.aufs", 0)))
		expectTotals(t, img, 6, 3)
	})
}

func TestBuildImageHardlinks(t *testing.T) {
	l1 := layerOf(t, "l1", file("h1", 100), hardlink("h2", "h1"), hardlink("./dir/h4", "./h1"))
	l2 := layerOf(t, "l2", hardlink("h3", "/h1")) // to a lower layer's file
	img := buildOrFail(t, l1, l2)
	expectTotals(t, img, 100, 1)
	h1, h3 := img.Lookup("/h1"), img.Lookup("/h3")
	if h1.Inode != h3.Inode || img.Lookup("/dir/h4").Inode != h1.Inode {
		t.Errorf("hard links do not share the inode")
	}
	if img.Layers[0].Bytes != 100 || img.Layers[1].Bytes != 0 {
		t.Errorf("layer bytes %d, %d: want the content credited to the layer that wrote it", img.Layers[0].Bytes, img.Layers[1].Bytes)
	}

	// Deleting a name keeps the file while another name has it.
	img = buildOrFail(t, l1, l2, layerOf(t, "l3", file(".wh.h1", 0)))
	expectTotals(t, img, 100, 1)

	// Rewriting one name breaks the link (copy-up), so two files remain.
	img = buildOrFail(t, l1, l2, layerOf(t, "l3", file("h2", 50)))
	expectTotals(t, img, 150, 2)

	// A hard link to a symbolic link is that same link.
	img = buildOrFail(t, layerOf(t, "l1", symlink("s", "target"), hardlink("s2", "s")))
	expectTotals(t, img, 0, 1)
}

func TestBuildImageCountsEveryNonDirectoryOnce(t *testing.T) {
	img := buildOrFail(t,
		layerOf(t, "l1", dir("d"), file("d/empty", 0), symlink("d/s", "empty"), fifo("d/p"), file("d/f", 9)),
	)
	expectTotals(t, img, 9, 4)
	if img.Layers[0].Files != 4 {
		t.Errorf("layer files %d, want 4", img.Layers[0].Files)
	}
}

// headerList is a HeaderReader over headers given directly, for entries
// archive/tar would not write.
type headerList []*tar.Header

func (h *headerList) Next() (*tar.Header, error) {
	if len(*h) == 0 {
		return nil, io.EOF
	}
	next := (*h)[0]
	*h = (*h)[1:]
	return next, nil
}

func listLayer(id string, headers ...*tar.Header) Layer {
	return Layer{ID: id, Open: func() (HeaderReader, io.Closer, error) {
		list := headerList(headers)
		return &list, io.NopCloser(nil), nil
	}}
}

func TestBuildImageErrorsNameTheLayer(t *testing.T) {
	good := layerOf(t, "good", file("a", 1), dir("d"))
	truncated := tarBytes(t, file("big", 2000))[:700]
	garbage := bytes.Repeat([]byte("not a tar "), 100)
	cases := []struct {
		name  string
		layer Layer
		want  string
	}{
		{"truncated tar", tarLayer("sha256:trunc", truncated), `layer 2 of 2 (sha256:trunc): reading tar headers: unexpected EOF`},
		{"not a tar", tarLayer("junk", garbage), `layer 2 of 2 (junk): reading tar headers: archive/tar: invalid tar header`},
		{"open fails", Layer{ID: "gone", Open: func() (HeaderReader, io.Closer, error) { return nil, nil, errors.New("no such layer") }}, `layer 2 of 2 (gone): no such layer`},
		{"hard link to nothing", layerOf(t, "hl", hardlink("x", "missing")), `layer 2 of 2 (hl): entry x: hard link to missing, which no layer up to this one has`},
		{"hard link to directory", layerOf(t, "hd", hardlink("x", "d")), `layer 2 of 2 (hd): entry x: hard link to directory d`},
		{"hard link to the root", layerOf(t, "hr", hardlink("x", "./")), `layer 2 of 2 (hr): entry x: hard link to ./, which no layer up to this one has`},
		{"root replaced", listLayer("root", file("/", 1)), `layer 2 of 2 (root): entry /: a layer cannot replace the root directory with a non-directory`},
		{"unknown type", listLayer("odd", &tar.Header{Name: "x", Typeflag: 'Z'}), `layer 2 of 2 (odd): entry x: unsupported tar entry type 'Z'`},
		{"evil layer id", tarLayer("id\x1b[2J", garbage), `layer 2 of 2 ("id\x1b[2J"): reading tar headers: archive/tar: invalid tar header`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildImage([]Layer{good, c.layer})
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v\nwant       %s", err, c.want)
			}
		})
	}
}

func TestBuildImageClosesEveryLayer(t *testing.T) {
	var closed []string
	closing := func(id string, data []byte) Layer {
		return Layer{ID: id, Open: func() (HeaderReader, io.Closer, error) {
			return tar.NewReader(bytes.NewReader(data)), closerFunc(func() error { closed = append(closed, id); return nil }), nil
		}}
	}
	_, err := BuildImage([]Layer{closing("a", tarBytes(t, file("x", 1))), closing("b", []byte("garbage, not a tar at all"))})
	if err == nil {
		t.Fatal("BuildImage accepted a corrupt layer")
	}
	if !slices.Equal(closed, []string{"a", "b"}) {
		t.Errorf("closed %v, want [a b]: a failing layer must be closed too", closed)
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func TestBuildImageNoLayers(t *testing.T) {
	img := buildOrFail(t)
	expectListing(t, img, "/ dir")
	expectTotals(t, img, 0, 0)
}

// resolveImage is a small merged-/usr system with every kind of link.
func resolveImage(t *testing.T) *Image {
	entries := []*tar.Header{
		symlink("bin", "usr/bin"),
		file("usr/bin/dash", 100),
		symlink("usr/bin/sh", "dash"),
		symlink("lib64", "/usr/lib64"),
		symlink("usr/lib64", "../usr/./lib"),
		file("usr/lib/ld.so", 200),
		symlink("loop1", "loop2"),
		symlink("loop2", "/loop1"),
		symlink("self", "./self"),
		symlink("dangling", "/nowhere"),
		symlink("empty", ""),
		symlink("up", "../../../usr"),
		symlink("chain/0", "/usr/bin/dash"),
	}
	// chain/n -> chain/n-1: resolving chain/n follows n+1 links.
	for i := 1; i <= maxSymlinkHops; i++ {
		entries = append(entries, symlink(fmt.Sprintf("chain/%d", i), fmt.Sprintf("%d", i-1)))
	}
	return buildOrFail(t, layerOf(t, "l1", entries...))
}

func TestResolve(t *testing.T) {
	img := resolveImage(t)
	cases := []struct {
		path string
		want string // the resolved path, or the error it wraps
	}{
		{"/bin/sh", "/usr/bin/dash"},
		{"/usr/bin/sh", "/usr/bin/dash"},
		{"/lib64/ld.so", "/usr/lib/ld.so"},
		{"/lib64", "/usr/lib"},
		{"/up/bin/sh", "/usr/bin/dash"},
		{"/../../bin/./sh", "/usr/bin/dash"},
		{"/usr/bin/../lib/ld.so", "/usr/lib/ld.so"},
		{"/bin/..", "/usr"}, // ".." is taken in the link's target, as the kernel does
		{"/", "/"},
		{"/chain/38", "/usr/bin/dash"}, // 39 links
		{"/chain/39", "/usr/bin/dash"}, // 40 links: the most allowed
		{"/chain/40", "too many levels of symbolic links"},
		{"/loop1", "too many levels of symbolic links"},
		{"/self", "too many levels of symbolic links"},
		{"/dangling", "file does not exist"},
		{"/empty", "file does not exist"},
		{"/usr/missing", "file does not exist"},
		{"/usr/bin/dash/x", "not a directory"},
		{"/bin/sh/", "/usr/bin/dash"},
	}
	for _, c := range cases {
		n, err := img.Resolve(c.path)
		got := ""
		if err != nil {
			got = errors.Unwrap(err).Error()
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrNotDir) && !errors.Is(err, ErrSymlinkLoop) {
				t.Errorf("Resolve(%q): error %v wraps none of the documented errors", c.path, err)
			}
		} else {
			got = n.Path()
		}
		if got != c.want {
			t.Errorf("Resolve(%q) = %s, want %s", c.path, got, c.want)
		}
	}
}

func TestResolveReportsFollowedLinks(t *testing.T) {
	img := resolveImage(t)
	var followed []string
	if _, err := img.resolve("/bin/sh", func(n *Node) { followed = append(followed, n.Path()) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin", "/usr/bin/sh"}; !slices.Equal(followed, want) {
		t.Errorf("followed %v, want %v", followed, want)
	}
}

func TestLookupDoesNotFollowLinks(t *testing.T) {
	img := resolveImage(t)
	if n := img.Lookup("/bin"); n == nil || n.Kind != Symlink {
		t.Errorf("Lookup(/bin) = %v, want the link itself", n)
	}
	if n := img.Lookup("/bin/sh"); n != nil {
		t.Errorf("Lookup(/bin/sh) = %s, want nil: Lookup must not go through links", n.Path())
	}
}

// FuzzBuildImage feeds arbitrary bytes as two layers. BuildImage may
// refuse them but must not panic, and any tree it returns must be sound
// and joinable.
func FuzzBuildImage(f *testing.F) {
	f.Add(tarBytes(f, file("a/x", 5), symlink("a/l", "x"), hardlink("h", "a/x")),
		tarBytes(f, file("a/.wh.x", 0), file("a/.wh..wh..opq", 0), symlink("b", "a/l")))
	f.Add(tarBytes(f, dir("d"), file("d/f", 3), symlink("loop", "loop")),
		tarBytes(f, file("d", 1), hardlink("g", "d"), file(".wh.loop", 0)))
	f.Add([]byte{}, []byte("garbage"))
	f.Fuzz(func(t *testing.T, lower, upper []byte) {
		img, err := BuildImage([]Layer{tarLayer("lower", lower), tarLayer("upper", upper)})
		if err != nil {
			return
		}
		checkTreeInvariants(t, img)
		var files []File
		img.Root.Walk(func(n *Node) bool {
			files = append(files, File{Path: n.Path()})
			return true
		})
		u := Join(img, &Profile{Files: files})
		if len(u.Outside) != 0 || u.Used.Files != img.Files || u.Used.Bytes != img.Bytes {
			t.Fatalf("a profile naming every path of the image leaves %d outside and uses %d of %d files", len(u.Outside), u.Used.Files, img.Files)
		}
	})
}
