package report

import (
	"archive/tar"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// TestBuildImageCorruptLayer: a layer tar that is not one, or is cut short,
// or whose header lies, is refused with one line naming the layer; never a
// panic, never a tree built from half a layer.
func TestBuildImageCorruptLayer(t *testing.T) {
	good := tarBytes(t, dir("etc"), file("etc/passwd", 700), file("etc/group", 300), symlink("bin", "usr/bin"))
	// corrupt changes the header at offset off, then fixes its checksum
	// unless the change is to the checksum.
	corrupt := func(off int, change func(h []byte)) []byte {
		b := append([]byte(nil), good...)
		h := b[off : off+512]
		change(h)
		if string(h[148:156]) == string(good[off+148:off+156]) {
			copy(h[148:156], "        ")
			sum := 0
			for _, c := range h {
				sum += int(c)
			}
			copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
		}
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"not a tar", []byte("this is not a tar archive, not even close; " + strings.Repeat("junk ", 200))},
		{"cut in a header", good[:300]},
		{"cut in a file's contents", good[:1024+100]},
		{"bad header checksum", corrupt(512, func(h []byte) { h[148] ^= 1 })},
		{"size beyond the end", corrupt(512, func(h []byte) { copy(h[124:136], "77777777777\x00") })},
		{"negative size", corrupt(512, func(h []byte) { copy(h[124:136], "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff") })},
		{"bad size digits", corrupt(512, func(h []byte) { copy(h[124:136], "0000000z700\x00") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, layers := range [][]Layer{
				{tarLayer("sha256:bad\x1b[2J\n", tc.data)},
				{layerOf(t, "lower", file("a", 1)), tarLayer("sha256:bad\x1b[2J\n", tc.data)},
			} {
				img, err := BuildImage(layers)
				if err == nil {
					t.Fatalf("BuildImage accepted a corrupt layer: %d files", img.Files)
				}
				msg := err.Error()
				t.Logf("%s", msg)
				want := "layer 1 of 1 (" + Printable("sha256:bad\x1b[2J\n") + ")"
				if len(layers) == 2 {
					want = strings.Replace(want, "1 of 1", "2 of 2", 1)
				}
				if !strings.HasPrefix(msg, want) {
					t.Errorf("the error does not name the layer as %s: %q", want, msg)
				}
				for _, r := range msg {
					if !unicode.IsPrint(r) {
						t.Errorf("the error holds %U, not one printable line: %q", r, msg)
						break
					}
				}
			}
		})
	}
}

// TestBuildImageHostileHeaders: header fields a layer can set to anything
// neither panic the reader nor make it loop: deep names, names that climb,
// link loops; hard links to nothing are refused in one line.
func TestBuildImageHostileHeaders(t *testing.T) {
	long := strings.Repeat("d/", 3000) + "f"
	img := buildOrFail(t, layerOf(t, "l",
		&tar.Header{Name: long, Typeflag: tar.TypeReg, Mode: 0o644},
		symlink("loop", "loop"),
		symlink("a/b", "../a/b/c"),
		&tar.Header{Name: "../../../etc/escape", Typeflag: tar.TypeReg, Mode: 0o644},
	))
	checkTreeInvariants(t, img)
	if img.Lookup("/"+long) == nil || img.Lookup("/etc/escape") == nil {
		t.Errorf("a deep name or one that climbs above the root is missing")
	}
	for _, p := range []string{"/loop", "/a/b", "/a/b/c/x"} {
		if _, err := img.Resolve(p); err == nil {
			t.Errorf("resolving %s, through a link loop, succeeded", p)
		}
	}
	for _, target := range []string{"h", "missing"} {
		_, err := BuildImage([]Layer{layerOf(t, "l", hardlink("h", target))})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("a hard link to %s: %v; want a one-line error", target, err)
		}
	}
}
