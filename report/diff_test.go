package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func diffProfile(name string, pid uint32, paths ...string) *Profile {
	p := &Profile{Version: ProfileVersion, Image: ImageRef{Name: name, ID: strings.Repeat(name[len(name)-1:], 64)},
		Started: time.Unix(int64(pid), 0), Ended: time.Unix(int64(pid)+5, 0)}
	for _, path := range paths {
		p.Files = append(p.Files, File{Path: path, Read: true, PID: pid, Comm: "sh" + strings.Repeat("x", int(pid%3))})
	}
	return p
}

func baseLayer(t *testing.T) Layer {
	return layerOf(t, "sha256:base",
		file("bin/sh", 1000),
		file("etc/a", 10),
		file("etc/b", 20),
		file("lib/libc.so", 5000),
		hardlink("lib/libc.so.6", "lib/libc.so"),
		file("var/bad\xff", 7),
	)
}

// Two runs of one image: only what they used tells them apart, never
// their pids, process names, times or open flags.
func TestDiffRunsOfOneImage(t *testing.T) {
	img := buildOrFail(t, baseLayer(t))
	a := Join(img, diffProfile("app:1", 10, "/bin/sh", "/etc/a", "/lib/libc.so.6", "/proc/self/status"))
	b := Join(img, diffProfile("app:1", 20000, "/bin/sh", "/etc/b", "/lib/libc.so", "/var/bad\xff"))
	d := Diff(a, b)
	if want := (Counts{Bytes: 10, Files: 1}); d.OnlyA != want {
		t.Errorf("OnlyA %+v, want %+v", d.OnlyA, want)
	}
	if want := (Counts{Bytes: 27, Files: 2}); d.OnlyB != want {
		t.Errorf("OnlyB %+v, want %+v", d.OnlyB, want)
	}
	if want := (Counts{Bytes: 6000, Files: 2}); d.Both != want {
		t.Errorf("Both %+v, want %+v (the hard-linked libc once)", d.Both, want)
	}
	// Each side's files add up to what its summary says was used.
	for _, c := range []struct{ used, only Counts }{{a.Used, d.OnlyA}, {b.Used, d.OnlyB}} {
		if c.used != (Counts{Bytes: c.only.Bytes + d.Both.Bytes, Files: c.only.Files + d.Both.Files}) {
			t.Errorf("used %+v is not only %+v + both %+v", c.used, c.only, d.Both)
		}
	}
	wantLayers := []LayerDiff{{ID: "sha256:base", InA: true, InB: true, OnlyA: d.OnlyA, OnlyB: d.OnlyB, Both: d.Both}}
	if !reflect.DeepEqual(d.Layers, wantLayers) {
		t.Errorf("layers %+v, want %+v", d.Layers, wantLayers)
	}
	if want := []DiffFile{{Path: "/etc/a", Bytes: 10}}; !reflect.DeepEqual(d.OnlyAFiles, want) {
		t.Errorf("only A files %+v", d.OnlyAFiles)
	}
	if want := []DiffFile{{Path: "/etc/b", Bytes: 20}, {Path: "/var/bad\xff", Bytes: 7}}; !reflect.DeepEqual(d.OnlyBFiles, want) {
		t.Errorf("only B files %+v", d.OnlyBFiles)
	}

	same := Diff(a, Join(img, diffProfile("app:1", 777, "/etc/a", "/bin/sh", "/lib/libc.so", "/etc/a")))
	if same.OnlyA != (Counts{}) || same.OnlyB != (Counts{}) || len(same.OnlyAFiles)+len(same.OnlyBFiles) != 0 {
		t.Errorf("runs that used the same files differ: %+v", same)
	}
}

// Two images sharing a base: layers match by id, the k-th of an id with
// the k-th (images repeat empty layers); a file used on both sides counts
// in B's layer, with B's size.
func TestDiffTwoImages(t *testing.T) {
	empty := func() Layer { return layerOf(t, "sha256:empty") }
	imgA := buildOrFail(t, baseLayer(t), empty(), layerOf(t, "sha256:app1", file("app/run", 100), file("etc/a", 11)))
	imgB := buildOrFail(t, baseLayer(t), empty(), empty(), layerOf(t, "sha256:app2", file("app/run", 300), file("app/new", 40)))
	a := Join(imgA, diffProfile("app:1", 1, "/app/run", "/etc/a", "/bin/sh"))
	b := Join(imgB, diffProfile("app:2", 2, "/app/run", "/app/new", "/bin/sh"))
	d := Diff(a, b)

	type row struct {
		id                 string
		inA, inB           bool
		onlyA, onlyB, both Counts
	}
	var got []row
	for _, l := range d.Layers {
		got = append(got, row{l.ID, l.InA, l.InB, l.OnlyA, l.OnlyB, l.Both})
	}
	want := []row{
		{"sha256:base", true, true, Counts{}, Counts{}, Counts{Bytes: 1000, Files: 1}},
		{"sha256:empty", true, true, Counts{}, Counts{}, Counts{}},
		{"sha256:app1", true, false, Counts{Bytes: 11, Files: 1}, Counts{}, Counts{}},
		{"sha256:empty", false, true, Counts{}, Counts{}, Counts{}},
		{"sha256:app2", false, true, Counts{}, Counts{Bytes: 40, Files: 1}, Counts{Bytes: 300, Files: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layers\n%+v\nwant\n%+v", got, want)
	}
	if d.Both != (Counts{Bytes: 1300, Files: 2}) || d.A.ImageName != "app:1" || d.B.ImageID != strings.Repeat("2", 64) || d.B.Used != b.Used {
		t.Errorf("diff %+v", d)
	}
	if d.OnlyAFiles[0].Layer != 2 || d.OnlyBFiles[0].Layer != 4 {
		t.Errorf("files' layers: %+v %+v", d.OnlyAFiles, d.OnlyBFiles)
	}
}

func TestDiffText(t *testing.T) {
	img := buildOrFail(t, layerOf(t, "sha256:0123456789abcdef", file("bin/sh", 1000), file("etc/a", 10), file("etc/new\nline", 2_000_000)))
	a := Join(img, diffProfile("app:1", 1, "/bin/sh", "/etc/a"))
	b := Join(img, diffProfile("app:1", 2, "/bin/sh", "/etc/new\nline"))
	d := Diff(a, b)
	d.A.Profiles, d.B.Profiles = []string{"a.json", "run 2.json"}, []string{"b.json"}
	var out bytes.Buffer
	if err := d.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := `A: app:1 (111111111111), 1.01 kB in 2 files used of 2 MB  (a.json, "run 2.json")
B: app:1 (111111111111), 2 MB in 2 files used of 2 MB  (b.json)
used only in A: 10 B in 1 file
used only in B: 2 MB in 1 file
used in both:   1 kB in 1 file
layers, bottom first (a file used in both counts in B's layer):
  #  LAYER         IN   ONLY A          ONLY B          BOTH            CREATED BY
  1  0123456789ab  A B  10 B in 1 file  2 MB in 1 file  1 kB in 1 file
files used only in A:
  10 B  /etc/a
files used only in B:
  2 MB  "/etc/new\nline"
`
	if out.String() != want {
		t.Errorf("text\n%s\nwant\n%s", out.String(), want)
	}
}

func TestDiffJSON(t *testing.T) {
	img := buildOrFail(t, layerOf(t, "sha256:l", file("bin/sh", 1000), file("var/bad\xff", 7)))
	d := Diff(Join(img, diffProfile("app:1", 1, "/bin/sh")), Join(img, diffProfile("app:1", 2, "/var/bad\xff")))
	var out bytes.Buffer
	if err := d.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"version":      `"` + Version + `"`,
		"only_a":       `{"bytes":1000,"files":1}`,
		"both":         `{"bytes":0,"files":0}`,
		"only_b_files": `[{"bytes":7,"layer":0,"path":"/var/bad` + "\ufffd" + `","path_base64":"L3Zhci9iYWT/"}]`,
		"layers":       `[{"both":{"bytes":0,"files":0},"created_by":"","id":"sha256:l","in_a":true,"in_b":true,"only_a":{"bytes":1000,"files":1},"only_b":{"bytes":7,"files":1}}]`,
	} {
		value, _ := json.Marshal(got[key])
		if string(value) != want {
			t.Errorf("%s: %s, want %s", key, value, want)
		}
	}
	side, _ := json.Marshal(got["a"])
	if want := `{"image":{"bytes":1007,"files":2},"image_id":"` + strings.Repeat("1", 64) + `","image_name":"app:1","profiles":[],"used":{"bytes":1000,"files":1}}`; string(side) != want {
		t.Errorf("a: %s, want %s", side, want)
	}
}
